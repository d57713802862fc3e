"""The hop tests' test bed: ``elsinore hop`` and ``elsinore srv`` as real processes, and a hop
in a thread for the tests that look inside one.

The smuggling and crash tests run the commands a user runs, each in a process of its own, so
that SIGKILL and SIGTERM hit what they hit in production.  Everything listens on 127.0.0.1,
on ports the kernel picked a moment before; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from smtp_peers import free_port

from stack.dns.resolver import Resolver
from stack.smtp.client import Outbound
from stack.smtp.forward import QueueRunner, RetryPolicy
from stack.smtp.server import Inbound, InboundConfig, InboundServer
from stack.smtp.spool import AsyncSpool, Spool

T = TypeVar("T")

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


class InProcessHop:
    """A hop (inbound server, spool, queue runner, outbound client) on an event loop in a
    thread of its own, for tests that look inside it or drive it byte by byte."""

    def __init__(
        self,
        spool: Path,
        forward: int,
        *,
        config: InboundConfig | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        policy: RetryPolicy | None = None,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or InboundConfig(hostname="hop.castle.test")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.spool = Spool(spool, clock=clock)

        async def build() -> tuple[AsyncSpool, Outbound, QueueRunner, InboundServer]:
            spooled = AsyncSpool(self.spool)
            outbound = Outbound(helo="hop.castle.test", smarthost=(HOST, forward), timeout=10)
            runner = QueueRunner(
                spooled,
                outbound,
                reporting_mta="hop.castle.test",
                policy=policy or RetryPolicy(first=0.1, factor=1.0),
                scan_interval=0.1,
                clock=clock,
            )
            inbound = Inbound(self.config, spooled, runner.enqueue, resolver=resolver, clock=clock)
            server = InboundServer(
                inbound, HOST, 0, tls_context=tls_context, implicit_tls=implicit_tls
            )
            await server.start()
            return spooled, outbound, runner, server

        self.spooled, self.outbound, self.runner, self.server = self.run(build())
        self.port = self.server.port
        self.running = asyncio.run_coroutine_threadsafe(self.runner.run(), self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        async def stop() -> None:
            await self.server.stop(grace=5)
            await self.runner.stop(grace=2)
            await self.outbound.aclose()
            await self.spooled.aclose()

        self.run(stop())
        self.running.cancel()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
