"""`elsinore stack init`, `up` and `status`: a domain's directory, its processes, their state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dns.rdatatype
import dns.reversename
import pytest
from click.testing import CliRunner
from smtp_peers import loopback_slash24

from harness.cli import cli
from stack.cli import run
from stack.config import SERVICES, ConfigError, load
from stack.dns.zones import ZoneDirectory
from stack.relay.aliases import AliasMap
from stack.services.init import InitError, plan

#: Unprivileged ports unless the tests run as root (as CI does).
HIGH = [] if os.geteuid() == 0 else ["--high-ports"]


def _network(tmp_path: Path) -> str:
    return loopback_slash24(str(tmp_path)) + "0/24"


def _init(tmp_path: Path, *extra: str) -> Path:
    directory = tmp_path / "castle"
    result = CliRunner().invoke(
        cli(),
        [
            "stack",
            "init",
            str(directory),
            "--domain",
            "castle.test",
            "--addresses",
            _network(tmp_path),
            "--postmaster",
            "admin@bigmail.test",
            *HIGH,
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return directory


def test_init_gives_each_service_its_own_address_and_standard_port(tmp_path: Path) -> None:
    config = load(_init(tmp_path))
    hosts = {name: {e.host for e in config.service(name).endpoints()} for name in SERVICES}
    assert all(len(addresses) == 1 for addresses in hosts.values())
    assert len({next(iter(a)) for a in hosts.values()}) == len(SERVICES)
    if not HIGH:
        ports = {
            name: sorted(e.port for e in config.service(name).endpoints()) for name in SERVICES
        }
        assert ports["dns"] == ports["resolver"] == [53]
        assert ports["submission"] == [465, 587]
        assert ports["verifier"] == [25]


def test_init_zone_has_mx_spf_dmarc_and_forward_confirmed_ptr(tmp_path: Path) -> None:
    directory = _init(tmp_path)
    config = load(directory)
    zones = ZoneDirectory(directory / "zones").load()
    castle = zones.find(dns.name.from_text("castle.test"))
    assert castle is not None
    mx = castle.find_rdataset("@", "MX")
    [exchange] = [str(r.exchange) for r in mx]
    mx_address = str(castle.find_rdataset(exchange.split(".")[0], "A")[0])
    assert mx_address == config.service("verifier").listen[0].host
    spf = [b"".join(r.strings) for r in castle.find_rdataset("@", "TXT")]
    relay = config.service("relay").listen[0].host
    assert spf == [f"v=spf1 ip4:{relay} -all".encode()]
    dmarc = b"".join(castle.find_rdataset("_dmarc", "TXT")[0].strings)
    assert dmarc.startswith(b"v=DMARC1; p=reject")
    # Every address points back at a name that points at it (bigmail demands it).
    for name in SERVICES:
        address = config.service(name).endpoints()[0].host
        pointer = dns.reversename.from_address(address)
        zone = zones.find(pointer)
        assert zone is not None, address
        [target] = zone.find_rdataset(pointer, dns.rdatatype.PTR)
        host = target.target.relativize(dns.name.from_text("castle.test"))
        assert str(castle.find_rdataset(host, "A")[0]) == address


def test_init_keeps_secrets_private_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _init(tmp_path)
    for secret in (
        "keys/tsig.keys",
        "keys/srs.secrets",
        "keys/dkim-rsa.key",
        "keys/dkim-ed25519.key",
        "tls/ca.key",
        "tls/verifier.key",
    ):
        assert (directory / secret).stat().st_mode & 0o077 == 0, secret
    assert run(cli(), ["stack", "init", str(directory), "--domain", "castle.test"]) == 1
    error = capsys.readouterr().err
    assert "stack.toml: exists already; not overwritten" in error
    assert error.count("\n") == 1


@pytest.mark.parametrize(
    ("domain", "network", "reason"),
    [
        ("castle", "127.0.10.0/24", "at least two labels"),
        ("castle.test", "127.0.10.0/30", "at least 7 host addresses"),
        ("castle.test", "not-a-network", "does not appear to be"),
    ],
)
def test_init_refuses_what_cannot_work(domain: str, network: str, reason: str) -> None:
    with pytest.raises(InitError, match=reason):
        plan(domain, network)


def test_a_misspelt_setting_is_refused_naming_file_and_key(tmp_path: Path) -> None:
    directory = _init(tmp_path)
    path = directory / "stack.toml"
    path.write_text(path.read_text().replace("[relay]\n", '[relay]\nsmarthots = "x:25"\n'))
    with pytest.raises(ConfigError, match=r"stack.toml: relay.smarthots: unknown setting"):
        load(directory)


def test_a_value_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    directory = _init(tmp_path)
    path = directory / "stack.toml"
    path.write_text(path.read_text().replace('forward = "', "forward = 25 # ", 1))
    with pytest.raises(ConfigError, match=r"submission.forward: must be a string"):
        load(directory)


def _status(directory: Path) -> dict[str, dict[str, object]]:
    result = CliRunner().invoke(cli(), ["stack", "status", str(directory), "--json"])
    status = json.loads(result.output)
    assert set(status) == {"services"}
    return status["services"]  # type: ignore[no-any-return]


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.mark.parametrize("mode", [[], ["--one-process"]], ids=["processes", "one-process"])
def test_up_starts_every_service_and_sigterm_stops_them(tmp_path: Path, mode: list[str]) -> None:
    directory = _init(tmp_path)
    config = load(directory)
    before = _status(directory)
    assert {name: entry["state"] for name, entry in before.items()} == dict.fromkeys(
        SERVICES, "down"
    )
    assert before["submission"]["listen"] == [
        str(e) for e in config.service("submission").endpoints()
    ]
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "stack", "stack", "up", str(directory), *mode],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(
            lambda: all(e["state"] == "up" for e in _status(directory).values()),
            60,
            "every service",
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert {name: e["state"] for name, e in _status(directory).items()} == dict.fromkeys(
        SERVICES, "down"
    )
    text = (tmp_path / "up.log").read_text()
    for name in SERVICES:
        assert f"{name}: stopped" in text


def test_user_add_writes_where_stack_toml_keeps_the_users(tmp_path: Path) -> None:
    directory = _init(tmp_path)
    path = directory / "stack.toml"
    path.write_text(
        path.read_text().replace(
            'domain = "castle.test"', 'domain = "castle.test"\nusers = "people"'
        )
    )
    (directory / "people").mkdir()
    assert (
        run(cli(), ["user", "add", str(directory), "alice", "--target", "alice@bigmail.test"]) == 0
    )
    aliases = AliasMap.load(directory / "people", "castle.test", postmaster="admin@bigmail.test")
    record = aliases.lookup("alice")
    assert record is not None and record.targets == ("alice@bigmail.test",)
