"""``elsinore dkim keygen``: bounded key sizes, no silent overwrite, DNS names only, and a
record file that a zone file takes as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from auth_testbed import DOMAIN, MESSAGE
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dns_testbed import ServerThread, castle_text

from stack.auth import dkim, keys, publish
from stack.auth.errors import KeyNameError
from stack.auth.lookup import resolver_lookup, txt_strings
from stack.cli import cli, run
from stack.dns.primary import Primary
from stack.dns.zones import ZoneDirectory

pytestmark = pytest.mark.timeout(60)


def keygen(prefix: Path, *options: str, domain: str = DOMAIN, selector: str = "s1") -> int:
    argv = ["dkim", "keygen", "--domain", domain, "--selector", selector, "--out", str(prefix)]
    return run(cli(), [*argv, *options])


@pytest.mark.timeout(10)
@pytest.mark.parametrize("bits", ["100000000", "4097", "1023", "0"])
def test_a_key_size_out_of_bounds_is_one_line_at_once(
    bits: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keygen(tmp_path / "s1", "--bits", bits) == 1
    assert capsys.readouterr().err == (
        f"elsinore: error: RSA keys have 1024 to 4096 bits, not {bits}\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_1024_bit_key_is_written_with_rfc_8301s_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keygen(tmp_path / "s1", "--bits", "1024") == 0
    err = capsys.readouterr().err
    assert "warning" in err and "RFC 8301" in err and "at least 2048 bits" in err
    pem = serialization.load_pem_private_key((tmp_path / "s1.key").read_bytes(), None)
    assert isinstance(pem, rsa.RSAPrivateKey)
    assert pem.key_size == 1024


def test_an_existing_key_is_replaced_only_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "s1.key"
    old.write_bytes(b"the key that signs today's mail\n")
    old.chmod(0o644)
    assert keygen(tmp_path / "s1", "--algorithm", "ed25519") == 1
    assert capsys.readouterr().err == (
        f"elsinore: error: {old}: exists already (--force replaces it)\n"
    )
    assert old.read_bytes() == b"the key that signs today's mail\n"
    assert not (tmp_path / "s1.txt").exists()
    assert keygen(tmp_path / "s1", "--algorithm", "ed25519", "--force") == 0
    assert keys.load(old).algorithm == "ed25519"
    assert oct(old.stat().st_mode & 0o777) == "0o600"


def test_an_existing_record_file_is_not_overwritten_either(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "s1.txt").write_text("notes\n")
    assert keygen(tmp_path / "s1", "--algorithm", "ed25519") == 1
    assert "s1.txt: exists already" in capsys.readouterr().err
    assert (tmp_path / "s1.txt").read_text() == "notes\n"
    assert not (tmp_path / "s1.key").exists()


@pytest.mark.parametrize(
    ("domain", "selector", "reason"),
    [
        ("castle test", "s1", "label 'castle test' is not letters, digits and inner hyphens"),
        ("-castle.test", "s1", "label '-castle' is not"),
        ("castle..test", "s1", "not a DNS name"),
        ("castle_x.test", "s1", "label 'castle_x' is not"),
        ("test", "s1", "a signing domain has at least two labels"),
        (DOMAIN, "s 1", "selector 's 1'"),
        (DOMAIN, "s1-", "label 's1-' is not"),
        (DOMAIN, "x" * 64, "not a DNS name"),
        (DOMAIN, ".".join(["x" * 60] * 4), "longer than a DNS name's 255 octets"),
    ],
)
def test_a_domain_or_selector_that_is_not_a_dns_name_is_refused(
    domain: str, selector: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keygen(tmp_path / "s1", "--algorithm", "ed25519", domain=domain, selector=selector) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("elsinore: error: ") and reason in line
    assert list(tmp_path.iterdir()) == []


def test_a_selector_may_hold_dots(tmp_path: Path) -> None:
    # RFC 6376 §3.1: selector = sub-domain *( "." sub-domain )
    assert keygen(tmp_path / "s1", "--algorithm", "ed25519", selector="2026.jan") == 0
    assert (tmp_path / "s1.txt").read_text().startswith(f"2026.jan._domainkey.{DOMAIN}.\tIN\tTXT")


def test_the_record_file_pastes_into_a_zone_that_serves_the_whole_key(
    servers: ServerThread, tmp_path: Path
) -> None:
    assert keygen(tmp_path / "s1") == 0
    pasted = (tmp_path / "s1.txt").read_text(encoding="ascii")
    strings = [part for index, part in enumerate(pasted.split('"')) if index % 2]
    assert len(strings) == 2 and all(len(string) <= 255 for string in strings)
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / f"{DOMAIN}.zone").write_text(castle_text() + pasted)  # what `dns serve` reads
    server = servers.serve(Primary(ZoneDirectory(zones).load()).respond)
    key = keys.load(tmp_path / "s1.key")
    with resolver_lookup(server) as lookup:
        assert txt_strings(lookup, f"s1._domainkey.{DOMAIN}") == [key.record().encode()]
        (result,) = dkim.verify_all(dkim.sign(MESSAGE, DOMAIN, "s1", key), lookup)
    assert result.passed


def test_publish_reads_our_record_file_opendkims_and_bare_text() -> None:
    opendkim = 's1._domainkey\tIN\tTXT\t( "v=DKIM1; h=sha256; k=rsa; "\n\t  "p=MIIB" )  ; DKIM'
    ours = publish.zone_line(publish.selector_name("s1", DOMAIN), "v=DKIM1; k=rsa; p=" + "A" * 400)
    assert publish.read_record(opendkim, "s1", DOMAIN) == "v=DKIM1; h=sha256; k=rsa; p=MIIB"
    assert publish.read_record(ours, "s1", DOMAIN) == "v=DKIM1; k=rsa; p=" + "A" * 400
    assert publish.read_record("v=DKIM1; p=x\n", "s1", DOMAIN) == "v=DKIM1; p=x"
    with pytest.raises(KeyNameError, match=r"expected one TXT record for s2\._domainkey"):
        publish.read_record(ours, "s2", DOMAIN)
