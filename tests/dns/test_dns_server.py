"""The asyncio shell with real sockets: UDP, TCP, floods, garbage, and reloads of a real process."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest
from dns_testbed import Hierarchy, ServerThread

from stack.dns.addresses import Endpoint, parse_endpoint
from stack.dns.primary import Primary

pytestmark = pytest.mark.timeout(60)


def query_a(endpoint: Endpoint, name: str, timeout: float = 2.0) -> dns.message.Message:
    query = dns.message.make_query(name, "A")
    return dns.query.udp(query, endpoint.host, port=endpoint.port, timeout=timeout)


def test_tcp_pipelined_queries_are_all_answered_in_order(castle_server: Endpoint) -> None:
    names = ["mail.castle.test.", "nobody.castle.test.", "ns1.castle.test."]
    queries = [dns.message.make_query(name, "A") for name in names]
    with socket.create_connection((castle_server.host, castle_server.port), timeout=5) as sock:
        sock.sendall(b"".join(q.to_wire(prepend_length=True) for q in queries))
        replies = [_read_frame(sock) for _ in queries]
    assert [dns.message.from_wire(r).id for r in replies] == [q.id for q in queries]


def _read_frame(sock: socket.socket) -> bytes:
    size = int.from_bytes(_read_exactly(sock, 2), "big")
    return _read_exactly(sock, size)


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


def test_garbage_over_tcp_and_a_stalled_client_do_not_stop_the_server(
    castle_server: Endpoint,
) -> None:
    with socket.create_connection((castle_server.host, castle_server.port), timeout=5) as sock:
        sock.sendall(b"\x00\x05hello")  # shorter than a header: dropped, connection kept
        sock.sendall(b"\x00\x14\x12\x34\x00\x00\x00\x01" + b"\xff" * 14)  # header, bad question
        reply = dns.message.from_wire(_read_frame(sock))
        assert (reply.id, reply.rcode()) == (0x1234, dns.rcode.FORMERR)
    stalled = socket.create_connection((castle_server.host, castle_server.port), timeout=5)
    stalled.sendall(b"\x00")  # half a length prefix, then nothing
    try:
        assert query_a(castle_server, "mail.castle.test.").answer
    finally:
        stalled.close()


def _flood(endpoint: Endpoint, datagrams: list[bytes], wait: float, window: int = 64) -> int:
    """Send in windows and count the replies; ``wait`` bounds the pause for a missing one."""
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(wait)
        for start in range(0, len(datagrams), window):
            batch = datagrams[start : start + window]
            for datagram in batch:
                sock.sendto(datagram, (endpoint.host, endpoint.port))
            for _ in batch:
                try:
                    sock.recv(65535)
                except TimeoutError:
                    break
                answered += 1
    return answered


def _random_name(rng: random.Random) -> str:
    label = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-") for _ in range(12))
    return f"{label}.castle.test."


def _resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_flood_of_garbage_and_random_names_is_answered_without_memory_growth(
    served_process: tuple[Endpoint, Path, int],
) -> None:
    endpoint, _, pid = served_process
    rng = random.Random(7208)
    garbage = [rng.randbytes(rng.randrange(0, 600)) for _ in range(2_000)]
    names = [dns.message.make_query(_random_name(rng), "A").to_wire() for _ in range(10_000)]
    _flood(endpoint, names[:1_000], wait=0.5)  # warm-up: first-call allocations
    before = _resident_bytes(pid)
    started = time.monotonic()
    _flood(endpoint, garbage, wait=0.01)  # mostly dropped: no reply to wait for
    answered = _flood(endpoint, names, wait=0.5)
    elapsed = time.monotonic() - started
    growth = _resident_bytes(pid) - before
    print(f"flood: {answered}/10000 answered in {elapsed:.2f} s, RSS growth {growth} bytes")
    assert answered >= 9_500, f"only {answered} of 10000 random names answered"
    assert elapsed < 30
    assert growth < 2 * 1024 * 1024, f"resident memory grew by {growth} bytes"
    assert query_a(endpoint, "mail.castle.test.").answer  # still serving


@pytest.fixture
def served_process(zones_dir: Path, tmp_path: Path) -> Iterator[tuple[Endpoint, Path, int]]:
    """``elsinore dns serve`` as a real process (``python -m stack``), on a free port."""
    pid_file = tmp_path / "dns.pid"
    command = [sys.executable, "-m", "stack", "dns", "serve", "--zones", str(zones_dir)]
    command += ["--listen", "127.0.0.1:0", "--pid-file", str(pid_file)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "serving castle.test. on ADDR:PORT udp+tcp; ..."
        assert line.startswith("serving"), line
        endpoint = parse_endpoint(line.split(" on ")[1].split()[0])
        yield endpoint, pid_file, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


def _wait_for(endpoint: Endpoint, name: str, expected: list[str]) -> list[str]:
    deadline = time.monotonic() + 5
    while True:
        found = [r.to_text() for r in query_a(endpoint, name).answer]
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_dns_reload_rereads_edited_zone_files_and_keeps_them_on_error(
    served_process: tuple[Endpoint, Path, int], zones_dir: Path
) -> None:
    endpoint, pid_file, _ = served_process
    zone_file = zones_dir / "castle.test.zone"
    assert [r.to_text() for r in query_a(endpoint, "mail.castle.test.").answer]
    zone_file.write_text(
        zone_file.read_text().replace("127.0.0.25", "127.0.0.99"), encoding="utf-8"
    )
    reload = [sys.executable, "-m", "stack", "dns", "reload", "--pid-file", str(pid_file)]
    subprocess.run(reload, check=True, capture_output=True, timeout=30)
    new = ["mail.castle.test. 300 IN A 127.0.0.99"]
    assert _wait_for(endpoint, "mail.castle.test.", new) == new
    zone_file.write_text("this is not a zone file\n", encoding="utf-8")
    subprocess.run(reload, check=True, capture_output=True, timeout=30)
    time.sleep(0.3)
    assert [r.to_text() for r in query_a(endpoint, "mail.castle.test.").answer] == new


def test_tcp_connections_past_the_limit_are_closed_and_udp_goes_on(
    servers: ServerThread, primary: Primary
) -> None:
    endpoint = servers.serve(primary.respond, max_connections=2)
    address = (endpoint.host, endpoint.port)
    held = [socket.create_connection(address, timeout=5) for _ in range(2)]
    try:
        time.sleep(0.2)  # let the server accept both
        with socket.create_connection(address, timeout=5) as extra:
            assert extra.recv(1) == b""  # closed without a word
        assert query_a(endpoint, "mail.castle.test.").answer
    finally:
        for sock in held:
            sock.close()


def test_resolver_process_serves_recursion_from_root_hints(
    servers: ServerThread, tmp_path: Path
) -> None:
    hierarchy = Hierarchy(servers)
    hints = tmp_path / "root.hints"
    hints.write_text(hierarchy.root_hints())
    command = [sys.executable, "-m", "stack", "dns", "resolver", "--listen", "127.0.0.1:0"]
    command += ["--root-hints", str(hints), "--port", str(hierarchy.port), "--timeout", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "resolving on ADDR:PORT udp+tcp"
        endpoint = parse_endpoint(line.split(" on ")[1].split()[0])
        response = query_a(endpoint, "host.sub.castle.test.", timeout=5)
        answer = [r.to_text() for r in response.answer]
        assert answer == ["host.sub.castle.test. 300 IN A 127.0.0.41"]
        assert response.flags & dns.flags.RA
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
