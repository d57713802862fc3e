"""Every scenario of the simulated internet is a test, and `elsinore loop` is one command.

One world is started for the module (it takes seconds: a process per service of ours), on a
/16 of loopback of its own per xdist worker, and every shipped scenario runs in it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.world import scenarios
from harness.world.scenarios import ScenarioResult
from harness.world.sync import MailWorld

#: Each xdist worker its own /16, so that two worlds never share an address.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
NETWORK = f"127.{100 + _WORKER}.0.0/16"
CLI_NETWORK = f"127.{150 + _WORKER}.0.0/16"

pytestmark = pytest.mark.xdist_group("world")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailWorld]:
    running = MailWorld(tmp_path_factory.mktemp("world"), NETWORK)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def _explain(result: ScenarioResult) -> str:
    failed = [f"step {c.step}: {c.what}: {c.detail}" for c in result.checks if not c.passed]
    return "; ".join(failed) or (result.error or "no check ran")


@pytest.mark.parametrize("name", list(scenarios.builtin()))
def test_scenario(world: MailWorld, name: str) -> None:
    result = world.run(scenarios.run(world.world, scenarios.builtin()[name]))
    assert result.passed, _explain(result)
    assert all(check.passed for check in result.checks)


def test_a_scenario_that_expects_the_wrong_thing_fails(world: MailWorld, tmp_path: Path) -> None:
    # The checks can fail: a spoofed sender expected to be accepted is reported as failed.
    path = tmp_path / "wrong.toml"
    text = (Path(scenarios.__file__).parent / "scenarios" / "03-spoofed-sender.toml").read_text()
    path.write_text(text.replace('outcome = "refused"', 'outcome = "accepted"'))
    result = world.run(scenarios.run(world.world, scenarios.load(path)))
    assert not result.passed
    assert [c.what for c in result.checks if not c.passed] == ["inject: accepted"]


def test_the_confirmation_mail_is_not_marked_spam(world: MailWorld) -> None:
    # In the seed's own run, spamtacus marked Gmail's confirmation mail yes.
    result = world.run(scenarios.run(world.world, scenarios.builtin()["recap"]))
    [confirmation, _sent_as] = result.observed
    [filtered] = [hop for hop in confirmation.hops if hop.by == "spamfilter.castle.test"]
    [verdict] = [value for name, value in filtered.added if name == "X-Spamtacus"]
    assert verdict in {"no", "unknown"}


def _without_privileged_ports() -> list[str]:
    """A prefix that runs a command as this root, but unable to bind ports below 1024 (as any
    user is), when setpriv can; else nothing (not root: that is the case already)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return []
    drop = "-net_bind_service"
    return ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}"]


def test_loop_command_json_and_messages_at_every_hop(tmp_path: Path) -> None:
    # Run as a user without root runs it: the world says so in one line and moves to high
    # ports, one address per host still.
    out = tmp_path / "out"
    process = subprocess.run(
        [
            *_without_privileged_ports(),
            sys.executable,
            "-m",
            "harness",
            "loop",
            "recap",
            "missing-ptr",
            "--json",
            "--out",
            str(out),
            "--network",
            CLI_NETWORK,
        ],
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert process.returncode == 0, process.stderr.decode()[-2000:]
    document = json.loads(process.stdout)
    if os.geteuid() != 0 or _without_privileged_ports():
        assert document["ports"] == "high"
        [note] = [line for line in process.stderr.decode().splitlines() if "cannot bind" in line]
        assert note.startswith("loop: cannot bind ports 25 and 53")
    assert [s["name"] for s in document["scenarios"]] == ["recap", "missing-ptr"]
    assert all(s["passed"] for s in document["scenarios"])
    recap = document["scenarios"][0]
    assert set(recap) >= {"name", "passed", "hops", "checks"}
    outpost = recap["hops"][-1]
    assert [hop["by"] for hop in outpost["hops"]] == [
        "smtp.castle.test",
        "signer.castle.test",
        "relay.castle.test",
        "mx.outpost.test",
    ]
    written = sorted(p.name for p in (out / "recap").iterdir())
    assert any(name.endswith("-delivered-INBOX.eml") for name in written)
    # Each hop's file is the delivered message's tail: nothing re-serialised on the way.
    delivered = next((out / "recap").glob("step5-*-delivered-INBOX.eml")).read_bytes()
    for hop_file in (out / "recap").glob("step5-*-hop*.eml"):
        assert delivered.endswith(hop_file.read_bytes())
