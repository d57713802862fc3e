"""``elsinore dns``: examples in every --help, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
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
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 4  # click usage: 4
