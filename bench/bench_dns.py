"""pytest-benchmark: queries per second for a warm zone, our primary beside Knot DNS.

Both servers run as their own processes on loopback with the same zone file and are asked
the same queries by the same client: windows of UDP queries, every reply awaited.  Knot runs
with one UDP worker, like our single event loop.  The Python client is the same for both, so
against Knot it is part of what is measured: the ratio understates Knot's lead.  When
``knotd`` is not installed its benchmark is skipped with the reason and no ratio is printed.

    pytest bench/bench_dns.py -p no:xdist --benchmark-only -o python_files='bench_*.py' -s
"""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from stack.dns.example import example_zone_text

QUERIES = 2_000
WINDOW = 32
NAMES = ["mail.castle.test.", "castle.test.", "www.castle.test.", "nobody.castle.test."]
TYPES = ["A", "MX", "A", "A"]
#: Median queries per second by (server, workload), filled in for the ratio lines.
QPS: dict[tuple[str, str], float] = {}


def _warm_queries() -> list[bytes]:
    """Four questions over and over: what a zone sees from resolvers, and what we cache."""
    wires = []
    for index in range(QUERIES):
        name, rdtype = NAMES[index % len(NAMES)], TYPES[index % len(TYPES)]
        wires.append(dns.message.make_query(name, rdtype).to_wire())
    return wires


def _distinct_queries() -> list[bytes]:
    """A new name each time (NXDOMAIN): more than our reply cache holds, so every answer is
    worked out by the policy and rendered."""
    rng = random.Random(2308)
    names = [f"{rng.getrandbits(48):012x}.castle.test." for _ in range(QUERIES)]
    return [dns.message.make_query(name, "A").to_wire() for name in names]


WORKLOADS = {"warm": _warm_queries(), "distinct": _distinct_queries()}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ask_all(port: int, wires: list[bytes]) -> int:
    """Send every query in windows of WINDOW and wait for each window's replies."""
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        sock.connect(("127.0.0.1", port))
        for start in range(0, len(wires), WINDOW):
            window = wires[start : start + WINDOW]
            for wire in window:
                sock.send(wire)
            for _ in window:
                sock.recv(4096)
                answered += 1
    return answered


def _wait_until_answering(port: int, process: subprocess.Popen[bytes]) -> None:
    query = dns.message.make_query("castle.test.", "SOA").to_wire()
    deadline = time.monotonic() + 10
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            assert process.poll() is None, "the server exited"
            sock.sendto(query, ("127.0.0.1", port))
            try:
                sock.recv(4096)
                return
            except TimeoutError:
                continue
    raise AssertionError("the server never answered")


def _run(command: list[str], port: int) -> Iterator[int]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_answering(port, process)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("zones")
    (directory / "castle.test.zone").write_text(example_zone_text(), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def elsinore(zones: Path) -> Iterator[int]:
    port = _free_port()
    command = [sys.executable, "-m", "stack", "dns", "serve", "--zones", str(zones)]
    yield from _run([*command, "--listen", f"127.0.0.1:{port}"], port)


@pytest.fixture(scope="module")
def knot(zones: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    knotd = shutil.which("knotd") or (
        Path("/usr/sbin/knotd") if Path("/usr/sbin/knotd").exists() else None
    )
    if knotd is None:
        pytest.skip("knotd not installed (Debian: knot); no peer to compare with")
    port = _free_port()
    rundir = tmp_path_factory.mktemp("knot")
    config = rundir / "knot.conf"
    config.write_text(
        f"server:\n  listen: 127.0.0.1@{port}\n  rundir: {rundir}\n"
        "  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\n"
        f"database:\n  storage: {rundir}\n"
        f"template:\n  - id: default\n    storage: {zones}\n    zonefile-sync: -1\n"
        "zone:\n  - domain: castle.test\n    file: castle.test.zone\n"
        "log:\n  - target: stderr\n    any: warning\n",
        encoding="utf-8",
    )
    yield from _run([str(knotd), "-c", str(config)], port)


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_qps_elsinore(benchmark: BenchmarkFixture, elsinore: int, workload: str) -> None:
    _measure(benchmark, "elsinore", elsinore, workload)


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_qps_knot(benchmark: BenchmarkFixture, knot: int, workload: str) -> None:
    _measure(benchmark, "knot", knot, workload)


def _measure(benchmark: BenchmarkFixture, server: str, port: int, workload: str) -> None:
    benchmark.group = f"dns-qps-{workload}"
    wires = WORKLOADS[workload]
    answered = benchmark.pedantic(_ask_all, args=(port, wires), rounds=5, warmup_rounds=1)
    assert answered == QUERIES
    if benchmark.stats is not None:  # None under --benchmark-disable: one untimed round
        QPS[(server, workload)] = QUERIES / benchmark.stats.stats.median


@pytest.fixture(scope="module", autouse=True)
def print_ratio(request: pytest.FixtureRequest) -> Iterator[None]:
    """After both benchmarks: the line STYLE.md asks for, ours against the peer's."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    lines = []
    for workload in WORKLOADS:
        ours, peer = QPS.get(("elsinore", workload)), QPS.get(("knot", workload))
        if ours is None:  # --benchmark-disable, or our benchmark failed
            lines.append(f"dns qps {workload}: no ratio (elsinore was not timed)")
            continue
        if peer is None:
            lines.append(f"dns qps {workload}: no ratio (knot was not timed: knotd missing?)")
            continue
        lines.append(
            f"dns qps {workload} ({QUERIES} UDP queries, windows of {WINDOW}): "
            f"elsinore {ours:,.0f}/s, knot {peer:,.0f}/s, elsinore/knot = {ours / peer:.3f}"
        )
    with capture.global_and_fixture_disabled():  # fd capture would swallow it otherwise
        for line in lines:
            reporter.write_line(line)
