"""``elsinore dns``: examples in every --help, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from dns_testbed import KEY_LINE, Hierarchy, ServerThread

from stack.cli import cli, run
from stack.dns.addresses import Endpoint
from stack.dns.keys import parse_keys

pytestmark = pytest.mark.timeout(30)

COMMANDS = ["serve", "resolver", "resolve", "reload", "update", "keygen"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(cli(), ["dns", command, "--help"]) == 0
    assert "Example:" in capsys.readouterr().out


def test_resolve_recursively_from_root_hints_prints_json(
    servers: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hierarchy = Hierarchy(servers)
    hints = tmp_path / "root.hints"
    hints.write_text(hierarchy.root_hints())
    argv = ["dns", "resolve", "www.castle.test", "A", "--root-hints", str(hints)]
    assert run(cli(), [*argv, "--port", str(hierarchy.port), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rcode"] == "NOERROR"
    assert [(r["type"], r["data"]) for r in printed["answer"]] == [
        ("CNAME", "mail.castle.test."),
        ("A", "127.0.0.25"),
    ]


def test_resolve_through_a_server_tells_nodata_apart(
    castle_server: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["dns", "resolve", "mail.castle.test", "MX", "--server", str(castle_server)]
    assert run(cli(), argv) == 0
    assert capsys.readouterr().out.startswith(";; mail.castle.test. MX: NODATA")


def test_update_command_publishes_a_record(
    castle_server: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "dns.keys"
    keys.write_text(KEY_LINE + "\n")
    add = 'sel._domainkey 300 TXT "v=DKIM1; p=abc"'  # master-file syntax: double quotes
    argv = ["dns", "update", "--server", str(castle_server), "--zone", "castle.test"]
    assert run(cli(), [*argv, "--key", f"@{keys}", "--add", add, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rcode"] == "NOERROR"
    argv = ["dns", "resolve", "sel._domainkey.castle.test", "TXT", "--server", str(castle_server)]
    assert run(cli(), argv) == 0
    assert '"v=DKIM1; p=abc"' in capsys.readouterr().out


def test_update_command_takes_the_seed_dns_key_form(
    castle_server: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    # The seed writes --dns-key as name:SHA256:secret; the primary holds the same key as
    # hmac-sha256, so the update verifies only if SHA256 is read as that HMAC.
    name, _, secret = KEY_LINE.split(":")
    argv = ["dns", "update", "--server", str(castle_server), "--zone", "castle.test"]
    add = 'seed._domainkey 300 TXT "v=DKIM1; p=seed"'
    assert run(cli(), [*argv, "--key", f"{name}:SHA256:{secret}", "--add", add, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rcode"] == "NOERROR"


def test_keygen_prints_a_usable_key_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cli(), ["dns", "keygen", "signer"]) == 0
    (key,) = parse_keys(capsys.readouterr().out).values()
    assert len(key.secret) == 32


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dns", "serve", "--zones", "{empty}"], "no zone files"),
        (["dns", "serve", "--zones", "{empty}", "--keys", "{missing}"], "No such file"),
        (["dns", "resolve", "castle.test", "--server", "localhost"], "expected an IP address"),
        (["dns", "resolve", "castle.test"], "give --server ADDR:PORT or --root-hints FILE"),
        (["dns", "reload", "--pid", "999999999"], "no process 999999999"),
    ],
)
def test_user_errors_end_in_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "zones"
    empty.mkdir()
    argv = [a.format(empty=empty, missing=tmp_path / "missing.keys") for a in argv]
    assert run(cli(), argv) != 0
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("add", "reason"),
    [
        ("garbage", "expected NAME TTL TYPE DATA"),
        ("sel 300 TXT", "expected NAME TTL TYPE DATA"),
        ("sel soon TXT hello", "field 2 (TTL) 'soon' is not a number of seconds"),
        ("sel 4294967296 TXT hello", "field 2 (TTL) '4294967296' is over 2147483647"),
        ("sel 300 NOSUCHTYPE hello", "field 3 (TYPE) 'NOSUCHTYPE'"),
        ("sel 300 A not-an-address", "field 4 (DATA)"),
    ],
)
def test_update_with_a_malformed_add_says_what_form_is_expected(
    add: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on the server given: a malformed record is refused before any packet.
    argv = ["dns", "update", "--server", "127.0.0.1:9", "--zone", "castle.test"]
    assert run(cli(), [*argv, "--key", KEY_LINE, "--add", add]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"elsinore: error: --add {add!r}: "), err
    assert reason in err
    assert err.count("\n") == 1


def test_update_with_a_malformed_delete_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["dns", "update", "--server", "127.0.0.1:9", "--zone", "castle.test"]
    assert run(cli(), [*argv, "--key", KEY_LINE, "--delete", "sel NOSUCHTYPE"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("elsinore: error: --delete 'sel NOSUCHTYPE': field 2 (TYPE)"), err


def test_a_zone_file_error_names_the_file_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zones = tmp_path / "zones"
    zones.mkdir()
    zone_file = zones / "castle.test.zone"
    too_long = "x" * 300  # a character-string holds at most 255 octets
    zone_file.write_text(
        "$TTL 300\n@ SOA ns admin 1 3600 600 86400 300\n@ NS ns\nns A 127.0.0.1\n"
        f'txt TXT "{too_long}"\n'
    )
    assert run(cli(), ["dns", "serve", "--zones", str(zones), "--listen", "127.0.0.1:0"]) == 1
    err = capsys.readouterr().err
    # dnspython counts the line after a record whose data it refuses (5 here, it says 6).
    where = re.escape(str(zone_file))
    assert re.fullmatch(rf"elsinore: error: {where}:[56]: string too long\n", err), err


def test_a_zone_file_error_without_a_line_still_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zones = tmp_path / "zones"
    zones.mkdir()
    zone_file = zones / "castle.test.zone"
    zone_file.write_text("$TTL 300\nns A 127.0.0.1\n")
    assert run(cli(), ["dns", "serve", "--zones", str(zones), "--listen", "127.0.0.1:0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"elsinore: error: {zone_file}: ")
    assert err.count(str(zone_file)) == 1


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM])
def test_serve_on_a_busy_port_names_the_address(
    kind: socket.SocketKind, zones_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        port = taken.getsockname()[1]
        argv = ["dns", "serve", "--zones", str(zones_dir), "--listen", f"127.0.0.1:{port}"]
        assert run(cli(), argv) == 1
    protocol = "udp" if kind == socket.SOCK_DGRAM else "tcp"
    assert capsys.readouterr().err == (
        f"elsinore: error: cannot listen on 127.0.0.1:{port}/{protocol}: address already in use\n"
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("command", ["serve", "resolver"])
def test_a_stopped_server_exits_0_and_removes_its_pid_file(
    command: str, signum: signal.Signals, zones_dir: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "dns.pid"
    argv = [sys.executable, "-m", "stack", "dns", command, "--listen", "127.0.0.1:0"]
    argv += ["--pid-file", str(pid_file)]
    argv += ["--zones", str(zones_dir)] if command == "serve" else ["--server", "127.0.0.1:9"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the pid file is written
        assert " on 127.0.0.1:" in line, line
        assert pid_file.read_text() == f"{process.pid}\n"
        process.send_signal(signum)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not pid_file.exists()
