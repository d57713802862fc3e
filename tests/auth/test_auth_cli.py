"""``elsinore dkim``, ``spf`` and ``dmarc``: the whole key life cycle by hand, one line per
result, exit codes scripts can trust, one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from auth_testbed import DOMAIN, MESSAGE, serve_castle, signing_key, tsig_key
from dns_testbed import KEY_LINE, ServerThread

from stack.auth import publish
from stack.cli import cli, run
from stack.mime import parse

pytestmark = pytest.mark.timeout(60)

COMMANDS = [
    ["dkim", "keygen"],
    ["dkim", "publish"],
    ["dkim", "sign"],
    ["dkim", "verify"],
    ["spf", "check"],
    ["dmarc", "check"],
    ["arc", "seal"],
    ["arc", "verify"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(cli(), [*command, "--help"]) == 0
    assert "Example:" in capsys.readouterr().out


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_keygen_publish_sign_verify(
    algorithm: str,
    servers: ServerThread,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    server = str(serve_castle(servers))
    prefix = tmp_path / "s1"
    base = ["--domain", DOMAIN, "--selector", "s1"]
    assert (
        run(cli(), ["dkim", "keygen", *base, "--algorithm", algorithm, "--out", str(prefix)]) == 0
    )
    assert (
        (tmp_path / "s1.txt")
        .read_text()
        .startswith(f's1._domainkey.{DOMAIN}.\tIN\tTXT\t( "v=DKIM1; k={algorithm}; p=')
    )
    assert oct((tmp_path / "s1.key").stat().st_mode & 0o777) == "0o600"
    record, keys = str(tmp_path / "s1.txt"), tmp_path / "dns.keys"
    keys.write_text(KEY_LINE + "\n")
    publish = ["dkim", "publish", "--server", server, "--zone", DOMAIN, *base]
    assert run(cli(), [*publish, "--record", record, "--tsig", f"@{keys}"]) == 0
    message = tmp_path / "m.eml"
    message.write_bytes(MESSAGE)
    capsysbinary.readouterr()
    assert run(cli(), ["dkim", "sign", *base, "--key", str(tmp_path / "s1.key"), str(message)]) == 0
    signed = capsysbinary.readouterr().out
    assert signed.startswith(b"DKIM-Signature: ") and signed.endswith(MESSAGE)
    message.write_bytes(signed)
    assert run(cli(), ["dkim", "verify", "--server", server, str(message)]) == 0
    (line,) = capsysbinary.readouterr().out.decode().splitlines()
    assert line.startswith(f"pass d={DOMAIN} s=s1 a=")
    message.write_bytes(signed.replace(b"remembrance", b"forgetting"))
    assert run(cli(), ["dkim", "verify", "--server", server, "--json", str(message)]) == 1
    assert json.loads(capsysbinary.readouterr().out)["result"] == "fail"


def test_verify_without_a_signature_exits_one(
    servers: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(MESSAGE)
    assert run(cli(), ["dkim", "verify", "--server", str(serve_castle(servers)), str(message)]) == 1
    assert "no DKIM-Signature" in capsys.readouterr().err


def test_signing_with_a_missing_key_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["dkim", "sign", "--domain", DOMAIN, "--selector", "s", "--key", str(tmp_path / "no")]
    assert run(cli(), [*argv, str(tmp_path / "no")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("elsinore: error:") or "Error" in err
    assert "Traceback" not in err


def test_spf_check_prints_the_result_and_received_spf(
    servers: ServerThread, capsys: pytest.CaptureFixture[str]
) -> None:
    server = str(serve_castle(servers))
    argv = ["spf", "check", "--sender", f"ophelia@{DOMAIN}", "--helo", f"mx.{DOMAIN}"]
    argv += ["--server", server, "--receiver", "mx.castle.test"]
    assert run(cli(), [*argv, "--ip", "192.0.2.99"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fail")
    assert out[1].startswith("Received-SPF: fail (mx.castle.test: domain of ophelia@castle.test")


def test_spf_check_rejects_a_bad_address_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["spf", "check", "--ip", "not-an-ip", "--sender", "a@b.test", "--helo", "h.test"]
    assert run(cli(), [*argv, "--server", "127.0.0.1:9"]) == 1
    assert capsys.readouterr().err.strip() == (
        "elsinore: error: bad client address 'not-an-ip': expected an IPv4 or IPv6 address"
    )


def test_arc_seal_then_verify_through_our_dns(
    servers: ServerThread, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    server = serve_castle(servers)
    key = signing_key("rsa")
    publish.publish(server, DOMAIN, "arc", DOMAIN, key.record(), tsig_key())
    (tmp_path / "arc.key").write_bytes(key.pem)
    stamped = tmp_path / "stamped.eml"
    stamped.write_bytes(b"Authentication-Results: relay.castle.test; arc=none\r\n" + MESSAGE)
    seal = ["arc", "seal", "--domain", DOMAIN, "--selector", "arc"]
    seal += ["--key", str(tmp_path / "arc.key"), "--authserv-id", "relay.castle.test"]
    assert run(cli(), [*seal, str(stamped)]) == 0
    sealed = tmp_path / "sealed.eml"
    sealed.write_bytes(capsysbinary.readouterr().out)
    assert run(cli(), ["arc", "verify", "--server", str(server), str(sealed)]) == 0
    assert capsysbinary.readouterr().out.startswith(b"pass sets=1")
    sealed.write_bytes(sealed.read_bytes().replace(b"remembrance", b"forgetting"))
    assert run(cli(), ["arc", "verify", "--server", str(server), str(sealed)]) == 1


INJECTED = "a@castle.test\r\nX-Injected: yes"


def _fields_printed(out: bytes) -> list[str]:
    """The names of the fields in what a check printed after its one-line result."""
    _result, _, field = out.partition(b"\n")
    return [f.name for f in parse(field).fields if f.is_field]


@pytest.mark.parametrize("option", ["--sender", "--helo"])
def test_spf_check_keeps_a_hostile_identity_inside_received_spf(
    option: str, servers: ServerThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    identities = {"--sender": f"ophelia@{DOMAIN}", "--helo": f"mx.{DOMAIN}", option: INJECTED}
    argv = ["spf", "check", "--ip", "192.0.2.99", "--server", str(serve_castle(servers))]
    run(cli(), [*argv, *(word for pair in identities.items() for word in pair)])
    out = capsysbinary.readouterr().out
    assert _fields_printed(out) == ["Received-SPF"], out
    assert rb"a@castle.test\\x0d\\x0aX-Injected: yes" in out  # \\ is one \ when quoted


def test_spf_check_from_the_shell_writes_one_field(servers: ServerThread) -> None:
    argv = ["elsinore", "spf", "check", "--ip", "192.0.2.99", "--sender", INJECTED]
    argv += ["--helo", f"mx.{DOMAIN}", "--server", str(serve_castle(servers))]
    proc = subprocess.run(argv, capture_output=True, check=False, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert _fields_printed(proc.stdout) == ["Received-SPF"], proc.stdout


@pytest.mark.parametrize("option", ["--sender", "--helo"])
def test_dmarc_check_keeps_a_hostile_identity_inside_authentication_results(
    option: str,
    servers: ServerThread,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(MESSAGE)
    identities = {"--sender": f"ophelia@{DOMAIN}", "--helo": f"mx.{DOMAIN}", option: INJECTED}
    argv = ["dmarc", "check", "--ip", "192.0.2.99", "--server", str(serve_castle(servers))]
    argv += [word for pair in identities.items() for word in pair]
    run(cli(), [*argv, str(message)])
    out = capsysbinary.readouterr().out
    assert _fields_printed(out) == ["Authentication-Results"], out


@pytest.mark.parametrize(
    ("command", "option"),
    [(["spf", "check"], "--receiver"), (["dmarc", "check"], "--authserv-id")],
)
def test_a_configured_name_with_a_line_break_is_one_line_error(
    command: list[str],
    option: str,
    servers: ServerThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(MESSAGE)
    argv = [*command, "--ip", "192.0.2.99", "--sender", f"ophelia@{DOMAIN}"]
    argv += ["--helo", f"mx.{DOMAIN}", "--server", str(serve_castle(servers))]
    argv += [option, "mx.castle.test\r\nX-Injected: yes"]
    assert run(cli(), [*argv, *([str(message)] if command[0] == "dmarc" else [])]) != 0
    captured = capsys.readouterr()
    assert "X-Injected" not in captured.out
    (line,) = captured.err.splitlines()
    assert line.startswith(f"elsinore: error: {option[2:]}: CR (U+000D) at character 14;")
