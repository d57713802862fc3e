"""What every service of the domain is, once built: something that starts, listens and stops.

An SMTP service (:class:`SmtpService`) is the hop of :mod:`stack.smtp` with one service's
transform in it: its listeners (clear with STARTTLS, or implicit TLS), its durable spool, the
queue runner that forwards from the spool, and the outbound client the runner delivers
through.  A DNS service (:class:`DnsService`) is :class:`~stack.dns.server.DnsServer` on each
of its addresses.  :func:`run_until_stopped` starts a list of them in order and stops them in
the reverse order on SIGTERM or SIGINT, the transactions in progress finished first: what
``elsinore stack up`` runs, for one service per process or for all of them in one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

from stack.dns.addresses import Endpoint
from stack.dns.resolver import Resolver
from stack.dns.server import DnsServer, Handler
from stack.smtp.client import Outbound
from stack.smtp.forward import QueueRunner, RetryPolicy
from stack.smtp.server import Inbound, InboundConfig, InboundServer
from stack.smtp.spool import AsyncSpool, Spool

log = logging.getLogger("elsinore.services")

#: Something to do when a service stops, after its servers: close a resolver thread, a store.
Closer = Callable[[], Awaitable[None] | None]

#: Something to do before a service listens: the signer publishes its keys.  Raising stops
#: the start, with the error.
Starter = Callable[[], Awaitable[None]]


class Service(Protocol):
    """A running part of the domain: :meth:`start` binds and returns where it listens."""

    name: str

    async def start(self) -> list[Endpoint]: ...

    async def stop(self) -> None: ...


class SmtpService:
    """One SMTP hop: listeners over one handler, its spool, runner and outbound client.

    ``listen`` speak in clear and offer STARTTLS when ``tls_context`` is given;
    ``listen_tls`` are implicit TLS from the first byte (they need ``tls_context``).
    """

    def __init__(
        self,
        name: str,
        handler: Inbound,
        runner: QueueRunner,
        outbound: Outbound,
        *,
        listen: Sequence[Endpoint] = (),
        listen_tls: Sequence[Endpoint] = (),
        tls_context: ssl.SSLContext | None = None,
        starters: Sequence[Starter] = (),
        closers: Sequence[Closer] = (),
    ) -> None:
        if listen_tls and tls_context is None:
            raise ValueError(f"{name}: implicit TLS needs a certificate")
        self.name = name
        self.handler = handler
        self.runner = runner
        self.outbound = outbound
        self.starters = list(starters)
        self.closers = list(closers)
        self.servers = [
            InboundServer(handler, e.host, e.port, tls_context=tls_context) for e in listen
        ] + [
            InboundServer(handler, e.host, e.port, tls_context=tls_context, implicit_tls=True)
            for e in listen_tls
        ]
        self._running: asyncio.Task[None] | None = None

    async def start(self) -> list[Endpoint]:
        for starter in self.starters:
            await starter()
        bound: list[Endpoint] = []
        try:
            for server in self.servers:
                host, port = await server.start()
                bound.append(Endpoint(host, port))
        except BaseException:
            await self._stop_servers()
            raise
        self._running = asyncio.get_running_loop().create_task(self.runner.run())
        return bound

    async def _stop_servers(self) -> None:
        await asyncio.gather(*(server.stop() for server in self.servers))

    async def stop(self) -> None:
        """No new connection; the transactions in progress end; deliveries under way get
        their grace; what is left stays in the spool for the next start."""
        await self._stop_servers()
        await self.runner.stop()
        if self._running is not None:
            self._running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._running
        await self.outbound.aclose()
        await self.handler.spool.aclose()
        await _close_all(self.closers)


def smtp_service(
    name: str,
    config: InboundConfig,
    spool_directory: Path,
    outbound: Outbound,
    *,
    listen: Sequence[Endpoint] = (),
    listen_tls: Sequence[Endpoint] = (),
    tls_context: ssl.SSLContext | None = None,
    handler_class: Callable[..., Inbound] = Inbound,
    reverse_resolver: Resolver | None = None,
    retry: RetryPolicy | None = None,
    starters: Sequence[Starter] = (),
    closers: Sequence[Closer] = (),
) -> SmtpService:
    """An :class:`SmtpService` with its spool in ``spool_directory`` (made if missing)."""
    spool = AsyncSpool(Spool(spool_directory))
    runner = QueueRunner(
        spool,
        outbound,
        reporting_mta=config.hostname,
        policy=retry,
        scan_interval=min(30.0, retry.first) if retry is not None else 30.0,
    )
    handler = handler_class(config, spool, runner.enqueue, resolver=reverse_resolver)
    return SmtpService(
        name,
        handler,
        runner,
        outbound,
        listen=listen,
        listen_tls=listen_tls,
        tls_context=tls_context,
        starters=starters,
        closers=closers,
    )


class DnsService:
    """A DNS handler (the primary, or the resolver) on UDP and TCP at each endpoint."""

    def __init__(
        self,
        name: str,
        handler: Handler,
        listen: Sequence[Endpoint],
        *,
        closers: Sequence[Closer] = (),
    ) -> None:
        self.name = name
        self.servers = [DnsServer(handler, endpoint) for endpoint in listen]
        self.closers = list(closers)

    async def start(self) -> list[Endpoint]:
        bound: list[Endpoint] = []
        try:
            for server in self.servers:
                bound.append(await server.start())
        except BaseException:
            await self.stop()
            raise
        return bound

    async def stop(self) -> None:
        await asyncio.gather(*(server.close() for server in self.servers))
        await _close_all(self.closers)


async def _close_all(closers: Sequence[Closer]) -> None:
    for close in closers:
        result = close()
        if result is not None:
            await result


async def run_until_stopped(
    services: Sequence[Service],
    *,
    started: Callable[[Service, list[Endpoint]], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Start ``services`` in order, run until SIGTERM or SIGINT (or ``stop`` is set), then
    stop them in the reverse order.  A service that cannot start stops those already up and
    raises (a :class:`~stack.errors.ListenError` names the address)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    up: list[Service] = []
    try:
        for service in services:
            bound = await service.start()
            up.append(service)
            log.info("%s: listening on %s", service.name, ", ".join(map(str, bound)))
            if started is not None:
                started(service, bound)
        await stop.wait()
        log.info("stopping: no new connections; finishing the transactions in progress")
    finally:
        for service in reversed(up):
            await service.stop()
            log.info("%s: stopped", service.name)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


__all__ = [
    "Closer",
    "DnsService",
    "Service",
    "SmtpService",
    "Starter",
    "run_until_stopped",
    "smtp_service",
]
