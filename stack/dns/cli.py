"""``elsinore dns``: serve zones, serve the resolver, resolve a name, send an update, reload.

The commands are thin: they parse options into the package's objects and print results, as a
table for people or as JSON (``--json``) for scripts.  Errors a user can fix (a bad zone file,
key file or address, a name nobody answers for) end in one line through :mod:`stack.cli`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update

from stack.dns.addresses import DNS_PORT, Endpoint, parse_endpoint
from stack.dns.cache import Answer
from stack.dns.errors import DnsError, RecordSpecError
from stack.dns.hints import load_root_hints
from stack.dns.keys import format_key, load_keys, parse_key, read_key_option
from stack.dns.primary import Primary
from stack.dns.resolver import Resolver
from stack.dns.server import DnsServer
from stack.dns.service import ResolverService
from stack.dns.zones import ZoneDirectory
from stack.logs import service_log

log = logging.getLogger("stack.dns")
FC = TypeVar("FC", bound=Callable[..., Any])


def _endpoints(
    ctx: click.Context, param: click.Parameter, value: str | tuple[str, ...] | None
) -> Endpoint | tuple[Endpoint, ...] | None:
    """``ADDR:PORT`` options to :class:`Endpoint` values (a callback works on every click)."""
    try:
        if value is None:
            return None
        if isinstance(value, tuple):
            return tuple(parse_endpoint(text) for text in value)
        return parse_endpoint(value)
    except DnsError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def endpoint_option(*names: str, **options: Any) -> Callable[[FC], FC]:
    """A ``click.option`` that takes ``ADDR:PORT`` and hands the command :class:`Endpoint`."""
    return click.option(*names, callback=_endpoints, metavar="ADDR:PORT", **options)


@click.group(name="dns")
def dns_group() -> None:
    """The domain's DNS: an authoritative primary with TSIG updates, and a caching resolver.

    \b
    Example:
      elsinore dns serve --zones zones/ --listen 127.0.0.1:5353 --keys dns.keys
      elsinore dns resolve castle.test MX --server 127.0.0.1:5353
    """


async def _serve_until_stopped(
    server: DnsServer,
    banner: Callable[[Endpoint], str],
    pid_file: Path | None,
    on_hangup: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop cleanly (exit status 0).

    The pid file exists exactly while the server listens.  The signal handlers come first:
    whoever reads the pid file, or the banner, may signal us at once.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if on_hangup is not None:
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    try:
        bound = await server.start()
        pid = f"{os.getpid()}\n"
        if pid_file is not None:
            pid_file.write_text(pid, encoding="ascii")
        try:
            click.echo(banner(bound))
            await stop.wait()
        finally:
            # Another instance started with the same pid file owns it now: leave it.
            if pid_file is not None and _read_quietly(pid_file) == pid:
                pid_file.unlink(missing_ok=True)
    finally:
        await server.close()


def _read_quietly(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None


@dns_group.command()
@click.option(
    "--zones",
    "zones_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of master files, one per zone, named ZONE or ZONE.zone.",
)
@endpoint_option("--listen", default="127.0.0.1:53", show_default=True)
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TSIG keys, one name:algorithm:secret a line; allows updates and AXFR.",
)
@click.option("--pid-file", type=click.Path(dir_okay=False, path_type=Path), help="Write our pid.")
def serve(zones_dir: Path, listen: Endpoint, keys_file: Path | None, pid_file: Path | None) -> None:
    """Serve the zones in ZONES authoritatively over UDP and TCP until stopped.

    Signed updates (RFC 2136) are written back to the zone files; SIGHUP, or
    `elsinore dns reload`, re-reads them.  Recursion is refused.

    \b
    Example:
      elsinore dns serve --zones zones/ --listen 127.0.0.1:5353 --keys dns.keys
    """
    directory = ZoneDirectory(zones_dir)
    keyring = load_keys(keys_file) if keys_file is not None else {}
    primary = Primary.from_directory(directory, keyring)

    def reload() -> None:
        try:
            primary.reload()
        except DnsError as exc:
            log.error("reload failed, still serving the old zones: %s", exc)
            return
        log.info("reloaded %d zones", len(primary.zones))

    names = " ".join(sorted(str(z.origin) for z in primary.zones))
    keys = f"{len(keyring)} TSIG key{'s' if len(keyring) != 1 else ''}"
    server = DnsServer(primary.respond, listen)
    with service_log("elsinore dns", timestamps=False):
        asyncio.run(
            _serve_until_stopped(
                server,
                lambda bound: f"serving {names} on {bound} udp+tcp; {keys}",
                pid_file,
                reload,
            )
        )


def _resolver_options(
    server: Sequence[Endpoint], root_hints: Path | None, port: int, timeout: float, retries: int
) -> Resolver:
    if bool(server) == (root_hints is not None):
        raise click.UsageError("give --server ADDR:PORT or --root-hints FILE (one of them)")
    roots = load_root_hints(root_hints) if root_hints is not None else []
    return Resolver(roots, server, port=port, timeout=timeout, retries=retries)


_SERVER_HELP = "Ask this server (with RD set) instead of recursing; repeatable."
_HINTS_HELP = "Recurse from the root servers in this named.root-style file."
_PORT_HELP = "Port of every server learnt from hints and glue (which carry no ports)."


@dns_group.command()
@endpoint_option("--listen", default="127.0.0.1:53", show_default=True)
@endpoint_option("--server", multiple=True, help=_SERVER_HELP)
@click.option("--root-hints", type=click.Path(dir_okay=False, path_type=Path), help=_HINTS_HELP)
@click.option("--port", default=DNS_PORT, show_default=True, help=_PORT_HELP)
@click.option("--timeout", default=2.0, show_default=True, help="Seconds per try.")
@click.option("--retries", default=1, show_default=True, help="Extra rounds over the servers.")
@click.option("--pid-file", type=click.Path(dir_okay=False, path_type=Path), help="Write our pid.")
def resolver(
    *,
    listen: Endpoint,
    server: tuple[Endpoint, ...],
    root_hints: Path | None,
    port: int,
    timeout: float,
    retries: int,
    pid_file: Path | None,
) -> None:
    """Serve the caching resolver on LISTEN (UDP and TCP) for the stack's services.

    \b
    Example:
      elsinore dns resolver --listen 127.0.0.53:53 --root-hints root.hints
    """
    service = ResolverService(_resolver_options(server, root_hints, port, timeout, retries))
    dns_server = DnsServer(service, listen)
    with service_log("elsinore dns", timestamps=False):
        asyncio.run(
            _serve_until_stopped(
                dns_server,
                lambda bound: f"resolving on {bound} udp+tcp",
                pid_file,
                service.resolver.cache.clear,
            )
        )


def answer_to_json(answer: Answer) -> dict[str, Any]:
    """The JSON form ``resolve --json`` prints: rcode, records in presentation form, SOA."""
    return {
        "name": answer.qname.to_text(),
        "type": answer.rdtype.name,
        "rcode": dns.rcode.to_text(answer.rcode),
        "answer": [
            {"name": r.name.to_text(), "ttl": r.ttl, "type": r.rdtype.name, "data": rd.to_text()}
            for r in answer.rrsets
            for rd in r
        ],
        "authority": [line for r in answer.authority for line in r.to_text().splitlines()],
    }


@dns_group.command()
@click.argument("name")
@click.argument("rdtype", metavar="TYPE", default="A")
@endpoint_option("--server", multiple=True, help=_SERVER_HELP)
@click.option("--root-hints", type=click.Path(dir_okay=False, path_type=Path), help=_HINTS_HELP)
@click.option("--port", default=DNS_PORT, show_default=True, help=_PORT_HELP)
@click.option("--timeout", default=2.0, show_default=True, help="Seconds per try.")
@click.option("--retries", default=1, show_default=True, help="Extra rounds over the servers.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
def resolve(
    *,
    name: str,
    rdtype: str,
    server: tuple[Endpoint, ...],
    root_hints: Path | None,
    port: int,
    timeout: float,
    retries: int,
    as_json: bool,
) -> None:
    """Resolve NAME (TYPE, default A) through a server or recursively from root hints.

    Exits 0 with the answer, NXDOMAIN or NODATA printed; 1 when nobody answered.

    \b
    Example:
      elsinore dns resolve castle.test MX --server 127.0.0.1:5353
      elsinore dns resolve mail.castle.test A --root-hints root.hints --port 5300 --json
    """
    try:
        rdatatype = dns.rdatatype.RdataType.make(rdtype.upper())
    except dns.exception.DNSException:
        raise click.BadParameter(f"unknown record type {rdtype!r}", param_hint="TYPE") from None
    resolver = _resolver_options(server, root_hints, port, timeout, retries)
    answer = asyncio.run(resolver.resolve(name, rdatatype))
    if as_json:
        click.echo(json.dumps(answer_to_json(answer), indent=2))
        return
    status = dns.rcode.to_text(answer.rcode)
    if answer.rcode == dns.rcode.NOERROR and answer.rrset() is None:
        status = "NODATA"
    click.echo(f";; {answer.qname} {answer.rdtype.name}: {status}")
    for rrset in (*answer.rrsets, *answer.authority):
        click.echo(rrset.to_text())


@dns_group.command()
@click.option("--pid-file", type=click.Path(dir_okay=False, path_type=Path), help="From serve.")
@click.option("--pid", type=int, help="The serving process's id.")
def reload(pid_file: Path | None, pid: int | None) -> None:
    """Make a running `dns serve` re-read its zone files (sends it SIGHUP).

    \b
    Example:
      elsinore dns serve --zones zones/ --pid-file dns.pid &
      elsinore dns reload --pid-file dns.pid
    """
    if (pid_file is None) == (pid is None):
        raise click.UsageError("give --pid-file FILE or --pid PID (one of them)")
    if pid_file is not None:
        try:
            pid = int(pid_file.read_text(encoding="ascii").strip())
        except (OSError, ValueError) as exc:
            raise DnsError(f"{pid_file}: no pid to signal ({exc})") from None
    assert pid is not None
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise DnsError(f"no process {pid}: is `elsinore dns serve` running?") from None
    click.echo(f"asked process {pid} to reload its zones")


@dns_group.command()
@endpoint_option("--server", required=True, help="The primary to update.")
@click.option("--zone", required=True, help="The zone to change, e.g. castle.test.")
@click.option("--key", "key_text", required=True, help="name:algorithm:secret, or @FILE.")
@click.option(
    "--add", "adds", multiple=True, help="NAME TTL TYPE DATA, DATA in master-file syntax."
)
@click.option("--delete", "deletes", multiple=True, help='"NAME [TYPE [DATA]]"; repeatable.')
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def update(
    *,
    server: Endpoint,
    zone: str,
    key_text: str,
    adds: tuple[str, ...],
    deletes: tuple[str, ...],
    timeout: float,
    as_json: bool,
) -> None:
    """Send a TSIG-signed dynamic update (RFC 2136) to a primary.

    \b
    Example:
      elsinore dns update --server 127.0.0.1:5353 --zone castle.test \\
        --key @dns.keys --add 'sel._domainkey 300 TXT "v=DKIM1; k=ed25519; p=..."'
    """
    key = read_key_option(key_text)
    message = dns.update.UpdateMessage(zone, keyring=key)
    for add in adds:
        add_record(message, add)
    for delete in deletes:
        delete_records(message, delete)
    try:
        response = dns.query.tcp(message, server.host, timeout=timeout, port=server.port)
    except (ValueError, dns.exception.DNSException, OSError) as exc:
        raise DnsError(f"update of {zone} via {server} failed: {exc}") from None
    rcode = dns.rcode.to_text(response.rcode())
    if as_json:
        click.echo(json.dumps({"zone": zone, "server": str(server), "rcode": rcode}))
    else:
        click.echo(f"{zone}: {rcode}")
    if response.rcode() != dns.rcode.NOERROR:
        raise SystemExit(1)


_ADD_FORM = "NAME TTL TYPE DATA, e.g. 'sel._domainkey 300 TXT \"v=DKIM1; p=...\"'"
_DELETE_FORM = "NAME [TYPE [DATA]]"
#: RFC 2181 section 8: a TTL is an unsigned 31-bit number.
MAX_TTL = 2**31 - 1


def add_record(message: dns.update.UpdateMessage, spec: str) -> None:
    """Add the record ``spec`` (``NAME TTL TYPE DATA``, DATA in master-file syntax) to
    ``message``; a malformed one is a :class:`RecordSpecError` naming the field at fault."""
    fields = spec.split(None, 3)
    if len(fields) < 4:
        raise RecordSpecError(
            f"--add {spec!r}: expected {_ADD_FORM}; got {len(fields)} of the 4 fields"
        )
    name, ttl, rdtype, data = fields
    if not ttl.isdigit():
        raise RecordSpecError(f"--add {spec!r}: field 2 (TTL) {ttl!r} is not a number of seconds")
    if int(ttl) > MAX_TTL:
        raise RecordSpecError(f"--add {spec!r}: field 2 (TTL) {ttl!r} is over {MAX_TTL}")
    _record_field(message.add, "--add", spec, name, int(ttl), rdtype, data)


def delete_records(message: dns.update.UpdateMessage, spec: str) -> None:
    """Delete what ``spec`` (``NAME [TYPE [DATA]]``) names: the name, an RRset or a record."""
    fields = spec.split(None, 2)
    if not fields:
        raise RecordSpecError(f"--delete {spec!r}: expected {_DELETE_FORM}")
    _record_field(message.delete, "--delete", spec, *fields)


def _record_field(
    method: Callable[..., None], option: str, spec: str, name: str, *rest: str | int
) -> None:
    """Call ``method(name, *rest)``, first checking the name and the type on their own, so
    that an error says which field is wrong (dnspython's messages do not)."""
    try:
        dns.name.from_text(name)
    except dns.exception.DNSException as exc:
        raise RecordSpecError(f"{option} {spec!r}: field 1 (NAME) {name!r}: {exc}") from None
    types = [(index, field) for index, field in enumerate(rest, 2) if isinstance(field, str)]
    if types:
        index, rdtype = types[0]
        try:
            dns.rdatatype.from_text(rdtype)
        except dns.exception.DNSException:
            raise RecordSpecError(
                f"{option} {spec!r}: field {index} (TYPE) {rdtype!r} is not a record type"
            ) from None
    try:
        method(name, *rest)
    except (dns.exception.DNSException, ValueError) as exc:
        field = len(rest) + 1
        raise RecordSpecError(f"{option} {spec!r}: field {field} (DATA): {exc}") from None


@dns_group.command()
@click.argument("name")
@click.option("--algorithm", default="hmac-sha256", show_default=True)
def keygen(name: str, algorithm: str) -> None:
    """Print a new random TSIG key line for NAME, the form --keys files and --key take.

    \b
    Example:
      elsinore dns keygen signer >> dns.keys
    """
    secret = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    click.echo(format_key(parse_key(f"{name}:{algorithm}:{secret}", "--algorithm")))
