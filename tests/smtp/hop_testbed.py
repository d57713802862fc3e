"""The hop tests' test bed: ``elsinore hop`` and ``elsinore srv`` as real processes.

The smuggling and crash tests run the commands a user runs, each in a process of its own, so
that SIGKILL and SIGTERM hit what they hit in production.  Everything listens on 127.0.0.1,
on ports the kernel picked a moment before; every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.smtp.smtp_peers import free_port

HOST = "127.0.0.1"


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((HOST, port)) == 0


class Command:
    """One ``elsinore`` command running in a process of its own, its log in a file."""

    def __init__(self, args: list[str], log: Path, port: int) -> None:
        self.args = args
        self.log = log
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> Command:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stack", *self.args],
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_until(self._ready, timeout, f"{self.args[0]} to listen on port {self.port}")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.args[0]} exited early:\n{self.log.read_text()}")
        return listening(self.port)

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, and the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def srv(directory: Path, log: Path) -> Command:
    port = free_port()
    return Command(["srv", "--listen", f"{HOST}:{port}", "-o", str(directory)], log, port)


def hop(spool: Path, forward: int, log: Path, *options: str, port: int | None = None) -> Command:
    port = port or free_port()
    args = [
        "hop",
        "--listen",
        f"{HOST}:{port}",
        "--forward",
        f"{HOST}:{forward}",
        "--spool",
        str(spool),
        "--hostname",
        f"hop{port}.castle.test",
        "--retry",
        "0.2s",
        *options,
    ]
    return Command(args, log, port)


def stored(directory: Path) -> list[bytes]:
    """Every message a sink stored, as bytes."""
    return [path.read_bytes() for path in sorted(directory.glob("*.eml"))]
