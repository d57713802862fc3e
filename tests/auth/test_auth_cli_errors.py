"""Errors a user can act on, from the authentication commands: one short line on stderr and
a non-zero exit, however large or empty the input, and a DMARC check that cannot be made
says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from auth_testbed import DOMAIN, MESSAGE, signing_key
from dns_testbed import KEY_LINE
from hypothesis import given
from hypothesis import strategies as st

from harness.strategies.hostile import hostile_text
from stack.cli import cli, run
from stack.errors import excerpt

pytestmark = pytest.mark.timeout(60)

#: No DNS server is needed: each command refuses the input before it asks one.
NO_SERVER = ["--server", "127.0.0.1:9"]
LONG_LINE = b"y" * 5_000_000
HOSTILE = b"From: ophelia@castle.test\r\n" + LONG_LINE + b"\r\n\r\nbody\r\n"


@pytest.fixture
def commands(tmp_path: Path) -> dict[str, list[str]]:
    """Each command that reads a message, its options, up to the message argument."""
    key = tmp_path / "rsa.key"
    key.write_bytes(signing_key("rsa").pem)
    signer = ["--domain", DOMAIN, "--selector", "s1", "--key", str(key)]
    return {
        "dkim sign": ["dkim", "sign", *signer],
        "dkim verify": ["dkim", "verify", *NO_SERVER],
        "arc seal": ["arc", "seal", *signer, "--authserv-id", "relay.castle.test"],
        "arc verify": ["arc", "verify", *NO_SERVER],
    }


COMMANDS = ["dkim sign", "dkim verify", "arc seal", "arc verify"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_five_megabyte_header_line_is_quoted_in_a_short_excerpt(
    command: str,
    commands: dict[str, list[str]],
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(HOSTILE)
    assert run(cli(), [*commands[command], str(message)]) == 1
    out, err = capsysbinary.readouterr()
    assert out == b""
    assert err == (
        b"elsinore: error: byte 27: line is not a field: 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        b"yyyyyyyyyyyyyyyyyyyyyy'... (5,000,000 bytes)\n"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_an_empty_message_is_an_error_at_byte_0(
    command: str,
    commands: dict[str, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"")
    assert run(cli(), [*commands[command], str(message)]) == 1
    assert capsys.readouterr() == ("", "elsinore: error: byte 0: empty message\n")


def test_a_header_that_starts_folded_is_an_error_too(
    commands: dict[str, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b" folded\r\n" + MESSAGE)
    assert run(cli(), [*commands["dkim sign"], str(message)]) == 1
    assert capsys.readouterr().err == ("elsinore: error: byte 0: header starts folded: ' folded'\n")


FROM = b"From: Ophelia <ophelia@castle.test>\r\n"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (MESSAGE.replace(FROM, b""), "byte 0: no From field (RFC 6376 §5.4: From must be signed)"),
        (
            FROM + MESSAGE,
            f"byte {len(FROM)}: a second From field (RFC 5322 §3.6: a message has exactly one)",
        ),
    ],
    ids=["no-from", "two-from"],
)
def test_dkim_sign_refuses_a_message_without_exactly_one_from(
    message: bytes,
    error: str,
    commands: dict[str, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(message)
    assert run(cli(), [*commands["dkim sign"], str(path)]) == 1
    assert capsys.readouterr() == ("", f"elsinore: error: {error}\n")


def test_dkim_publish_refuses_a_record_that_is_not_ascii(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "s1.txt"
    record.write_text("v=DKIM1; k=ed25519; p=é\n", encoding="utf-8")
    argv = ["dkim", "publish", *NO_SERVER, "--zone", DOMAIN, "--domain", DOMAIN]
    argv += ["--selector", "s1", "--record", str(record), "--tsig", KEY_LINE]
    assert run(cli(), argv) == 1
    assert capsys.readouterr() == (
        "",
        "elsinore: error: TXT record for s1._domainkey.castle.test.: character 22 is not ASCII"
        " (a DKIM key record is ASCII, RFC 6376 §3.2): 'v=DKIM1; k=ed25519; p=é'\n",
    )


@pytest.mark.parametrize("as_json", [False, True])
def test_dmarc_check_without_a_from_author_exits_2_and_says_why(
    as_json: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(MESSAGE.replace(b"From: Ophelia <ophelia@castle.test>\r\n", b""))
    argv = ["dmarc", "check", "--ip", "127.0.0.1", "--helo", "mx.castle.test", *NO_SERVER]
    assert run(cli(), [*argv, *(["--json"] if as_json else []), str(message)]) == 2
    out, err = capsys.readouterr()
    assert err == (
        "elsinore: error: not exactly one From author: DMARC cannot evaluate the message"
        " (RFC 7489 §6.6.1)\n"
    )
    if as_json:
        assert json.loads(out)["result"] == "permerror"
    else:
        assert out.startswith("permerror from=- disposition=none")


@pytest.mark.parametrize(
    ("data", "quoted"),
    [
        (b"short", "'short'"),
        (b"a\r\nb\x00\xff", "'a\\r\\nb\\x00\\xff'"),
        ("é\t", "'é\\t'"),
        (b"z" * 61, f"'{'z' * 60}'... (61 bytes)"),
        ("z" * 1000, f"'{'z' * 60}'... (1,000 characters)"),
    ],
)
def test_an_excerpt_is_short_escaped_and_says_what_was_cut(data: bytes | str, quoted: str) -> None:
    assert excerpt(data) == quoted


@given(hostile_text(max_pieces=40), st.booleans())
def test_an_excerpt_of_hostile_text_stays_on_one_short_line(text: str, as_bytes: bool) -> None:
    data = text.encode("utf-8", "surrogateescape") if as_bytes else text
    quoted = excerpt(data)
    assert len(quoted.splitlines()) == 1 and "\0" not in quoted
    assert len(quoted) <= 60 * len(r"\U0010ffff") + len("''... (1,000,000,000 characters)")
