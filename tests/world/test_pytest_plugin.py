"""The pytest plugin, as another project uses it: test files run by pytest's own pytester.

Each run loads the plugin with ``-p harness.pytest_plugin`` and blocks the ``elsinore``
entry point's name, so that the runs hold whether or not the entry point is installed (a
plugin module registered twice, under two names, is an error).  The one run with a whole
world goes in a subprocess, on 127.91.0.0/16 (other tests of tests/world use 127.20-219 for
the providers' tiny worlds, 127.100+ and 127.150+ for the loop's); the others start no world
and only bind ports the kernel picks, or probe 127.91-92 and one of the run-picked /16s.
"""

from __future__ import annotations

import shlex
import shutil
import socket
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import harness.strategies
from harness.pytest_plugin import (
    AUTO_OCTETS,
    NETWORK_VARIABLE,
    chosen_network,
    configured_network,
    strategies,
)
from harness.world.net import AddressPlan, choose_ports
from harness.world.sync import network_in_use

pytest_plugins = ["pytester"]

LOAD = ("-p", "no:elsinore", "-p", "harness.pytest_plugin", "-p", "no:randomly")
#: In this process the plugin is imported before the inner run asks for it: too late for
#: assertion rewriting, which it does not need.
IN_PROCESS = (*LOAD, "-W", "ignore::pytest.PytestAssertRewriteWarning")
NETWORK = "127.91.0.0/16"


@pytest.fixture(autouse=True)
def _inner_runs_start_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    # The inner runs are not xdist workers, whatever this run is.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(NETWORK_VARIABLE, raising=False)


SINK_TESTS = r"""
import smtplib

import pytest

# A line that starts with a dot is sent as ".." (RFC 5321 4.5.2); the sink keeps the dot once.
MESSAGE = (
    b"From: a@example.test\r\nTo: b@example.test\r\nSubject: dots\r\n\r\n"
    b".a line that starts with a dot\r\nand caf\xc3\xa9 in UTF-8\r\n"
)


def test_the_sink_records_envelope_and_bytes(smtp_sink):
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, local_hostname="client.example.test") as c:
        c.sendmail("a@example.test", ["b@example.test", "c@example.test"], MESSAGE)
    [received] = smtp_sink.wait_for(1)
    assert received.sender == "a@example.test"
    assert received.recipients == ["b@example.test", "c@example.test"]
    assert received.data == MESSAGE
    assert received.helo == "client.example.test"
    assert received.peer[0] == "127.0.0.1"
    assert smtp_sink.messages == [received]


def test_each_test_has_a_sink_of_its_own(smtp_sink):
    assert smtp_sink.messages == []
    with pytest.raises(TimeoutError, match="0 of 1 messages after 0.2 s"):
        smtp_sink.wait_for(1, timeout=0.2)
"""


def test_a_test_file_using_smtp_sink_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sink=SINK_TESTS)
    result = pytester.runpytest(*IN_PROCESS)
    result.assert_outcomes(passed=2)


def test_the_fixtures_are_listed_with_their_help(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest(*IN_PROCESS, "--fixtures")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*fixtures defined from harness.pytest_plugin*"])
    result.stdout.fnmatch_lines(
        ["mail_world [[]session scope] -- *", "*A running simulated internet*"], consecutive=True
    )
    result.stdout.fnmatch_lines(
        ["smtp_sink -- *", "*A recording SMTP server on 127.0.0.1*"], consecutive=True
    )


def test_a_network_outside_loopback_fails_in_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NETWORK_VARIABLE, "10.0.0.0/16")
    pytester.makepyfile(test_world="def test_world(mail_world):\n    pass\n")
    result = pytester.runpytest(*IN_PROCESS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*{NETWORK_VARIABLE}: a world needs a /16 of 127.0.0.0/8, not 10.0.0.0/16*"]
    )
    for noise in ("*Traceback*", "*During handling*", "*harness/*.py*"):
        result.stdout.no_fnmatch_line(noise)


def test_an_unknown_scope_is_refused_by_name(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nelsinore_world_scope = forever\n")
    pytester.makepyfile(test_world="def test_world(mail_world):\n    pass\n")
    result = pytester.runpytest(*IN_PROCESS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: elsinore_world_scope = 'forever': not one of session*"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


WORLD_TESTS = r"""
import email.utils
import smtplib

MESSAGE = (
    "From: hamlet@bigmail.test\r\nTo: horatio@outpost.test\r\n"
    "Subject: the readiness is all\r\n"
    f"Date: {email.utils.formatdate()}\r\nMessage-ID: <readiness@bigmail.test>\r\n"
    "\r\nIf it be now, 'tis not to come.\r\n"
).encode()


def test_bigmail_to_outpost_arrives_signed(mail_world):
    assert mail_world.network == "127.91.0.0/16"
    horatio = mail_world.horatio
    mail_world.send(mail_world.hamlet_bigmail, horatio.address, MESSAGE)
    [delivered] = mail_world.wait_for_mail(horatio)
    results = email.message_from_bytes(delivered).get_all("Authentication-Results", [])
    assert any("dkim=pass" in result for result in results), delivered.decode()
    assert delivered.endswith(MESSAGE.split(b"\r\n\r\n", 1)[1])


def test_a_client_of_our_own_logs_in_to_castle(mail_world):
    castle = mail_world.hamlet_castle
    submission = mail_world.endpoints["castle.submission"]
    with smtplib.SMTP(submission.host, submission.port, timeout=30) as client:
        client.starttls(context=mail_world.tls_context())
        assert client.login(castle.address, castle.password)[0] == 235
"""


@pytest.mark.xdist_group("world")  # beside the other worlds: two at once crowd two cores
def test_a_test_file_using_mail_world_sends_from_bigmail_to_outpost(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A whole world (about fifteen seconds): one run only, in a process of its own.
    monkeypatch.setenv(NETWORK_VARIABLE, NETWORK)
    pytester.makepyfile(test_world=WORLD_TESTS)
    result = pytester.runpytest_subprocess(*LOAD, "-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=2)


#: A network namespace whose loopback has 127.0.0.1 alone, as on macOS: the real condition
#: under which mail_world cannot run, made on this machine.
ONLY_127_0_0_1 = (
    "ip link set lo up && ip addr del 127.0.0.1/8 dev lo && ip addr add 127.0.0.1/32 dev lo"
)


def test_mail_world_skips_where_only_127_0_0_1_can_be_bound(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-n", "true"], check=False).returncode:
        pytest.skip("cannot make a network namespace (unshare -n needs root or CAP_SYS_ADMIN)")
    monkeypatch.setenv(NETWORK_VARIABLE, NETWORK)
    pytester.makepyfile(test_world="def test_world(mail_world):\n    pass\n")
    inner = shlex.join([sys.executable, "-m", "pytest", *LOAD, "-p", "no:cacheprovider", "-rs"])
    result = pytester.run(unshare, "-n", "sh", "-c", f"{ONLY_127_0_0_1} && exec {inner}")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*cannot bind 127.91.0.1 (Cannot assign requested address)*"])


# -- where a world lives --------------------------------------------------------------------


@given(run=st.text(max_size=40), workers=st.integers(1, 16))
def test_workers_of_one_run_never_share_a_network(run: str, workers: int) -> None:
    chosen = [chosen_network(run, worker, workers, lambda _: False) for worker in range(workers)]
    assert len(set(chosen)) == workers
    assert all(int(network.split(".")[1]) in AUTO_OCTETS for network in chosen)


@given(
    run=st.text(max_size=40),
    workers=st.integers(1, 8),
    taken=st.sets(st.sampled_from([f"127.{octet}.0.0/16" for octet in AUTO_OCTETS])),
)
def test_a_network_in_use_is_passed_over(run: str, workers: int, taken: set[str]) -> None:
    chosen: list[str] = []
    for worker in range(workers):
        try:
            chosen.append(chosen_network(run, worker, workers, taken.__contains__))
        except RuntimeError:
            continue  # every candidate of this worker taken: refused, not shared
    assert not set(chosen) & taken
    assert len(set(chosen)) == len(chosen)


def test_a_network_whose_root_dns_port_is_held_is_passed_over() -> None:
    first = chosen_network("a run", 0, 1, lambda _: False)
    root = AddressPlan(first).root
    assert not network_in_use(first)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind((root, choose_ports(root)[0].dns))
        assert network_in_use(first)
        assert chosen_network("a run", 0, 1, network_in_use) != first
    assert not network_in_use(first)


XDIST_TESTS = r"""
import os
from pathlib import Path

from harness.pytest_plugin import world_network


def test_note_the_network(request):
    network = world_network(request.config, lambda _: False)
    worker = os.environ["PYTEST_XDIST_WORKER"]
    (Path(os.environ["NOTES"]) / worker).write_text(network)
"""


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("127.91.0.0/16", {"gw0": "127.91.0.0/16", "gw1": "127.92.0.0/16"}),
        ("", None),
    ],
)
def test_xdist_workers_take_networks_of_their_own(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    configured: str,
    expected: dict[str, str] | None,
) -> None:
    notes = pytester.mkdir("notes")
    monkeypatch.setenv("NOTES", str(notes))
    if configured:
        monkeypatch.setenv(NETWORK_VARIABLE, configured)
    pytester.makepyfile(test_xdist=XDIST_TESTS)
    result = pytester.runpytest_subprocess(*LOAD, "-n", "2", "--dist", "each", timeout=120)
    result.assert_outcomes(passed=2)
    taken = {path.name: path.read_text() for path in notes.iterdir()}
    assert len(set(taken.values())) == 2, taken
    if expected is not None:
        assert taken == expected
    else:
        assert all(int(network.split(".")[1]) in AUTO_OCTETS for network in taken.values())


def test_a_configured_network_moves_by_the_worker_number() -> None:
    assert configured_network("127.91.0.0/16", 0) == "127.91.0.0/16"
    assert configured_network("127.91.0.0/16", 3) == "127.94.0.0/16"
    with pytest.raises(ValueError, match=r"no /16 of its own after 127\.254\.0\.0/16"):
        configured_network("127.254.0.0/16", 2)
    with pytest.raises(ValueError, match=r"a /16 of 127\.0\.0\.0/8, not 127\.91\.0\.0/24"):
        configured_network("127.91.0.0/24", 0)


def test_the_strategies_are_harness_strategies() -> None:
    assert strategies is harness.strategies
