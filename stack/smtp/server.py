"""The inbound shell: aiosmtpd with our DATA reader, our replies, a transform and the spool.

aiosmtpd does the session (greeting, EHLO, MAIL, RCPT, STARTTLS, pipelining, timeouts);
:class:`StrictSMTP` changes four things in it, each for a reason in :mod:`.policy`:

- DATA is read by :class:`~stack.smtp.policy.DataReader`, whose only end is
  ``<CRLF>.<CRLF>``, in chunks of 64 KiB rather than line by line.  aiosmtpd's own reader
  splits lines at CRLF and so never ends at a bare LF either, but it stores bare CR and LF
  as they came and cannot refuse or normalise them, and the next server down the line might
  split them differently.  Refused, a bare line end is answered at once (521) and the
  connection closed;
- a command line that ends in a bare LF, which aiosmtpd reads as if it ended in CRLF, is
  refused the same way (521, then the connection closed, nothing pipelined after it
  obeyed) unless bare line ends are normalised;
- every 2xx, 4xx and 5xx reply carries an enhanced status code (ENHANCEDSTATUSCODES), those
  aiosmtpd writes itself included; EHLO also offers PIPELINING (aiosmtpd reads pipelined
  commands already) and ENHANCEDSTATUSCODES;
- EHLO no longer grows the MAIL command's size limit each time it is sent (aiosmtpd 1.4.6
  adds to a shared counter on every EHLO).

:class:`Inbound` is the handler: it checks the envelope (:mod:`.policy`), parses the message
losslessly, applies the transforms (the ``Received:`` field first), stores the result in the
spool and answers 250 only once the spool has committed it.  :class:`InboundServer` listens,
and stops the way a service must: no new connection, the transaction in progress finished.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hashlib
import inspect
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, AnyStr, Protocol, Self

import dns.exception
import dns.rdatatype
import dns.reversename
from aiosmtpd.smtp import SMTP, Envelope, Session

from stack.dns.addresses import Endpoint
from stack.dns.errors import ResolveError
from stack.dns.resolver import Resolver
from stack.errors import ListenError
from stack.mime.lossless import Message, parse
from stack.mime.safe import safe_text
from stack.smtp.policy import (
    ACCESS_DENIED,
    LOG_LIMIT,
    NO_RECIPIENTS,
    SHUTTING_DOWN,
    SPOOL_TROUBLE,
    BareLineEnds,
    DataReader,
    Limits,
    Reply,
    check_address,
    check_command_line,
    check_helo,
    check_hops,
    check_recipient_count,
    queued,
    with_enhanced,
)
from stack.smtp.received import Arrival, TlsInfo, previous_queue_id, received_value
from stack.smtp.spool import AsyncSpool, Incoming, Queued, new_queue_id

log = logging.getLogger("elsinore.smtp")

#: How much of the mail data one read takes: the reader finds the end in any chunking, and
#: reading line by line cost a third of the hop's time.
_DATA_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Transaction:
    """What a transform sees of a message besides its bytes: the envelope and the arrival."""

    sender: str
    recipients: tuple[str, ...]
    arrival: Arrival


@dataclass(frozen=True, slots=True)
class Reroute:
    """A transform's answer that changes the envelope as well as the message: the relay's
    alias map and SRS give new recipients and a new sender.  The spool stores these."""

    message: Message
    sender: str
    recipients: tuple[str, ...]


#: What a transform answers: the message (fields prepended), a new envelope with it, or the
#: reply that refuses the message.
TransformResult = Message | Reroute | Reply


class Transform(Protocol):
    """A service's change to a message: prepend fields to ``message`` (through
    :meth:`~stack.mime.lossless.Message.prepend`, never re-serialising it) and return it, or
    return a :class:`~stack.smtp.policy.Reply` (4xx or 5xx) that refuses the message.

    A transform that waits on the network (the verifier asks DNS) is a coroutine function;
    the hop awaits what it returns.  The transforms after it see the envelope it gave.
    """

    def __call__(
        self, message: Message, transaction: Transaction
    ) -> TransformResult | Awaitable[TransformResult]: ...


def stamp_received(message: Message, transaction: Transaction) -> Message:
    """The hop's own transform, and every service's first: the ``Received:`` field."""
    message.prepend("Received", received_value(transaction.arrival))
    return message


@dataclass(slots=True)
class InboundConfig:
    """What an inbound endpoint is: its name, limits, and what it does with bare line ends.

    ``recipients`` is a service's own check of each RCPT address, after the hop's: None to
    take the address, else the reply that refuses it (the MX's is
    :func:`stack.smtp.recipients.recipient_policy`).  ``session_options`` go to each
    aiosmtpd session as they are (submission's ``authenticator`` and ``auth_require_tls``).
    ``clients``, when given, are the only addresses whose mail the hop takes: an internal
    hop (the signer signs whatever reaches it) takes mail from its upstream services only.
    """

    hostname: str
    limits: Limits = field(default_factory=Limits)
    bare_line_ends: BareLineEnds = BareLineEnds.REFUSE
    transforms: Sequence[Transform] = (stamp_received,)
    timeout: float = 300.0
    recipients: Callable[[str], Reply | None] | None = None
    session_options: Mapping[str, Any] = field(default_factory=dict)
    clients: frozenset[str] | None = None


def _tls_info(transport: asyncio.BaseTransport | None) -> TlsInfo | None:
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    if cipher is None:
        return None
    name, version, bits = cipher
    return TlsInfo(ssl_object.version() or version, name, bits)


async def confirmed_reverse_name(resolver: Resolver, address: str) -> str | None:
    """The client's name for the ``Received:`` field: the PTR of its address, when that name
    resolves back to the address (forward-confirmed reverse DNS, as Postfix requires before it
    writes a name rather than ``unknown``); None otherwise, or when DNS fails."""
    try:
        answer = await resolver.resolve(dns.reversename.from_address(address), "PTR")
        rrset = answer.rrset()
        if rrset is None:
            return None
        for pointer in rrset:
            name = pointer.target
            rdtype = dns.rdatatype.AAAA if ":" in address else dns.rdatatype.A
            forward = (await resolver.resolve(name, rdtype)).rrset()
            if forward is not None and any(item.address == address for item in forward):
                return str(name.to_text(omit_final_dot=True))
    except (ResolveError, dns.exception.DNSException, ValueError):
        return None
    return None


def _peer_address(session: Session) -> str:
    return str(session.peer[0]) if isinstance(session.peer, tuple) else "unknown"


def _sender(envelope: Envelope) -> str:
    # aiosmtpd keeps the null reverse-path as "<>" so that its own "MAIL given?" checks hold.
    mail_from = envelope.mail_from or ""
    return "" if mail_from == "<>" else mail_from


class Inbound:
    """The aiosmtpd handler of a hop: envelope policy, transforms, spool, and the log line.

    ``on_queued`` is called with every message newly stored, so that the queue runner can
    start on it without reading it back from the spool.  With a ``resolver``, the client's
    forward-confirmed reverse DNS name goes into ``Received:``; without one it is ``unknown``.
    """

    def __init__(
        self,
        config: InboundConfig,
        spool: AsyncSpool,
        on_queued: Callable[[Queued], None] | None = None,
        *,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.spool = spool
        self.on_queued = on_queued
        self.resolver = resolver
        self.clock = clock
        self.stopping = False

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        refusal = check_helo(hostname)
        if refusal is not None:
            return [str(refusal)]
        session.host_name = hostname
        # aiosmtpd offers AUTH after STARTTLS with a callback that refuses everyone; a hop
        # takes no logins, so it does not offer them.
        offered = [line for line in responses[:-1] if not line[4:].startswith("AUTH")]
        # Before the final "250 HELP": what aiosmtpd does but does not say.
        return [*offered, "250-PIPELINING", "250-ENHANCEDSTATUSCODES", responses[-1]]

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        refusal = check_helo(hostname)
        if refusal is not None:
            return str(refusal)
        session.host_name = hostname
        return f"250 {self.config.hostname}"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.stopping:
            return str(SHUTTING_DOWN)
        clients = self.config.clients
        if clients is not None and _peer_address(session) not in clients:
            log.warning("refused mail from %s: not an upstream of this hop", _peer_address(session))
            return str(ACCESS_DENIED)
        sender = "" if address == "<>" else address
        refusal = check_address(sender, self.config.limits, sender=True)
        if refusal is not None:
            return str(refusal)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        limits = self.config.limits
        refusal = check_recipient_count(len(envelope.rcpt_tos), limits) or check_address(
            address, limits, sender=False
        )
        if refusal is None and self.config.recipients is not None:
            refusal = self.config.recipients(address)
        if refusal is not None:
            return str(refusal)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        received = envelope.original_content or b""
        now = self.clock()
        address = _peer_address(session)
        rdns = None
        if self.resolver is not None:
            rdns = await confirmed_reverse_name(self.resolver, address)
        arrival = Arrival(
            helo=session.host_name or "",
            address=address,
            rdns=rdns,
            hostname=self.config.hostname,
            queue_id=new_queue_id(now),
            recipients=tuple(envelope.rcpt_tos),
            date=datetime.fromtimestamp(now, UTC),
            esmtp=bool(session.extended_smtp),
            tls=_tls_info(server.transport),
            authenticated=bool(session.authenticated),
            smtputf8=bool(envelope.smtp_utf8),
        )
        sender = _sender(envelope)
        transaction = Transaction(sender, arrival.recipients, arrival)
        message = parse(received)
        trace = message.get_all("Received")
        refusal = check_hops(len(trace), self.config.limits)
        if refusal is not None:
            self._log(arrival, sender, f"rejected ({refusal})")
            return str(refusal)
        upstream = trace[0] if trace else None
        previous = previous_queue_id(upstream.unfolded()) if upstream is not None else None
        for transform in self.config.transforms:
            result = transform(message, transaction)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, Reply):
                self._log(arrival, sender, f"rejected ({result})")
                return str(result)
            if isinstance(result, Reroute):
                transaction = dataclasses.replace(
                    transaction, sender=result.sender, recipients=result.recipients
                )
                result = result.message
            message = result
        if not transaction.recipients:
            # A transform that leaves no recipient (the relay, for one whose alias went away
            # after RCPT) would otherwise queue a message with nowhere to go.
            self._log(arrival, sender, f"rejected ({NO_RECIPIENTS})")
            return str(NO_RECIPIENTS)
        digest = hashlib.sha256(received).hexdigest()
        incoming = Incoming(
            sender=transaction.sender,
            recipients=transaction.recipients,
            data=bytes(message),
            queue_id=arrival.queue_id,
            arrival=now,
            dedupe=None if previous is None else f"{previous}:{digest}",
        )
        try:
            stored = await self.spool.store(incoming)
        except Exception as exc:
            log.error("%s: cannot store the message: %s", arrival.queue_id, exc)
            return str(SPOOL_TROUBLE)
        if not stored.new:
            self._log(arrival, sender, f"duplicate of {stored.queue_id} from {previous}")
            return str(queued(stored.queue_id))
        rewritten = ""
        if (incoming.sender, incoming.recipients) != (sender, arrival.recipients):
            # A transform gave a new envelope (the relay's aliases and SRS): what is queued
            # is that one, as Postfix logs orig_to beside to.
            rewritten = ", queued as from=<{}>, to=<{}>".format(
                safe_text(incoming.sender, limit=LOG_LIMIT),
                ">,<".join(safe_text(r, limit=LOG_LIMIT) for r in incoming.recipients),
            )
        self._log(arrival, sender, "queued", size=len(incoming.data), extra=rewritten)
        if self.on_queued is not None:
            self.on_queued(
                Queued(stored.queue_id, incoming.sender, incoming.recipients, incoming.data, now, 0)
            )
        return str(queued(stored.queue_id))

    def _log(
        self,
        arrival: Arrival,
        sender: str,
        status: str,
        size: int | None = None,
        extra: str = "",
    ) -> None:
        # The client chose the names and addresses: escaped, so that one log line stays one,
        # and bounded, so that a command's worth of control bytes cannot make it kilobytes long.
        extra = ("" if size is None else f", size={size}") + extra
        log.info(
            "%s: client=%s[%s], helo=%s, from=<%s>, to=<%s>%s, status=%s",
            arrival.queue_id,
            safe_text(arrival.rdns or "unknown", limit=LOG_LIMIT),
            arrival.address,
            safe_text(arrival.helo, limit=LOG_LIMIT),
            safe_text(sender, limit=LOG_LIMIT),
            ">,<".join(safe_text(r, limit=LOG_LIMIT) for r in arrival.recipients),
            extra,
            status,
        )


#: The names of each session class that aiosmtpd looks for, found once per class.
_COMMAND_NAMES: dict[type, list[str]] = {}


class StrictSMTP(SMTP):
    """aiosmtpd's session with the strict DATA reader and enhanced codes on every reply."""

    def __init__(self, handler: Inbound, **options: Any) -> None:
        super().__init__(handler, **options)
        self.inbound = handler
        # An instance table, so that one client's EHLO cannot grow every session's limit.
        self.command_size_limits = collections.defaultdict(lambda: handler.config.limits.command)
        self._greeted = False
        self._plain_replies = False
        self.in_transaction = False

    def __dir__(self) -> list[str]:
        # aiosmtpd's __init__ looks through dir(self) for its smtp_* and auth_* methods on
        # every connection; the full list (inspect.getmembers reads every attribute) cost
        # about a tenth of the hop's time with a connection per message.
        names = _COMMAND_NAMES.get(type(self))
        if names is None:
            names = _COMMAND_NAMES[type(self)] = [
                name for name in object.__dir__(self) if name.startswith(("smtp_", "auth_"))
            ]
        return names

    def _cb_client_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super()._cb_client_connected(reader, writer)
        # aiosmtpd reads each command line with readuntil() and strips its line end before
        # we see it, so the check goes between the two.  DATA never passes here: it is read
        # with read() by the DataReader, which judges its own line ends.
        read_line = reader.readuntil

        async def command_line(separator: bytes = b"\n") -> bytes:
            line = await read_line(separator)
            refusal = check_command_line(line, self.inbound.config.bare_line_ends)
            if refusal is not None:
                await self._refuse_and_close(refusal)
            return line

        reader.readuntil = command_line  # type: ignore[method-assign, assignment]

    async def _refuse_and_close(self, refusal: Reply) -> None:
        """Answer ``refusal``, close the connection, and read nothing more: the commands the
        client pipelined after the refused line are never obeyed."""
        self._set_post_data_state()
        await self.push(str(refusal))
        assert self.transport is not None
        self.transport.close()
        # Until aiosmtpd's connection_lost() cancels this session's task, which it does as
        # soon as the transport has sent the reply.
        await asyncio.get_running_loop().create_future()

    async def push(self, status: AnyStr) -> None:
        self._greeted, greeted = True, self._greeted  # the greeting has no enhanced code
        # aiosmtpd writes AUTH's 334 challenges as bytes: they carry no enhanced code.
        if isinstance(status, str) and greeted and not self._plain_replies:
            await super().push(with_enhanced(status))
        else:
            await super().push(status)

    def _set_post_data_state(self) -> None:
        super()._set_post_data_state()  # type: ignore[no-untyped-call]
        self.in_transaction = False

    async def smtp_EHLO(self, hostname: str) -> None:
        limits = self.inbound.config.limits
        # SIZE and SMTPUTF8 make MAIL longer (RFC 1870, RFC 6531); aiosmtpd adds them again on
        # every EHLO.  Set them once, here, to what the extensions need.
        await self._replies_without_codes(super().smtp_EHLO(hostname))
        self.command_size_limits["MAIL"] = limits.command + 26 + 10

    async def smtp_HELO(self, hostname: str) -> None:
        await self._replies_without_codes(super().smtp_HELO(hostname))

    async def _replies_without_codes(self, replies: Any) -> None:
        # RFC 2034 3: no enhanced codes in the replies to HELO and EHLO.
        self._plain_replies = True
        try:
            await replies
        finally:
            self._plain_replies = False

    async def smtp_MAIL(self, arg: str | None) -> None:
        await super().smtp_MAIL(arg)
        assert self.envelope is not None
        self.in_transaction = bool(self.envelope.mail_from)

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        config = self.inbound.config
        reader = DataReader(config.limits, config.bare_line_ends)
        stream = self._reader
        while not reader.done:
            chunk = await stream.read(_DATA_CHUNK)
            if not chunk:
                raise ConnectionResetError("connection closed during DATA")
            used = reader.feed(chunk)
            problem = reader.problem
            if problem is not None and problem.closes:
                # Nothing the client sends after this can be framed safely: answer and go.
                self._set_post_data_state()
                await self.push(str(problem.reply))
                assert self.transport is not None
                self.transport.close()
                return
            if used < len(chunk):
                # Commands pipelined after the end of data: back to the stream for the
                # command loop.  aiosmtpd reaches into the buffer the same way (STARTTLS).
                stream._buffer[0:0] = chunk[used:]  # type: ignore[attr-defined]
            self._reset_timeout()
        if reader.problem is not None:
            self._set_post_data_state()
            await self.push(str(reader.problem.reply))
            return
        self.envelope.original_content = reader.message()
        self.envelope.content = self.envelope.original_content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


class InboundServer:
    """A listening endpoint: STARTTLS when ``tls_context`` is given, implicit TLS (the whole
    connection, as on port 465) when ``implicit_tls`` is also set."""

    def __init__(
        self,
        handler: Inbound,
        host: str,
        port: int,
        *,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.sessions: set[_TrackedSMTP] = set()
        self._server: asyncio.Server | None = None

    def _session(self) -> _TrackedSMTP:
        config = self.handler.config
        return _TrackedSMTP(
            self.handler,
            sessions=self.sessions,
            hostname=config.hostname,
            ident="Elsinore ESMTP",
            data_size_limit=config.limits.size,
            enable_SMTPUTF8=True,
            tls_context=None if self.implicit_tls else self.tls_context,
            timeout=config.timeout,
            **config.session_options,
        )

    async def start(self) -> tuple[str, int]:
        """Listen; returns the address and port bound (the port may have been 0).

        Raises :class:`~stack.errors.ListenError` when the address cannot be bound.
        """
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                self._session,
                self.host,
                self.port,
                ssl=self.tls_context if self.implicit_tls else None,
                reuse_address=True,
            )
        except OSError as exc:
            raise ListenError.from_os_error(Endpoint(self.host, self.port), exc) from None
        host, port = self._server.sockets[0].getsockname()[:2]
        self.port = port
        return host, port

    async def stop(self, grace: float = 30.0) -> None:
        """Stop accepting, let every transaction in progress end (for ``grace`` seconds at
        most), then close the remaining sessions with 421."""
        self.handler.stopping = True
        if self._server is not None:
            self._server.close()
        deadline = time.monotonic() + grace
        while any(s.in_transaction for s in self.sessions) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for session in list(self.sessions):
            session.shut()
        if self._server is not None:
            await self._server.wait_closed()


class TrackedSession(SMTP):
    """An aiosmtpd session that keeps itself in its server's set while it is connected, so
    that the server can find it when it stops (``elsinore hop`` and ``elsinore srv`` both)."""

    def __init__(self, handler: Any, *, sessions: set[Self], **options: Any) -> None:
        super().__init__(handler, **options)
        # Typed loosely inside: the constructor's set[Self] is what keeps callers honest.
        self._sessions: set[Any] = sessions

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._sessions.discard(self)
        super().connection_lost(error)

    def shut(self) -> None:
        """Say goodbye (RFC 5321 section 3.8: 421) and close; for between transactions."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if isinstance(transport, asyncio.WriteTransport):
            with contextlib.suppress(OSError, RuntimeError):
                transport.write(f"{SHUTTING_DOWN}\r\n".encode())
        transport.close()


class _TrackedSMTP(TrackedSession, StrictSMTP):
    """The hop's strict session, tracked."""


__all__ = [
    "Inbound",
    "InboundConfig",
    "InboundServer",
    "Reroute",
    "StrictSMTP",
    "TrackedSession",
    "Transaction",
    "Transform",
    "TransformResult",
    "stamp_received",
]
