"""The asyncio shell: UDP and TCP (RFC 7766) sockets around a handler that maps bytes to bytes.

The shell knows nothing of DNS beyond TCP's two-octet length prefix.  The handler is the
:class:`~.primary.Primary` (synchronous: answered inline, with no task per datagram) or the
resolver service (asynchronous: one task per query, at most ``max_pending`` at once, so a flood
costs bounded memory and the surplus is dropped as a busy server would).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import cast

from stack.dns.addresses import Endpoint
from stack.dns.errors import ListenError

log = logging.getLogger(__name__)

#: Maps one message and whether it came over TCP to the replies (none, one, or a transfer).
Handler = Callable[[bytes, bool], "list[bytes] | Awaitable[list[bytes]]"]

#: RFC 7766 section 6.2.3: close idle connections; a few seconds is what servers use.
TCP_IDLE_SECONDS = 10.0
MAX_PENDING = 512
#: Open TCP connections at once; past this a new one is closed at once (RFC 7766 section 6.2.2).
MAX_CONNECTIONS = 256
_BIND_ATTEMPTS = 20


class _DatagramProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        replies = self.server.handler(data, False)
        if isinstance(replies, list):
            self._send(replies, addr)
        elif len(self.server.pending) < self.server.max_pending:
            task = asyncio.ensure_future(self._answer_later(replies, addr))
            self.server.pending.add(task)
            task.add_done_callback(self.server.pending.discard)
        else:
            _discard(replies)

    async def _answer_later(
        self, replies: Awaitable[list[bytes]], addr: tuple[str | int, ...]
    ) -> None:
        self._send(await replies, addr)

    def _send(self, replies: list[bytes], addr: tuple[str | int, ...]) -> None:
        if self.transport is not None and replies:
            self.transport.sendto(replies[0], addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a client that went away: nothing to do.
        log.debug("udp error: %s", exc)


def _listen_error(endpoint: Endpoint, protocol: str, exc: OSError) -> ListenError:
    # asyncio's message names neither the address nor the protocol ("[Errno 98] error while
    # attempting to bind on address ...", or just "[Errno 98] Address already in use").
    return ListenError.from_os_error(f"{endpoint}/{protocol}", exc)


def _discard(awaitable: Awaitable[list[bytes]]) -> None:
    if inspect.iscoroutine(awaitable):
        awaitable.close()


class DnsServer:
    """Serves ``handler`` on UDP and TCP at one endpoint; port 0 picks a free port for both."""

    def __init__(
        self,
        handler: Handler,
        endpoint: Endpoint,
        max_pending: int = MAX_PENDING,
        tcp_idle_seconds: float = TCP_IDLE_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.handler = handler
        self.requested = endpoint
        self.endpoint = endpoint
        self.max_pending = max_pending
        self.tcp_idle_seconds = tcp_idle_seconds
        self.max_connections = max_connections
        self.pending: set[asyncio.Future[None]] = set()
        self.connections = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def start(self) -> Endpoint:
        """Bind both sockets; returns the endpoint actually bound.

        Raises :class:`ListenError` naming the address and protocol that could not be bound.
        """
        loop = asyncio.get_running_loop()
        host = self.requested.host
        for _ in range(_BIND_ATTEMPTS):
            try:
                transport, _protocol = await loop.create_datagram_endpoint(
                    lambda: _DatagramProtocol(self), local_addr=(host, self.requested.port)
                )
            except OSError as exc:
                raise _listen_error(Endpoint(host, self.requested.port), "udp", exc) from None
            port = int(transport.get_extra_info("sockname")[1])
            try:
                self._tcp = await asyncio.start_server(
                    self._serve_connection, host, port, reuse_address=True
                )
            except OSError as exc:
                transport.close()
                if self.requested.port:
                    raise _listen_error(Endpoint(host, port), "tcp", exc) from None
                continue  # the UDP port's TCP twin is taken: try another free port
            self._udp = transport
            self.endpoint = Endpoint(host, port)
            return self.endpoint
        raise ListenError(f"cannot listen on {host}: found no port free for both UDP and TCP")

    async def close(self) -> None:
        """Stop listening and cancel queries still being resolved."""
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)
        for task in list(self.pending):
            task.cancel()

    async def __aenter__(self) -> DnsServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            if self.connections <= self.max_connections:
                await self._serve_messages(reader, writer)
        finally:
            self.connections -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _serve_messages(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), self.tcp_idle_seconds)
                size = int.from_bytes(header, "big")
                wire = await asyncio.wait_for(reader.readexactly(size), self.tcp_idle_seconds)
                replies = self.handler(wire, True)
                if not isinstance(replies, list):
                    replies = await replies
                for reply in replies:
                    writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
