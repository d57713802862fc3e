"""``elsinore hop`` as a user runs it: SIGTERM finishes the transaction in progress and exits
0, what it accepted is forwarded after a restart, and bad options are one line on stderr."""

from __future__ import annotations

import socket
import subprocess
import sys
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
