"""``elsinore dkim``, ``spf``, ``dmarc`` and ``arc``: the authentication checks by hand.

Thin commands: options become :mod:`stack.auth` values, results are printed one line each
for people or as JSON (``--json``) for scripts.  Every DNS query goes to ``--server``, our
resolver (or a primary), never to the machine's resolver.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import click

from stack.auth import arc, dkim, keys, publish
from stack.auth.errors import SigningKeyError
from stack.auth.inbound import authenticate
from stack.auth.lookup import resolver_lookup
from stack.auth.results import received_spf
from stack.auth.spf import check_host
from stack.dns.addresses import Endpoint
from stack.dns.cli import endpoint_option
from stack.dns.keys import read_key_option as read_tsig_key

FC = TypeVar("FC", bound=Callable[..., Any])

_SERVER_HELP = "The resolver (or primary) to ask; never the machine's resolver."
_DEFAULT_SERVER = "127.0.0.1:53"


def _server_option(function: FC) -> FC:
    """``--server ADDR:PORT``, the DNS server every lookup of the command goes to."""
    option = endpoint_option(
        "--server", default=_DEFAULT_SERVER, show_default=True, help=_SERVER_HELP
    )
    return option(function)


def _message_argument(function: FC) -> FC:
    """``[MSG|-]``: a message file, or standard input."""
    argument = click.argument("message", type=click.File("rb"), default="-", metavar="[MSG|-]")
    return argument(function)


def _read_message(stream: BinaryIO) -> bytes:
    """MSG's bytes, or the :class:`~stack.auth.errors.MessageError` the signer and sealer
    raise for a message dkimpy cannot read: verifying would only report it as a permerror
    of every signature, and a user is better told where and why."""
    data = stream.read()
    dkim.readable(data)
    return data


@click.group(name="dkim")
def dkim_group() -> None:
    """DKIM keys, signatures and verification (RFC 6376, RFC 8463).

    \b
    Example:
      elsinore dkim keygen --domain castle.test --selector s1 --out s1
      elsinore dkim sign --domain castle.test --selector s1 --key s1.key msg.eml > signed.eml
      elsinore dkim verify --server 127.0.0.1:5353 signed.eml
    """


@dkim_group.command()
@click.option("--domain", required=True, help="The signing domain (d=).")
@click.option("--selector", required=True, help="The selector (s=); it may hold dots.")
@click.option("--algorithm", type=click.Choice(keys.ALGORITHMS), default="rsa", show_default=True)
@click.option(
    "--bits",
    default=keys.DEFAULT_RSA_BITS,
    show_default=True,
    help=f"RSA key size, {keys.MIN_RSA_BITS} to {keys.MAX_RSA_BITS} bits.",
)
@click.option("--out", "prefix", required=True, type=click.Path(path_type=Path), help="PREFIX.")
@click.option("--force", is_flag=True, help="Replace PREFIX.key and PREFIX.txt if they exist.")
@click.option(
    "--seed",
    "seed_text",
    help="Base64 of 32 bytes, or @FILE holding it: the same seed gives the same key.",
)
def keygen(
    domain: str,
    selector: str,
    algorithm: keys.Algorithm,
    bits: int,
    prefix: Path,
    force: bool,
    seed_text: str | None,
) -> None:
    """Write a new key to PREFIX.key and its TXT record to PREFIX.txt.

    PREFIX.txt is a master-file line, strings of at most 255 octets, to paste into the
    zone as it is or to give to `dkim publish`.  With --seed, the key is the one the seed
    gives (as the seed deployment's --key-seed): the RSA and Ed25519 keys of one seed differ.

    \b
    Example:
      elsinore dkim keygen --domain castle.test --selector s1 --algorithm ed25519 --out s1
      elsinore dkim keygen --domain castle.test --selector r1 --seed @key.seed --out r1
    """
    name = publish.selector_name(selector, domain)
    seed = None if seed_text is None else _read_seed_option(seed_text)
    if not force:
        for path in keys.paths(prefix):
            if path.exists():
                raise SigningKeyError(f"{path}: exists already (--force replaces it)")
    key = keys.generate(algorithm, bits) if seed is None else keys.from_seed(seed, algorithm, bits)
    keys.write(key, prefix, publish.zone_line(name, key.record()), replace=force)
    key_path, record_path = keys.paths(prefix)
    if algorithm == "rsa" and bits < keys.RECOMMENDED_RSA_BITS:
        click.echo(
            f"elsinore: warning: {bits}-bit RSA is allowed but weak; RFC 8301 3.2 says a"
            f" signing key SHOULD have at least {keys.RECOMMENDED_RSA_BITS} bits",
            err=True,
        )
    click.echo(f"{key_path}: {algorithm} private key")
    click.echo(f"{record_path}: TXT record for {name.to_text(omit_final_dot=True)}")


def _read_seed_option(text: str) -> bytes:
    """``--seed``: the seed's base64, or ``@FILE`` holding it (off the command line, where
    every user's ``ps`` would show it)."""
    if not text.startswith("@"):
        return keys.read_seed(text)
    path = Path(text[1:])
    try:
        content = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningKeyError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    return keys.read_seed(content, str(path))


@dkim_group.command(name="publish")
@endpoint_option("--server", required=True, help="The primary to update.")
@click.option("--zone", required=True, help="The zone holding the selector, e.g. castle.test.")
@click.option("--domain", required=True)
@click.option("--selector", required=True)
@click.option("--record", "record_file", required=True, type=click.File("r"), help="PREFIX.txt.")
@click.option("--tsig", "tsig_text", required=True, help="name:algorithm:secret, or @FILE.")
@click.option("--ttl", default=300, show_default=True)
def publish_command(
    server: Endpoint,
    zone: str,
    domain: str,
    selector: str,
    record_file: Any,
    tsig_text: str,
    ttl: int,
) -> None:
    """Publish a key record by a TSIG-signed update (RFC 2136) to our primary.

    \b
    Example:
      elsinore dkim publish --server 127.0.0.1:5353 --zone castle.test \\
        --domain castle.test --selector s1 --record s1.txt --tsig @dns.keys
    """
    record = publish.read_record(record_file.read(), selector, domain)
    publish.publish(server, zone, selector, domain, record, read_tsig_key(tsig_text), ttl=ttl)
    name = publish.selector_name(selector, domain).to_text(omit_final_dot=True)
    click.echo(f"{name}: published")


@dkim_group.command(name="sign")
@click.option("--domain", required=True, help="The signing domain (d=).")
@click.option("--selector", required=True, help="The selector (s=).")
@click.option("--key", "key_path", required=True, type=click.Path(path_type=Path))
@click.option(
    "--header",
    "headers",
    multiple=True,
    help="A field to sign (repeatable); default: RFC 6376 §5.4.1's list.",
)
@click.option(
    "--oversign",
    multiple=True,
    help="A field signed once more than present (repeatable); default: From, To, Subject.",
)
@_message_argument
def sign_command(
    domain: str,
    selector: str,
    key_path: Path,
    headers: tuple[str, ...],
    oversign: tuple[str, ...],
    message: BinaryIO,
) -> None:
    """Sign MSG (relaxed/relaxed) and write the signed message to stdout.

    MSG must have exactly one From field: RFC 6376 §5.4 requires it signed.

    \b
    Example:
      elsinore dkim sign --domain castle.test --selector s1 --key s1.key msg.eml
    """
    key = keys.load(key_path)
    signer = dkim.Signer(
        domain,
        selector,
        key,
        headers=headers or dkim.DEFAULT_HEADERS,
        oversign=oversign or dkim.OVERSIGNED,
    )
    signed = signer.sign(message.read())
    sys.stdout.buffer.write(signed)
    sys.stdout.buffer.flush()


@dkim_group.command(name="verify")
@_server_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per signature.")
@_message_argument
def verify_command(server: Endpoint, as_json: bool, message: BinaryIO) -> None:
    """Verify every signature of MSG; one line each; exit 0 only if all pass.

    \b
    Example:
      elsinore dkim verify --server 127.0.0.1:5353 signed.eml
    """
    data = _read_message(message)
    with resolver_lookup(server) as lookup:
        results = dkim.verify_all(data, lookup)
    for result in results:
        if as_json:
            click.echo(json.dumps(asdict(result)))
        else:
            reason = f" ({result.reason})" if result.reason else ""
            click.echo(
                f"{result.result} d={result.domain} s={result.selector} a={result.algorithm}"
                f" b={result.signature_b}{reason}"
            )
    if not results:
        click.echo("none: no DKIM-Signature field", err=True)
    if not results or not all(result.passed for result in results):
        raise click.exceptions.Exit(1)


@click.group(name="spf")
def spf_group() -> None:
    """SPF (RFC 7208): may this address send for this sender?

    \b
    Example:
      elsinore spf check --ip 192.0.2.1 --sender a@castle.test --helo mx.castle.test \\
        --server 127.0.0.1:5353
    """


@spf_group.command(name="check")
@click.option("--ip", required=True, help="The SMTP client's address.")
@click.option("--sender", default="", help="MAIL FROM (empty: the HELO identity is checked).")
@click.option("--helo", required=True, help="The HELO/EHLO name.")
@click.option("--receiver", default="elsinore", show_default=True, help="For Received-SPF.")
@_server_option
@click.option("--json", "as_json", is_flag=True)
def spf_check(
    ip: str, sender: str, helo: str, receiver: str, server: Endpoint, as_json: bool
) -> None:
    """Print the check_host() result and the Received-SPF field; exit 0 for pass.

    \b
    Example:
      elsinore spf check --ip 192.0.2.1 --sender a@castle.test --helo mx.castle.test
    """
    with resolver_lookup(server) as lookup:
        result = check_host(ip, sender, helo, lookup)
    field = f"Received-SPF: {received_spf(result, receiver)}"
    if as_json:
        click.echo(json.dumps({**asdict(result), "received_spf": field}))
    else:
        click.echo(
            f"{result.result}: {result.explanation}" if result.explanation else result.result
        )
        click.echo(field)
    if not result.passed:
        raise click.exceptions.Exit(1)


@click.group(name="dmarc")
def dmarc_group() -> None:
    """DMARC (RFC 7489): does the From domain's policy accept this message?

    \b
    Example:
      elsinore dmarc check --ip 127.0.0.25 --sender a@castle.test --helo mail.castle.test \\
        --server 127.0.0.1:5353 signed.eml
    """


@dmarc_group.command(name="check")
@click.option("--ip", required=True, help="The SMTP client's address.")
@click.option("--sender", default="", help="MAIL FROM (empty: the HELO identity is checked).")
@click.option("--helo", required=True, help="The HELO/EHLO name.")
@click.option(
    "--authserv-id", default="elsinore", show_default=True, help="For Authentication-Results."
)
@_server_option
@click.option("--json", "as_json", is_flag=True)
@_message_argument
def dmarc_check(
    ip: str,
    sender: str,
    helo: str,
    authserv_id: str,
    server: Endpoint,
    as_json: bool,
    message: BinaryIO,
) -> None:
    """Check SPF, every DKIM signature and DMARC; print the result, the disposition and the
    Authentication-Results field.

    Exit 0 when the disposition is none (deliver as is), 1 for quarantine or reject, and 2
    when DMARC cannot evaluate the message because it has not exactly one From author (RFC
    7489 §6.6.1): the permerror result is printed all the same, the reason on stderr.

    \b
    Example:
      elsinore dmarc check --ip 127.0.0.25 --sender a@castle.test --helo mail.castle.test \\
        --server 127.0.0.1:5353 signed.eml
    """
    data = message.read()
    with resolver_lookup(server) as lookup:
        verdict = authenticate(data, ip, sender, helo, lookup)
    outcome = verdict.dmarc
    field = f"Authentication-Results: {verdict.authentication_results(authserv_id)}"
    if as_json:
        record = asdict(outcome.record) if outcome.record else None
        summary = {**asdict(outcome), "record": record, "authentication_results": field}
        click.echo(json.dumps(summary))
    else:
        policy = f" p={outcome.policy}" if outcome.policy else ""
        reason = f" ({outcome.reason})" if outcome.reason else ""
        click.echo(
            f"{outcome.result} from={outcome.from_domain or '-'}{policy}"
            f" disposition={outcome.disposition}{reason}"
        )
        click.echo(field)
    if not outcome.from_domain:
        # Not a verdict on the message but on its form; a script must not read it as
        # "deliver as is", nor as the From domain's policy.
        reason = "DMARC cannot evaluate the message (RFC 7489 §6.6.1)"
        click.echo(f"elsinore: error: {outcome.reason}: {reason}", err=True)
        raise click.exceptions.Exit(2)
    if outcome.disposition != "none":
        raise click.exceptions.Exit(1)


@click.group(name="arc")
def arc_group() -> None:
    """ARC (RFC 8617): seal mail you forward, validate the chain of mail you receive.

    \b
    Example:
      elsinore arc seal --domain castle.test --selector arc --key arc.key \\
        --authserv-id relay.castle.test stamped.eml > sealed.eml
      elsinore arc verify --server 127.0.0.1:5353 sealed.eml
    """


@arc_group.command(name="seal")
@click.option("--domain", required=True, help="The sealing domain (d=).")
@click.option("--selector", required=True, help="The selector (s=).")
@click.option("--key", "key_path", required=True, type=click.Path(path_type=Path), help="RSA.")
@click.option("--authserv-id", required=True, help="Whose Authentication-Results to seal.")
@_message_argument
def arc_seal(
    domain: str, selector: str, key_path: Path, authserv_id: str, message: BinaryIO
) -> None:
    """Add an ARC set over MSG's Authentication-Results of AUTHSERV-ID; write it to stdout.

    \b
    Example:
      elsinore arc seal --domain castle.test --selector arc --key arc.key \\
        --authserv-id relay.castle.test stamped.eml
    """
    key = keys.load(key_path)
    sealed = arc.seal(message.read(), domain, selector, key, authserv_id)
    sys.stdout.buffer.write(sealed)
    sys.stdout.buffer.flush()


@arc_group.command(name="verify")
@_server_option
@_message_argument
def arc_verify(server: Endpoint, message: BinaryIO) -> None:
    """Validate MSG's ARC chain: print none, pass or fail; exit 1 for fail, and for a
    message that cannot be read (one line on stderr).

    \b
    Example:
      elsinore arc verify --server 127.0.0.1:5353 sealed.eml
    """
    with resolver_lookup(server) as lookup:
        chain = arc.verify_chain(_read_message(message), lookup)
    reason = f" ({chain.reason})" if chain.reason else ""
    click.echo(f"{chain.result} sets={chain.instances}{reason}")
    if chain.result == "fail":
        raise click.exceptions.Exit(1)
