"""``elsinore hop`` as a user runs it: SIGTERM finishes the transaction in progress and exits
0, what it accepted is forwarded after a restart, and bad options are one line on stderr."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hop_testbed import HOST, hop, listening, srv, stored, wait_until
from smtp_peers import free_port


def test_sigterm_finishes_the_transaction_in_progress_and_exits_0(tmp_path: Path) -> None:
    sink = srv(tmp_path / "sink", tmp_path / "srv.log").start()
    relay = hop(tmp_path / "spool", sink.port, tmp_path / "hop.log").start()
    try:
        with socket.create_connection((HOST, relay.port), timeout=10) as sock:
            file = sock.makefile("rb")
            file.readline()
            sock.sendall(b"HELO client.test\r\nMAIL FROM:<a@client.test>\r\n")
            sock.sendall(b"RCPT TO:<o@castle.test>\r\nDATA\r\n")
            for _ in range(4):
                file.readline()
            sock.sendall(b"Subject: in flight\r\n\r\nhalf of the body\r\n")
            assert relay.process is not None
            relay.process.terminate()
            wait_until(lambda: not listening(relay.port), 10, "the hop to stop listening")
            sock.sendall(b"the other half\r\n.\r\n")
            answer = file.readline()
        assert answer.startswith(b"250 2.0.0 OK queued as "), answer
        assert relay.process.wait(20) == 0
        log = relay.log.read_text()
        assert "stopped" in log and "Traceback" not in log
        # Accepted during the shutdown: forwarded after the restart, not lost.
        relay.start()
        wait_until(lambda: len(stored(tmp_path / "sink")) == 1, 20, "the message to arrive")
        assert b"the other half" in stored(tmp_path / "sink")[0]
        assert relay.terminate() == 0
    finally:
        relay.close()
        sink.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--listen", "localhost:25"], "bad address"),
        (["--listen", "127.0.0.1:99999"], "bad port"),
        (["--tls-cert", "/nonexistent.pem"], "--tls-cert and --tls-key go together"),
        (["--expire", "soon"], "is not a duration"),
        (["--dead-host-time", "0s"], "must be more than 0"),
        (["--hostname", "hop\tcastle.test"], "--hostname: TAB (U+0009) at character 3"),
    ],
)
def test_bad_options_are_one_line_and_a_nonzero_exit(
    tmp_path: Path, options: list[str], message: str
) -> None:
    base = {"--listen": f"{HOST}:{free_port()}", "--forward": f"{HOST}:{free_port()}"}
    for name, value in zip(options[::2], options[1::2], strict=True):
        base[name] = value
    args = [item for pair in base.items() for item in pair]
    done = subprocess.run(
        [sys.executable, "-m", "stack", "hop", *args, "--spool", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.create_server((HOST, 0)) as taken:
        port = taken.getsockname()[1]
        listen = ["--listen", f"{HOST}:{port}", "--forward", f"{HOST}:{free_port()}"]
        done = subprocess.run(
            [sys.executable, "-m", "stack", "hop", *listen, "--spool", str(tmp_path / "spool")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    # What elsinore srv and dns serve say, not asyncio's OSError with the address as a tuple.
    assert done.stderr == (
        f"elsinore: error: cannot listen on {HOST}:{port}: address already in use\n"
    )


def _full_pipe() -> tuple[int, int]:
    """A pipe whose buffer is already full: whoever writes to it waits for a reader."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write_end, b"." * 65536)
    os.set_blocking(write_end, True)
    return read_end, write_end


def _drain_until_closed(read_end: int, timeout: float) -> bytes:
    """Everything written to the pipe until its last writer exits."""
    read = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([read_end], [], [], 0.1)[0]:
            chunk = os.read(read_end, 65536)
            if not chunk:
                return read
            read += chunk
    raise AssertionError(f"the hop did not exit within {timeout:.0f} s")


def test_a_sigterm_as_soon_as_the_hop_listens_stops_it_cleanly(tmp_path: Path) -> None:
    # Whoever started the hop may signal it the moment its port answers (a supervisor, the
    # crash tests).  A stderr nobody reads yet holds the hop at its first log line, just
    # after it began to listen: the SIGTERM must already be the hop's to handle, not the
    # default action that ends it with no shutdown (exit -15).
    port = free_port()
    read_end, write_end = _full_pipe()
    args = ["hop", "--listen", f"{HOST}:{port}", "--forward", f"{HOST}:{free_port()}"]
    process = subprocess.Popen(
        [sys.executable, "-m", "stack", *args, "--spool", str(tmp_path / "spool")],
        stdout=subprocess.DEVNULL,
        stderr=write_end,
    )
    os.close(write_end)
    try:
        wait_until(lambda: listening(port), 20, "the hop to listen")
        process.send_signal(signal.SIGTERM)
        log = _drain_until_closed(read_end, 30)
        assert process.wait(10) == 0
    finally:
        os.close(read_end)
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert log.splitlines()[-1].endswith(b"elsinore hop: stopped")


def send_one(port: int, subject: bytes) -> bytes:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        file = sock.makefile("rb")
        file.readline()
        sock.sendall(b"HELO client.test\r\nMAIL FROM:<a@client.test>\r\n")
        sock.sendall(b"RCPT TO:<o@castle.test>\r\nDATA\r\n")
        for _ in range(4):
            file.readline()
        sock.sendall(b"Subject: " + subject + b"\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        return file.readline()


def test_a_forward_that_refused_is_not_tried_again_before_the_dead_host_time(
    tmp_path: Path,
) -> None:
    relay = hop(
        tmp_path / "spool", free_port(), tmp_path / "hop.log", "--dead-host-time", "1h"
    ).start()
    try:
        assert send_one(relay.port, b"first").startswith(b"250 ")
        wait_until(lambda: "connection refused)" in relay.log.read_text(), 20, "a refusal")
        assert send_one(relay.port, b"second").startswith(b"250 ")
        wait_until(lambda: "not tried again yet" in relay.log.read_text(), 20, "a skip")
        assert relay.terminate() == 0
    finally:
        relay.close()
    deferrals = [line for line in relay.log.read_text().splitlines() if "deferred" in line]
    assert "(4.4.1 connection refused)" in deferrals[0]
    skipped = "connection refused less than 3600 s ago: not tried again yet"
    assert all(skipped in line for line in deferrals[1:]), deferrals
