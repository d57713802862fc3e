"""``elsinore hop``: a store-and-forward SMTP hop whose only transform is ``Received:``.

The building block of every service, the benchmark subject and the crash-test subject: it
listens, stores each message durably before its 250, and forwards it to one address.  It
logs one line per message event, as Postfix does, and stops on SIGTERM without losing a
message: it stops accepting, lets the transaction in progress finish, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
from pathlib import Path

import click

from stack.cli import endpoint_callback
from stack.dns.addresses import DNS_PORT, Endpoint
from stack.dns.resolver import Resolver
from stack.logs import service_log
from stack.mime.safe import checked_text
from stack.smtp.client import Outbound
from stack.smtp.forward import QueueRunner, RetryPolicy
from stack.smtp.policy import BareLineEnds, Limits
from stack.smtp.server import Inbound, InboundConfig, InboundServer
from stack.smtp.spool import AsyncSpool, Spool
from stack.smtp.tls import client_context, server_context

SMTP_PORT = 25


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    text = value.strip().lower()
    unit = _DURATION_UNITS.get(text[-1:])
    number = text[:-1] if unit is not None else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a duration (a number, then s, m, h or d)", ctx, param
        ) from None
    if seconds <= 0:
        raise click.BadParameter(f"{value!r} must be more than 0", ctx, param)
    return seconds


def _optional_duration(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> float | None:
    return None if value is None else _duration(ctx, param, value)


@click.command(
    "hop",
    epilog="""\b
Example:
  elsinore hop --listen 127.0.0.1:2525 --forward 127.0.0.1:2526 \\
      --spool /var/spool/elsinore/hop --hostname hop.castle.test
""",
)
@click.option(
    "--listen",
    required=True,
    callback=endpoint_callback(SMTP_PORT),
    metavar="ADDR:PORT",
    help="Where to accept mail.",
)
@click.option(
    "--forward",
    required=True,
    callback=endpoint_callback(SMTP_PORT),
    metavar="ADDR:PORT",
    help="Where to send every message (a smarthost, like Postfix's relayhost).",
)
@click.option(
    "--spool",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The spool directory (created when missing).",
)
@click.option("--hostname", help="The name in the greeting and in Received: (default: FQDN).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), help="PEM chain.")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), help="PEM key.")
@click.option(
    "--implicit-tls", is_flag=True, help="TLS from the first byte (as on port 465), not STARTTLS."
)
@click.option(
    "--bare-newlines",
    type=click.Choice([mode.value for mode in BareLineEnds]),
    default=BareLineEnds.REFUSE.value,
    show_default=True,
    help="A message with a bare CR or LF, or a command ending in a bare LF: refuse it (521,"
    " and close the connection), or read it as if it were a CRLF.",
)
@click.option(
    "--max-size",
    type=click.IntRange(1),
    default=Limits().size,
    show_default=True,
    help="Largest message accepted, in octets (advertised as SIZE).",
)
@click.option(
    "--max-recipients",
    type=click.IntRange(1),
    default=Limits().recipients,
    show_default=True,
    help="Recipients per message; more get 452.",
)
@click.option(
    "--expire",
    default="5d",
    show_default=True,
    callback=_duration,
    help="Bounce what is still undelivered after this long (s, m, h, d).",
)
@click.option(
    "--retry",
    default="60s",
    show_default=True,
    callback=_duration,
    help="The first wait before trying a deferred message again; it doubles each time.",
)
@click.option(
    "--dead-host-time",
    callback=_optional_duration,
    metavar="DURATION",
    help="After a failed connection to --forward, defer without trying it for this long"
    " (default: the --retry wait, as Postfix keeps an unreachable destination for"
    " minimal_backoff_time).",
)
@click.option(
    "--forward-tls",
    type=click.Choice(["opportunistic", "required", "never"]),
    default="opportunistic",
    show_default=True,
    help="STARTTLS toward --forward.",
)
@click.option(
    "--resolver",
    callback=endpoint_callback(DNS_PORT),
    metavar="ADDR:PORT",
    help="A DNS server to ask for clients' reverse names (else Received: says unknown).",
)
@click.option(
    "--forward-ca",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Verify --forward's certificate against this CA (PEM).",
)
def hop(
    listen: Endpoint,
    forward: Endpoint,
    spool: Path,
    hostname: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    implicit_tls: bool,
    bare_newlines: str,
    max_size: int,
    max_recipients: int,
    expire: float,
    retry: float,
    dead_host_time: float | None,
    forward_tls: str,
    forward_ca: Path | None,
    resolver: Endpoint | None,
) -> None:
    """Run a store-and-forward SMTP hop: accept, spool durably, forward to one address."""
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if implicit_tls and tls_cert is None:
        raise click.UsageError("--implicit-tls needs --tls-cert and --tls-key")
    name = checked_text(hostname or socket.getfqdn(), "--hostname")
    server_tls = server_context(tls_cert, tls_key) if tls_cert and tls_key else None
    client_tls = client_context(forward_ca) if forward_ca else None
    config = InboundConfig(
        hostname=name,
        limits=Limits(size=max_size, recipients=max_recipients),
        bare_line_ends=BareLineEnds(bare_newlines),
    )
    run = _run_hop(
        config,
        listen,
        forward,
        spool,
        server_tls,
        implicit_tls,
        client_tls,
        forward_tls,
        expire,
        retry,
        retry if dead_host_time is None else dead_host_time,
        resolver,
    )
    with service_log("elsinore hop"):
        asyncio.run(run)


async def _run_hop(
    config: InboundConfig,
    listen: Endpoint,
    forward: Endpoint,
    spool_dir: Path,
    server_tls: ssl.SSLContext | None,
    implicit_tls: bool,
    client_tls: ssl.SSLContext | None,
    forward_tls: str,
    expire: float,
    retry: float,
    dead_host_time: float,
    resolver: Endpoint | None,
) -> None:
    log = logging.getLogger("elsinore.smtp")
    spool = AsyncSpool(Spool(spool_dir))
    outbound = Outbound(
        helo=config.hostname,
        smarthost=(forward.host, forward.port),
        starttls=forward_tls,  # type: ignore[arg-type]  # a click.Choice of the three
        tls_context=client_tls,
        dead_host_seconds=dead_host_time,
    )
    runner = QueueRunner(
        spool,
        outbound,
        reporting_mta=config.hostname,
        policy=RetryPolicy(first=retry, expire=expire),
        scan_interval=min(30.0, retry),
    )
    reverse = Resolver(forwarders=[resolver]) if resolver is not None else None
    inbound = Inbound(config, spool, runner.enqueue, resolver=reverse)
    server = InboundServer(
        inbound,
        listen.host,
        listen.port,
        tls_context=server_tls,
        implicit_tls=implicit_tls,
    )
    # The signal handlers come first: whoever sees the port answer may send SIGTERM at once,
    # and before them its default action ends the hop with no shutdown at all.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    host, port = await server.start()
    log.info(
        "listening on %s, forwarding to %s, spool %s", Endpoint(host, port), forward, spool_dir
    )
    running = loop.create_task(runner.run())
    await stop.wait()
    log.info("stopping: no new connections; finishing the transactions in progress")
    await server.stop()
    await runner.stop()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    await outbound.aclose()
    await spool.aclose()
    log.info("stopped")


__all__ = ["hop"]
