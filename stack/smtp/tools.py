"""``elsinore srv``, ``send`` and ``submit``: the tools for talking SMTP by hand (blaze has the
first two).

``srv`` is a sink: it accepts every message and stores it exactly as received, one ``.eml``
file each or a Maildir, so a test or a benchmark can look at what a hop forwarded.  A file
appears only complete (written under a temporary name, fsync'd, renamed, and the directory
fsync'd), so whoever watches the directory never reads half a message, and a message the
sink said 250 to survives a crash of the machine.  It stops on SIGTERM or SIGINT as every
long-running command of the stack does: no new connection, the transaction in progress
finished, exit 0.

``send`` sends one message through one server with the stack's outbound client
(:mod:`.client`, smarthost mode), STARTTLS when offered, and prints the reply for each
recipient (``--json`` for scripts).  Its exit status says what happened: 0 all delivered,
1 some refused for good (5xx), 75 (``EX_TEMPFAIL``) some to be tried again later.

``submit`` is ``send`` for a user of the domain: through a submission server (RFC 6409), over
TLS only (implicit, RFC 8314, or STARTTLS, which it requires), logged in with AUTH PLAIN or
LOGIN (RFC 4954) before MAIL.  Same output, same exit statuses; a failed login is one line.

All three are written on aiosmtpd and aiosmtplib; what is ours is storage, shutdown and output.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal, NoReturn, Protocol

import aiosmtplib
import click
from aiosmtpd.smtp import SMTP, Envelope, Session

from stack.cli import endpoint_callback
from stack.dns.addresses import Endpoint
from stack.errors import ListenError
from stack.files import fsync_directory
from stack.logs import service_log
from stack.mime.safe import safe_text
from stack.smtp.client import Outbound, RecipientResult, read_reply
from stack.smtp.policy import LOG_LIMIT
from stack.smtp.server import TrackedSession
from stack.smtp.tls import MINIMUM_VERSION, client_context, server_context

log = logging.getLogger("elsinore.srv")

#: ``sysexits.h``: a temporary failure, to be tried again (what sendmail exits with).
EX_TEMPFAIL = 75
#: How long a stopping server waits for the transactions in progress.
STOP_GRACE = 30.0
#: aiosmtpd's default, a little over 32 MiB: what srv accepts unless told otherwise.
DEFAULT_MAX_SIZE = 33_554_432


# -- storage ----------------------------------------------------------------------------------


class Store(Protocol):
    """Where ``srv`` puts a message: returns the name it is stored under."""

    def put(self, data: bytes) -> str: ...


def _write_durably(data: bytes, temporary: Path, final: Path, *, fsync: bool) -> None:
    """Write ``data`` to ``temporary``, then rename it to ``final``: readers see whole files.

    With ``fsync`` the file is flushed before the rename and the directory after it, the order
    that makes both the content and the name survive a power cut.
    """
    with open(temporary, "xb") as out:
        out.write(data)
        if fsync:
            out.flush()
            os.fsync(out.fileno())
    os.replace(temporary, final)
    if fsync:
        fsync_directory(final.parent)


class _Names:
    """Unique file names: time, process and a counter, as Maildir names them (and ``.eml``
    files alike).  ``next`` on an ``itertools.count`` is atomic, so threads may share it."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")

    def next(self) -> str:
        now = time.time_ns()
        seconds, micro = divmod(now // 1000, 1_000_000)
        return f"{seconds}.M{micro}P{os.getpid()}Q{next(self._counter)}.{self._host}"


class EmlDirectory:
    """One ``NAME.eml`` file per message in one directory."""

    def __init__(self, directory: Path, *, fsync: bool = True) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.fsync = fsync
        self._names = _Names()

    def put(self, data: bytes) -> str:
        name = f"{self._names.next()}.eml"
        temporary = self.directory / f".{name}.tmp"  # a dot file: no *.eml glob sees it
        _write_durably(data, temporary, self.directory / name, fsync=self.fsync)
        return name


class Maildir:
    """A Maildir (``tmp/``, ``new/``, ``cur/``): written in ``tmp``, delivered into ``new``.

    The standard library's :class:`mailbox.Maildir` does the same renames but never fsyncs,
    and a sink that answered 250 must not lose the message to a crash.
    """

    def __init__(self, directory: Path, *, fsync: bool = True) -> None:
        for sub in ("tmp", "new", "cur"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.fsync = fsync
        self._names = _Names()

    def put(self, data: bytes) -> str:
        name = self._names.next()
        _write_durably(
            data, self.directory / "tmp" / name, self.directory / "new" / name, fsync=self.fsync
        )
        return f"new/{name}"


# -- the sink's SMTP server --------------------------------------------------------------------


class Sink:
    """The aiosmtpd handler of ``srv``: every message to the store, one log line each."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stored = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        client = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        try:
            # Off the event loop: an fsync takes milliseconds the other sessions can use.
            name = await asyncio.to_thread(self.store.put, data)
        except OSError as exc:
            log.error("client=%s not stored: %s", client, exc.strerror or exc)
            return "451 4.3.0 Cannot store the message now; try again later"
        self.stored += 1
        recipients = ",".join(f"<{safe_text(r, limit=LOG_LIMIT)}>" for r in envelope.rcpt_tos)
        # aiosmtpd keeps the null sender as "<>": logged from=<>, as Postfix logs it.
        sender = "" if envelope.mail_from == "<>" else envelope.mail_from or ""
        log.info(
            "stored %s client=%s from=<%s> to=%s size=%d",
            name,
            client,
            safe_text(sender, limit=LOG_LIMIT),
            recipients,
            len(data),
        )
        return f"250 2.0.0 Ok: stored as {name}"


class _Tracked(TrackedSession):
    """A sink's session: aiosmtpd's own, tracked."""

    @property
    def in_transaction(self) -> bool:
        """Between MAIL and the reply to the end of DATA."""
        envelope = self.envelope
        return envelope is not None and envelope.mail_from is not None


async def serve_until_stopped(
    endpoint: Endpoint,
    factory: Callable[[set[_Tracked]], _Tracked],
    banner: Callable[[str], str],
    grace: float = STOP_GRACE,
) -> None:
    """Listen until SIGTERM or SIGINT; then stop accepting, let every transaction in progress
    finish (up to ``grace`` seconds), close the sessions, and return."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sessions: set[_Tracked] = set()
    try:
        server = await loop.create_server(
            lambda: factory(sessions), endpoint.host, endpoint.port, reuse_address=True
        )
    except OSError as exc:
        raise ListenError.from_os_error(endpoint, exc) from None
    host, port = server.sockets[0].getsockname()[:2]
    click.echo(banner(str(Endpoint(host, port))))
    sys.stdout.flush()
    await stop.wait()
    server.close()
    log.info("stopping: no new connections, %d open", len(sessions))
    deadline = loop.time() + grace
    while sessions and loop.time() < deadline:
        for session in [s for s in sessions if not s.in_transaction]:
            session.shut()
        await asyncio.sleep(0.02)
    for session in list(sessions):
        session.shut()
    await server.wait_closed()


@click.command("srv")
@click.option("--listen", required=True, callback=endpoint_callback(25), metavar="ADDR:PORT",
              help="Where to accept SMTP, e.g. 127.0.0.1:2525.")  # fmt: skip
@click.option("-o", "--output", "directory", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory to store the messages in (created if needed).")  # fmt: skip
@click.option("--maildir", is_flag=True, help="Store as a Maildir (tmp/new/cur) in DIR.")
@click.option("--hostname", default="srv.localhost", show_default=True,
              help="The name the greeting and EHLO reply give.")  # fmt: skip
@click.option("--max-size", default=DEFAULT_MAX_SIZE, show_default=True,
              help="Largest message accepted, in octets (advertised as SIZE).")  # fmt: skip
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path),
              help="Offer STARTTLS with this certificate (PEM, leaf first).")  # fmt: skip
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path),
              help="The certificate's private key (PEM).")  # fmt: skip
@click.option("--no-fsync", is_flag=True,
              help="Do not fsync each file (faster; for benchmarks only).")  # fmt: skip
def srv(
    *,
    listen: Endpoint,
    directory: Path,
    maildir: bool,
    hostname: str,
    max_size: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    no_fsync: bool,
) -> None:
    """A sink: store every message received, exactly as received, one .eml file each.

    Each message is written under a temporary name, fsync'd and renamed, so a file in DIR
    is always complete.  One log line per message on stderr.  SIGTERM or SIGINT: stop
    accepting, finish the transaction in progress, exit 0.

    \b
    Examples:
      $ elsinore srv --listen 127.0.0.1:2525 -o received/
      $ elsinore srv --listen 127.0.0.1:2525 -o ~/Maildir --maildir \\
            --tls-cert mx.crt --tls-key mx.key
    """
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    tls = server_context(tls_cert, tls_key) if tls_cert and tls_key else None
    store: Store = (
        Maildir(directory, fsync=not no_fsync)
        if maildir
        else EmlDirectory(directory, fsync=not no_fsync)
    )
    sink = Sink(store)

    def session(sessions: set[_Tracked]) -> _Tracked:
        return _Tracked(
            sink,
            sessions=sessions,
            hostname=hostname,
            data_size_limit=max_size,
            enable_SMTPUTF8=True,
            tls_context=tls,
        )

    kind = "Maildir" if maildir else ".eml files"
    # aiosmtpd's own per-command log cost a third of the sink's time under load: service_log
    # keeps it to warnings.
    with service_log("elsinore srv"):
        asyncio.run(
            serve_until_stopped(
                listen,
                session,
                lambda bound: f"srv: listening on {bound}, storing {kind} in {directory}",
            )
        )
        log.info("stopped after %d message%s", sink.stored, "" if sink.stored == 1 else "s")


# -- send and submit -------------------------------------------------------------------------
#
# Both hand one message to one server with the outbound client; submit logs in first.  What
# they share is here once: the envelope and session options, reading the message, running the
# delivery, and printing the per-recipient results.


def _read_message(source: BinaryIO) -> bytes:
    data = source.read()
    if not data:
        raise click.UsageError("the message is empty")
    return data


def _result_json(result: RecipientResult) -> dict[str, Any]:
    return {
        "recipient": result.recipient,
        "code": result.code,
        "enhanced": result.enhanced,
        "text": result.text,
        "remote": result.remote,
        "delivered": result.delivered,
        "permanent": result.permanent,
    }


def exit_status(results: list[RecipientResult]) -> int:
    """0 when every recipient took the message, 1 when one refused it for good, else 75."""
    if all(result.delivered for result in results):
        return 0
    return 1 if any(result.permanent for result in results) else EX_TEMPFAIL


def _options(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Apply click decorators in the order written, as if stacked by hand."""

    def apply(function: Any) -> Any:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


_envelope_options = _options(
    click.option(
        "--sender",
        "-f",
        required=True,
        help="The envelope sender (MAIL FROM); '' for the null sender.",
    ),
    click.option(
        "-r",
        "--rcpt",
        "recipients",
        multiple=True,
        required=True,
        help="An envelope recipient (RCPT TO); repeatable.",
    ),
)
_session_options = _options(
    click.option("--helo", default="localhost", show_default=True, help="The name to EHLO with."),
    click.option("--timeout", default=30.0, show_default=True, help="Seconds per SMTP step."),
    click.option(
        "--json", "as_json", is_flag=True, help="Print the per-recipient results as JSON."
    ),
    click.argument("message", type=click.File("rb"), default="-"),
)


def _deliver(
    outbound: Outbound, sender: str, recipients: tuple[str, ...], data: bytes
) -> list[RecipientResult]:
    async def deliver() -> list[RecipientResult]:
        try:
            return await outbound.deliver(sender, recipients, data)
        finally:
            await outbound.aclose()

    return asyncio.run(deliver())


def _print_results(
    results: list[RecipientResult], *, as_json: bool, extra: dict[str, Any] | None = None
) -> None:
    """One line per recipient, or ``--json``'s list: one object per recipient, each with the
    ``extra`` keys too (so a script that reads ``send --json`` reads ``submit --json``)."""
    if as_json:
        records = [{**_result_json(result), **(extra or {})} for result in results]
        click.echo(json.dumps(records, indent=2))
        return
    for result in results:
        click.echo(f"{result.recipient}: {_reply_text(result)}")


def _reply_text(result: RecipientResult) -> str:
    reply = " ".join(str(part) for part in (result.code or "", result.enhanced) if part)
    where = f" ({result.remote})" if result.remote else ""
    return f"{reply} {safe_text(result.text)}{where}"


@click.command("send")
@click.option("--server", required=True, callback=endpoint_callback(25), metavar="ADDR:PORT",
              help="The SMTP server to hand the message to (port 25 if left out).")  # fmt: skip
@_envelope_options
@click.option("--starttls", type=click.Choice(["opportunistic", "required", "never"]),
              default="opportunistic", show_default=True,
              help="STARTTLS when offered, always (or fail), or never.")  # fmt: skip
@click.option("--tls-ca", type=click.Path(dir_okay=False, path_type=Path),
              help="Verify the server's certificate against this CA (PEM).")  # fmt: skip
@_session_options
def send(
    *,
    server: Endpoint,
    sender: str,
    recipients: tuple[str, ...],
    starttls: Literal["opportunistic", "required", "never"],
    tls_ca: Path | None,
    helo: str,
    timeout: float,
    as_json: bool,
    message: BinaryIO,
) -> None:
    """Send one message (a FILE, or stdin) through one SMTP server.

    Prints the server's reply for each recipient.  Exit status: 0 when every recipient was
    accepted, 1 when one was refused for good (5xx), 75 when one should be tried again later.

    \b
    Examples:
      $ elsinore make --from hamlet@castle.test --to ophelia@castle.test -s Hi <<< 'Hello' \\
            | elsinore send --server 127.0.0.1:2525 --sender hamlet@castle.test \\
                -r ophelia@castle.test
      $ elsinore send --server 127.0.0.1:2525 --sender '' -r postmaster@castle.test \\
            --starttls required --tls-ca ca.pem --json bounce.eml
    """
    data = _read_message(message)
    tls = client_context(tls_ca) if tls_ca is not None else None
    outbound = Outbound(
        helo=helo,
        smarthost=(server.host, server.port),
        starttls=starttls,
        tls_context=tls,
        per_destination=1,
        timeout=timeout,
    )
    results = _deliver(outbound, sender, recipients, data)
    _print_results(results, as_json=as_json)
    click.get_current_context().exit(exit_status(results))


# -- submit ----------------------------------------------------------------------------------

#: Where a password comes from when there is no ``--password-file``.  Not an option: the
#: command line of a process is anybody's to read (``ps``), its environment only its owner's.
PASSWORD_VARIABLE = "ELSINORE_PASSWORD"
#: The longest password read from a file; ``elsinore user`` stores none longer.
MAX_PASSWORD_BYTES = 1024
#: RFC 8314's implicit-TLS submission port, and RFC 6409's.
SUBMISSIONS_PORT = 465
SUBMISSION_PORT = 587

Security = Literal["tls", "starttls"]


class Login:
    """How submit logs in: the outbound client's ``login`` hook (:data:`.client.Login`).

    AUTH PLAIN when the server offers it, else LOGIN (RFC 4954; RFC 4616 for PLAIN), and only
    on an encrypted session: the outbound client has already refused a server that does not
    offer STARTTLS, and this checks again, since credentials sent in clear cannot be taken
    back.  It remembers what happened, which the results of the delivery cannot say: each
    recipient of a failed login gets the server's reply, but only this knows it came from AUTH.
    """

    def __init__(self, user: str, password: bytes) -> None:
        self.user = user
        self._password = password
        #: The mechanism used, once AUTH was sent.
        self.mechanism: str | None = None
        #: The server's reply to AUTH: code, enhanced status code, text.
        self.reply: tuple[int, str | None, str] | None = None
        #: Why no credential was sent, when we refused to.
        self.refusal: str | None = None

    async def __call__(self, smtp: aiosmtplib.SMTP) -> None:
        if smtp.get_transport_info("ssl_object") is None:
            self._refuse("the session is not encrypted; credentials are never sent in clear")
        offered = smtp.server_auth_methods
        mechanism = next((m for m in ("plain", "login") if m in offered), None)
        if mechanism is None:
            shown = " ".join(m.upper() for m in offered) or "no AUTH at all"
            self._refuse(f"the server offers neither AUTH PLAIN nor LOGIN ({shown})")
        self.mechanism = mechanism.upper()
        authenticate = smtp.auth_plain if mechanism == "plain" else smtp.auth_login
        try:
            response = await authenticate(self.user, self._password)
        except aiosmtplib.SMTPResponseException as exc:
            self.reply = (exc.code, *read_reply(exc.code, exc.message))
            raise
        self.reply = (response.code, *read_reply(response.code, response.message))

    def _refuse(self, reason: str) -> NoReturn:
        self.refusal = reason
        raise aiosmtplib.SMTPException(reason)

    @property
    def authenticated(self) -> bool:
        return self.reply is not None and self.reply[0] == 235

    def failure(self) -> tuple[str, int] | None:
        """The one-line error and exit status of a login that did not happen, or None."""
        if self.refusal is not None:
            return f"refused to log in: {self.refusal}", 1
        if self.reply is None or self.authenticated:
            return None
        code, enhanced, text = self.reply
        reply = " ".join(str(part) for part in (code, enhanced) if part)
        status = EX_TEMPFAIL if 400 <= code < 500 else 1
        return f"authentication failed: {reply} {safe_text(text)}", status


def read_password(password_file: Path | None) -> bytes:
    """The password: the first line of ``password_file`` (without its line end), else
    ``$ELSINORE_PASSWORD``, else asked for on the terminal; a :class:`click.UsageError` when
    none of them gives one."""
    if password_file is not None:
        try:
            with password_file.open("rb") as source:  # one line: a FIFO or /dev/zero ends too
                line = source.readline(MAX_PASSWORD_BYTES + 2)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise click.UsageError(f"cannot read {password_file}: {reason}") from None
        first = line.removesuffix(b"\n").removesuffix(b"\r")
        if len(first) > MAX_PASSWORD_BYTES:
            raise click.UsageError(
                f"the first line of {password_file} is longer than {MAX_PASSWORD_BYTES} bytes"
            )
        if not first:
            raise click.UsageError(f"the password file {password_file} has an empty first line")
        return first
    variable = os.environ.get(PASSWORD_VARIABLE)
    if variable is not None:
        if not variable:
            raise click.UsageError(f"{PASSWORD_VARIABLE} is set but empty")
        return os.fsencode(variable)
    if _has_terminal():
        typed = click.prompt("Password", hide_input=True, err=True, default="", show_default=False)
        if typed:
            return os.fsencode(typed)
    raise click.UsageError(
        f"no password: give --password-file FILE, or set {PASSWORD_VARIABLE}, or run on a terminal"
    )


def _has_terminal() -> bool:
    """Whether there is a terminal to ask on.  getpass asks on the controlling terminal, not
    on stdin, so a message piped in does not stop it, as with ssh or sudo."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True


def _security(tls: bool, starttls: bool, port: int) -> Security:
    """``--tls`` or ``--starttls`` as given, else what the port is for: implicit TLS on 465,
    STARTTLS on 587 and anywhere else."""
    if tls and starttls:
        raise click.UsageError("--tls and --starttls exclude each other")
    if tls or starttls:
        return "tls" if tls else "starttls"
    return "tls" if port == SUBMISSIONS_PORT else "starttls"


def system_context() -> ssl.SSLContext:
    """A context that verifies the server against the system's trust store and checks its
    name: for a client that sends credentials, never the opportunistic kind."""
    context = ssl.create_default_context()
    context.minimum_version = MINIMUM_VERSION
    return context


@click.command("submit")
@click.option("--server", required=True, callback=endpoint_callback(SUBMISSION_PORT),
              metavar="ADDR:PORT",
              help="The submission server (port 587 if left out).")  # fmt: skip
@click.option("--user", required=True, help="The name to log in as (AUTH).")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              help=f"Read the password from the first line of this file; else from "
                   f"${PASSWORD_VARIABLE}, else asked for on a terminal.")  # fmt: skip
@click.option("--tls", "implicit", is_flag=True,
              help="TLS from the first byte (port 465); the default on port 465.")  # fmt: skip
@click.option("--starttls", is_flag=True,
              help="STARTTLS, then AUTH; the default on any other port.")  # fmt: skip
@click.option("--ca", type=click.Path(dir_okay=False, path_type=Path),
              help="Verify the server's certificate against this CA (PEM) instead of the "
                   "system's trust store.")  # fmt: skip
@_envelope_options
@_session_options
def submit(
    *,
    server: Endpoint,
    user: str,
    password_file: Path | None,
    implicit: bool,
    starttls: bool,
    ca: Path | None,
    sender: str,
    recipients: tuple[str, ...],
    helo: str,
    timeout: float,
    as_json: bool,
    message: BinaryIO,
) -> None:
    """Submit one message (a FILE, or stdin) through a submission server, logged in.

    Logs in with AUTH PLAIN (LOGIN when PLAIN is not offered), always over TLS: implicit TLS
    with --tls, else STARTTLS, which the server must offer; credentials are never sent in
    clear.  The server's certificate must verify (against --ca, else the system's CAs).

    The password is never an option, since any user can read a command line with ps: it is
    the first line of --password-file, else $ELSINORE_PASSWORD, else asked for on a terminal.

    Prints the server's reply for each recipient, as send does.  Exit status: 0 when every
    recipient was accepted, 1 when the login or a recipient was refused for good (5xx), 75
    when it should be tried again later; a failed login is one line on stderr.

    \b
    Examples:
      $ elsinore submit --server 127.0.10.3:587 --user hamlet --password-file ~/.castle \\
            --ca castle/tls/ca.crt --sender hamlet@castle.test -r ophelia@bigmail.test msg.eml
      $ read -rs ELSINORE_PASSWORD && export ELSINORE_PASSWORD
      $ elsinore make --from hamlet@castle.test --to ophelia@bigmail.test -s Hi <<< 'Hello' \\
            | elsinore submit --server 127.0.10.3:465 --user hamlet --ca castle/tls/ca.crt \\
                --sender hamlet@castle.test -r ophelia@bigmail.test --json
    """
    security = _security(implicit, starttls, server.port)
    password = read_password(password_file)
    data = _read_message(message)
    login = Login(user, password)
    outbound = Outbound(
        helo=helo,
        smarthost=(server.host, server.port),
        starttls="required",
        tls_context=client_context(ca) if ca is not None else system_context(),
        per_destination=1,
        timeout=timeout,
        implicit_tls=security == "tls",
        login=login,
    )
    results = _deliver(outbound, sender, recipients, data)
    auth = {
        "user": user,
        "tls": security,
        "mechanism": login.mechanism,
        "authenticated": login.authenticated,
        "reply": list(login.reply) if login.reply is not None else None,
        "refusal": login.refusal,
    }
    failure = login.failure()
    if as_json:
        _print_results(results, as_json=True, extra={"auth": auth})
    elif failure is None and login.authenticated:
        _print_results(results, as_json=False)
    if failure is not None:
        line, status = failure
        click.echo(f"elsinore: error: submit: {line}", err=True)
        raise click.exceptions.Exit(status)
    if not login.authenticated:
        # No session got as far as AUTH (no connection, no STARTTLS, a certificate that did
        # not verify): every recipient holds the same reply, and it says why.
        click.echo(f"elsinore: error: submit: not sent: {_reply_text(results[0])}", err=True)
    click.get_current_context().exit(exit_status(results))
