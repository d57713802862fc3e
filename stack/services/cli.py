"""``elsinore stack``: make a domain's directory, run its services, and ask how they are.

``stack up`` runs each service in a process of its own by default, as the seed runs each in
a unikernel of its own: a crash or a leak in the spam filter cannot take the MX down.  The
parent starts them in :data:`~stack.config.SERVICES` order, each once the one before it
answers, forwards SIGTERM to them all, and exits when they have stopped.  ``--one-process``
runs them all on one event loop instead (the same code, the same addresses).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import dns.exception
import dns.message
import dns.query

from stack.cli import endpoint_callback
from stack.config import SERVICES, SMTP_PORT, SMTP_SERVICES, StackConfig, load
from stack.dns.addresses import Endpoint
from stack.logs import service_log
from stack.services.init import InitError, initialise, plan

#: How long ``stack up`` waits for one service to answer before it gives up on the start.
START_TIMEOUT = 30.0
#: How long a probe of ``stack status`` waits for one endpoint.
PROBE_TIMEOUT = 2.0


@click.group("stack")
def stack_group() -> None:
    """Set up and run one mail domain: DNS, submission, signer, MX, spam filter and relay.

    \b
    Examples:
      elsinore stack init castle/ --domain castle.test --postmaster admin@bigmail.test
      elsinore user add castle/ alice --target alice@bigmail.test --password-stdin
      elsinore stack up castle/
      elsinore stack status castle/ --json
    """


# -- init ------------------------------------------------------------------------------------


@stack_group.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--domain", required=True, help="The mail domain, e.g. castle.test.")
@click.option(
    "--addresses",
    default="127.0.10.0/24",
    show_default=True,
    help="A network to take one address per service from (7 addresses).",
)
@click.option(
    "--smarthost",
    callback=endpoint_callback(SMTP_PORT),
    metavar="ADDR:PORT",
    help="The relay delivers everything there instead of by MX.",
)
@click.option("--postmaster", metavar="ADDR", help="Where mail for postmaster goes.")
@click.option(
    "--root",
    "roots",
    multiple=True,
    metavar="ADDR",
    help="A root server for the resolver to recurse from (repeatable); without one it asks "
    "our own primary only.",
)
@click.option(
    "--high-ports",
    is_flag=True,
    help="Listen on 5353, 2525, 5587 and 4465 rather than 53, 25, 587 and 465 (no root).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def init_command(
    directory: Path,
    domain: str,
    addresses: str,
    smarthost: Endpoint | None,
    postmaster: str | None,
    roots: tuple[str, ...],
    high_ports: bool,
    as_json: bool,
) -> None:
    """Write a working configuration for one domain into DIRECTORY.

    Writes stack.toml, the zones (MX, SPF, DMARC, PTR), TSIG and DKIM keys, an SRS
    secret, a local CA with a certificate per SMTP service, an empty users folder and an
    empty spam database.  Each service gets an address of its own from --addresses.

    \b
    Examples:
      elsinore stack init castle/ --domain castle.test
      elsinore stack init castle/ --domain castle.test --addresses 127.0.20.0/24 \\
          --smarthost 127.0.0.1:2525 --high-ports
    """
    layout = plan(domain, addresses, high_ports=high_ports)
    path = initialise(directory, layout, smarthost=smarthost, postmaster=postmaster, roots=roots)
    listen = _listen_table(load(directory))
    if as_json:
        click.echo(json.dumps({"config": str(path), "domain": layout.domain, "listen": listen}))
        return
    click.echo(f"wrote {path}")
    for name, endpoints in listen.items():
        click.echo(f"  {name:<11} {' '.join(endpoints)}")


def _listen_table(config: StackConfig) -> dict[str, list[str]]:
    return {service.name: [str(e) for e in service.endpoints()] for service in config}


# -- up --------------------------------------------------------------------------------------


@stack_group.command("up")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--one-process", is_flag=True, help="Run every service on one event loop in this process."
)
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(SERVICES),
    help="Run only this service (repeatable), in this process.",
)
def up_command(directory: Path, one_process: bool, only: tuple[str, ...]) -> None:
    """Run the domain's services in the foreground until SIGTERM or Ctrl-C.

    Each service runs in a process of its own, started in order (DNS first, submission
    last) once the one before it answers; SIGTERM stops them all, the transactions in
    progress finished first.

    \b
    Examples:
      elsinore stack up castle/
      elsinore stack up castle/ --one-process
      elsinore stack up castle/ --only verifier
    """
    config = load(directory)
    if one_process or only:
        names = [name for name in SERVICES if not only or name in only]
        # One service to a process: its log lines say which, as postfix/smtpd[PID] do.
        label = "elsinore stack" if len(names) > 1 else f"elsinore/{names[0]}[{os.getpid()}]"
        with service_log(label):
            asyncio.run(_run_here(config, names))
        return
    with service_log("elsinore stack"):
        sys.exit(_supervise(directory, config))


async def _run_here(config: StackConfig, names: Sequence[str]) -> None:
    from stack.services.base import run_until_stopped  # noqa: PLC0415 - the heavy imports
    from stack.services.build import build  # noqa: PLC0415

    await run_until_stopped(build(config, names))


def _supervise(directory: Path, config: StackConfig) -> int:
    """Start one process per service, in order; stop them all on SIGTERM or when one dies."""
    import logging  # noqa: PLC0415

    log = logging.getLogger("elsinore.stack")
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children: dict[str, subprocess.Popen[bytes]] = {}
    status = 0
    try:
        for name in SERVICES:
            if stopping:
                break
            command = [sys.executable, "-m", "stack", "stack", "up", str(directory), "--only", name]
            children[name] = subprocess.Popen(command, start_new_session=True)
            deadline = time.monotonic() + START_TIMEOUT
            while not stopping and not _is_up(config, name):
                if children[name].poll() is not None:
                    log.error("%s exited with status %s at start", name, children[name].returncode)
                    return 1
                if time.monotonic() > deadline:
                    log.error("%s did not answer within %.0f s", name, START_TIMEOUT)
                    return 1
                time.sleep(0.1)
        log.info("all services up" if not stopping else "stopping before every service was up")
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    log.error(
                        "%s exited with status %s; stopping the others", name, child.returncode
                    )
                    stopping = True
                    status = 1
                    break
            time.sleep(0.2)
    finally:
        for name in reversed(list(children)):
            child = children[name]
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name in reversed(list(children)):
            child = children[name]
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                log.error("%s did not stop within 60 s; killed", name)
                child.kill()
                child.wait()
    return status


# -- status ----------------------------------------------------------------------------------


def _smtp_answers(endpoint: Endpoint, implicit_tls: bool) -> bool:
    """Whether an SMTP server greets at ``endpoint`` (a TLS handshake first, for 465)."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), PROBE_TIMEOUT) as raw:
            raw.settimeout(PROBE_TIMEOUT)
            conn: socket.socket = raw
            if implicit_tls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                conn = context.wrap_socket(raw)
            greeting = conn.recv(512)
            with contextlib.suppress(OSError):
                conn.sendall(b"QUIT\r\n")
            return greeting.startswith(b"220")
    except (OSError, ssl.SSLError):
        return False


def _dns_answers(endpoint: Endpoint, domain: str) -> bool:
    query = dns.message.make_query(domain, "SOA")
    try:
        dns.query.udp(query, endpoint.host, timeout=PROBE_TIMEOUT, port=endpoint.port)
    except (OSError, dns.exception.DNSException):
        return False
    return True


def _endpoint_up(config: StackConfig, name: str, endpoint: Endpoint, implicit: bool) -> bool:
    if name in SMTP_SERVICES:
        return _smtp_answers(endpoint, implicit)
    return _dns_answers(endpoint, config.domain)


def _is_up(config: StackConfig, name: str) -> bool:
    service = config.service(name)
    return all(_endpoint_up(config, name, e, False) for e in service.listen) and all(
        _endpoint_up(config, name, e, True) for e in service.listen_tls
    )


def stack_status(config: StackConfig) -> dict[str, Any]:
    """``{"services": {NAME: {"state": "up"|"down", "listen": [...]}}}``: every endpoint of
    a service must answer (an SMTP greeting, a DNS reply) for it to be up."""
    return {
        "services": {
            service.name: {
                "state": "up" if _is_up(config, service.name) else "down",
                "listen": [str(e) for e in service.endpoints()],
            }
            for service in config
        }
    }


@stack_group.command("status")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the state of each service as JSON.")
def status_command(directory: Path, as_json: bool) -> None:
    """Say which services of the domain answer on every address they listen on.

    Exits 0 when every service is up, 1 otherwise.

    \b
    Examples:
      elsinore stack status castle/
      elsinore stack status castle/ --json | jq '.services.verifier.state'
    """
    status = stack_status(load(directory))
    services = status["services"]
    if as_json:
        click.echo(json.dumps(status, sort_keys=True))
    else:
        for name in SERVICES:
            entry = services[name]
            click.echo(f"{name:<11} {entry['state']:<5} {' '.join(entry['listen'])}")
    sys.exit(0 if all(entry["state"] == "up" for entry in services.values()) else 1)


__all__ = ["InitError", "stack_group", "stack_status"]
