"""Inputs a user writes: keys files, ADDR:PORT, root hints, zone directories."""

from __future__ import annotations

from pathlib import Path

import dns.name
import dns.tsig
import pytest
from dns_testbed import KEY_LINE

from stack.dns.addresses import Endpoint, parse_endpoint
from stack.dns.errors import AddressError, KeyFileError, ZoneFileError
from stack.dns.hints import format_root_hints, parse_root_hints
from stack.dns.keys import format_key, load_keys, parse_key, parse_keys, read_key_option
from stack.dns.zones import ZoneDirectory


def test_keys_file_in_the_seed_form_round_trips() -> None:
    keyring = parse_keys(f"# the signer's key\n\n{KEY_LINE}\n")
    (key,) = keyring.values()
    assert key.name == dns.name.from_text("signer.")
    assert key.algorithm == dns.tsig.HMAC_SHA256
    assert format_key(key) == KEY_LINE


#: The seed's ``--dns-key`` names the algorithm as ocaml-dns writes it (``SHA256``).
SEED_SECRET = "c2lnbmVyLXNlY3JldC1mb3ItdGhlLXRlc3RzLW9ubHktMzJieXRlcw=="


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("SHA1", dns.tsig.HMAC_SHA1),
        ("SHA224", dns.tsig.HMAC_SHA224),
        ("SHA256", dns.tsig.HMAC_SHA256),
        ("SHA384", dns.tsig.HMAC_SHA384),
        ("SHA512", dns.tsig.HMAC_SHA512),
        ("sha256", dns.tsig.HMAC_SHA256),
        ("Sha512", dns.tsig.HMAC_SHA512),
        ("HMAC-SHA256", dns.tsig.HMAC_SHA256),
        ("hmac-sha384.", dns.tsig.HMAC_SHA384),
    ],
)
def test_seed_dns_key_algorithm_names_are_read_as_their_hmac(
    algorithm: str, expected: dns.name.Name
) -> None:
    key = parse_key(f"personal._update.castle.test:{algorithm}:{SEED_SECRET}")
    assert key.name == dns.name.from_text("personal._update.castle.test.")
    assert key.algorithm == expected
    # Written back in RFC 8945's name, which the seed's form does not need to read.
    assert parse_key(format_key(key)) == key


def test_seed_dns_key_is_read_by_every_reader(tmp_path: Path) -> None:
    line = f"personal._update.castle.test:SHA256:{SEED_SECRET}"
    keys_file = tmp_path / "dns.keys"
    keys_file.write_text(f"{line}\n", encoding="utf-8")
    expected = parse_key(line)
    assert expected.algorithm == dns.tsig.HMAC_SHA256
    assert list(load_keys(keys_file).values()) == [expected]  # dns serve --keys
    assert read_key_option(line) == expected  # dns update --key, dkim publish --tsig
    assert read_key_option(f"@{keys_file}") == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("signer:hmac-sha256", "expected name:algorithm:secret"),
        ("signer:hmac-md5:c2VjcmV0", "unknown algorithm"),
        ("signer:MD5:c2VjcmV0", "unknown algorithm 'MD5'"),
        ("signer:SHA257:c2VjcmV0", "unknown algorithm 'SHA257'"),
        ("signer:hmac-sha256:not base64!", "keys:1"),
        ("signer:hmac-sha256:", "keys:1"),
        (f"{KEY_LINE}\n{KEY_LINE}", "keys:2: key signer. is defined twice"),
    ],
)
def test_bad_keys_files_name_the_line_and_the_fault(text: str, complaint: str) -> None:
    with pytest.raises(KeyFileError, match=complaint):
        parse_keys(text, "keys")


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("127.0.0.1:5353", Endpoint("127.0.0.1", 5353)),
        ("127.0.0.2", Endpoint("127.0.0.2", 53)),
        ("[::1]:5353", Endpoint("::1", 5353)),
        ("::1", Endpoint("::1", 53)),
    ],
)
def test_endpoints_parse_with_and_without_a_port(text: str, endpoint: Endpoint) -> None:
    assert parse_endpoint(text) == endpoint
    assert parse_endpoint(str(endpoint)) == endpoint


@pytest.mark.parametrize("text", ["localhost:53", "127.0.0.1:99999", "[::1", "127.0.0.1:x"])
def test_bad_endpoints_are_refused(text: str) -> None:
    with pytest.raises(AddressError):
        parse_endpoint(text)


def test_root_hints_round_trip_and_ignore_other_servers() -> None:
    hints = format_root_hints({"a.root.test.": "127.0.0.11", "b.root.test.": "127.0.0.12"})
    assert parse_root_hints(hints) == ["127.0.0.11", "127.0.0.12"]
    with pytest.raises(ZoneFileError, match="no root server addresses"):
        parse_root_hints(". 3600 IN NS a.root.test.\n")


def test_zone_directory_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ZoneFileError, match="no zone files"):
        ZoneDirectory(tmp_path).load()
    (tmp_path / "castle.test.zone").write_text("@ 300 IN A 127.0.0.1\n")
    with pytest.raises(ZoneFileError, match=r"castle\.test\.zone"):
        ZoneDirectory(tmp_path).load()


def test_root_zone_file_is_named_root_zone(tmp_path: Path) -> None:
    # A simulated internet's root server: `.zone` would be a hidden file, `.` no file at all.
    (tmp_path / "root.zone").write_text(
        "$ORIGIN .\n@ 3600 IN SOA ns.root. h.root. 1 3600 600 86400 300\n@ 3600 IN NS ns.root.\n"
        "castle.test. 3600 IN NS ns.castle.test.\n"
    )
    zones = ZoneDirectory(tmp_path).load()
    [zone] = list(zones)
    assert zone.origin == dns.name.root
    assert zones.find(dns.name.from_text("castle.test")) is zone
