"""Real peers for the outbound tests: aiosmtpd servers and a DNS primary on 127.0.0.0/8.

Every server runs in a thread of its own (aiosmtpd's :class:`Controller`, our
:class:`~stack.dns.server.DnsServer` on a private loop), so a test drives the client under test
with ``asyncio.run`` in the main thread and reads what the servers saw afterwards.  Ports are
picked by the kernel; several servers on different loopback addresses share one port, because
DNS gives MX hosts addresses but no ports.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from stack.dns.addresses import Endpoint
from stack.dns.primary import Primary
from stack.dns.server import DnsServer
from stack.dns.zones import ZoneSet, zone_from_text


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    """One transaction a :class:`Peer` accepted."""

    sender: str
    recipients: list[str]
    data: bytes
    tls: bool


@dataclass
class Recorder:
    """The handler of a :class:`Peer`: keeps what it accepts, refuses what it is told to."""

    name: str
    #: Recipients refused at RCPT, with the reply to give.
    refuse: dict[str, str] = field(default_factory=dict)
    #: The reply to the end of DATA, when not 250.
    data_reply: str | None = None
    #: Called with every RCPT address before it is answered (to move a test's clock).
    on_rcpt: Callable[[str], None] | None = None
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.on_rcpt is not None:
            self.on_rcpt(address)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        content = envelope.original_content or b""
        with self.lock:
            self.messages.append(
                Received(
                    envelope.mail_from or "",
                    list(envelope.rcpt_tos),
                    content,
                    session.ssl is not None,
                )
            )
        return f"250 2.0.0 queued by {self.name}"

    def opened(self) -> None:
        with self.lock:
            self.connections += 1
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)

    def closed(self) -> None:
        with self.lock:
            self.open_now -= 1


class _CountingSMTP(SMTP):
    def __init__(self, recorder: Recorder, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = recorder

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.recorder.opened()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.recorder.closed()
        super().connection_lost(error)


class Peer(Controller):
    """An aiosmtpd server on ``host:port`` that records what it accepts and how it was
    reached; STARTTLS is offered when given a ``tls_context``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        name: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        **smtp: Any,
    ) -> None:
        self.recorder = Recorder(name or host)
        super().__init__(
            self.recorder,
            hostname=host,
            port=port,
            server_hostname=name or host,
            tls_context=tls_context,
            **smtp,
        )

    def factory(self) -> SMTP:
        return _CountingSMTP(self.recorder, self.handler, **self.SMTP_kwargs)

    def start(self) -> None:
        super().start()
        # The controller's own readiness probe is not a client of the test.
        with self.recorder.lock:
            self.recorder.connections = 0
            self.recorder.most_open = self.recorder.open_now

    @property
    def messages(self) -> list[Received]:
        return self.recorder.messages


class DnsThread:
    """A DNS primary for the given zones, serving on ``host`` from a thread of its own."""

    def __init__(self, zones: dict[str, str], host: str = "127.0.0.1", port: int = 0) -> None:
        parsed = [zone_from_text(text, origin) for origin, text in zones.items()]
        primary = Primary(ZoneSet({zone.origin: zone for zone in parsed if zone.origin}))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = DnsServer(primary.respond, Endpoint(host, port))
        self.endpoint: Endpoint = asyncio.run_coroutine_threadsafe(
            self.server.start(), self.loop
        ).result(5)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def loopback_slash24(seed_text: str) -> str:
    """``127.A.B.``: a /24 of loopback of its own for a test that binds fixed ports (a whole
    stack), picked from ``seed_text`` (its tmp path differs per test and per xdist worker).
    127.20-89 only: the simulated worlds of tests/world take whole /16s (127.91 for the
    plugin's, 127.100 and up for the loop's)."""
    seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:4], "big") % (70 * 250)
    return f"127.{20 + seed // 250}.{seed % 250}."
