"""The outbound client: one message to its recipients' mail exchangers, or to a smarthost.

:class:`Outbound` is what the queue runner (:mod:`.forward`) calls for every message due.  It
groups the recipients by destination (each domain's MX, or the one smarthost, as Postfix's
``relayhost``), finds the hosts of a destination as RFC 5321 section 5.1 says (MX records by
preference, equal preferences in random order; the domain's own A/AAAA when it has no MX; a
null MX, RFC 7505, as a permanent failure), and tries them in turn until one takes the
transaction.  SMTP itself is aiosmtplib's: we only decide what to send and how to read the
replies.

Nothing here raises for trouble on the network or in the protocol.  Every recipient gets a
:class:`RecipientResult`: the server's reply when one was given, else a reply of our own with
code 0 (no server answered for it: try later) or a 5xx for what no retry can fix (no such
domain, a null MX, a message over the server's SIZE).  The spool decides what a result means
for the message: delivered, retried, or bounced.

Sessions are kept after a transaction and reused for the next message to the same
destination, and at most ``per_destination`` are open to one destination at a time, the
connection cache and concurrency limit of Postfix's ``smtp`` client.  A host that could not
be connected to is not tried again for ``dead_host_seconds`` (Postfix's short-term
destination status cache): with the downstream down, a queue of a thousand due messages
costs one connection attempt and a thousand quick deferrals, not a thousand timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import aiosmtplib
import dns.name
import dns.rcode

from stack.dns.cache import Answer
from stack.dns.errors import ResolveError
from stack.dns.resolver import Resolver
from stack.smtp.tls import client_context

StartTls = Literal["opportunistic", "required", "never"]
#: What a client does on each new session once it is greeted and secured, before its first
#: MAIL: how it logs in (AUTH, RFC 4954) where a server asks for it.  An SMTP error it raises
#: ends the session, and its reply stands for every recipient of the group.
Login = Callable[[aiosmtplib.SMTP], Awaitable[None]]

#: How long an idle session is kept for the next message (Postfix keeps them 2 s; a hop's
#: queue runner picks the next message within milliseconds, so a little more costs nothing).
IDLE_SECONDS = 10.0
#: At most this many addresses are tried per destination and delivery (Postfix:
#: ``smtp_mx_address_limit``); more only makes a message to a dead domain slower to defer.
MAX_ADDRESSES = 10
#: A reply text is cut here; it ends up in logs and DSNs, never a novel.
MAX_TEXT = 500
#: Past this many hosts remembered as dead, the ones whose time is up are forgotten: a
#: relay that sends to many domains must not keep every failure it ever saw.
MAX_DEAD_HOSTS = 1024

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)")


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """What became of one recipient in one delivery attempt."""

    recipient: str
    #: The SMTP reply code for this recipient; 0 when no server answered for it.
    code: int
    #: The enhanced status code (RFC 3463), the server's or ours, when there is one.
    enhanced: str | None
    #: The reply text on one line, for logs and DSNs.  Chosen by the remote server: never
    #: trusted, and made safe again wherever it is written into a message.
    text: str
    #: ``mx.example.test[127.0.0.5]:25``, or ``""`` when no connection was made.
    remote: str

    @property
    def delivered(self) -> bool:
        """The server took responsibility for the message (2xx)."""
        return 200 <= self.code < 300

    @property
    def permanent(self) -> bool:
        """Bounce now (5xx); any other failure is retried later."""
        return 500 <= self.code < 600


@dataclass(frozen=True, slots=True)
class _Reply:
    """A reply to stand for every recipient of a group (ours, or a server's)."""

    code: int
    enhanced: str | None
    text: str
    remote: str = ""

    def to(self, recipient: str) -> RecipientResult:
        return RecipientResult(recipient, self.code, self.enhanced, self.text, self.remote)


class _Undeliverable(Exception):
    """Raised inside a delivery when one reply now decides for the whole group."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply


@dataclass(frozen=True, slots=True)
class _Host:
    """One address to try: the name it was found under (for TLS and logs), and where."""

    name: str
    address: str
    port: int

    def __str__(self) -> str:
        address = f"[{self.address}]" if ":" not in self.address else f"[IPv6:{self.address}]"
        return f"{self.name}{address}:{self.port}"


@dataclass(eq=False)
class _Session:
    """An open, greeted SMTP session, ready for MAIL."""

    smtp: aiosmtplib.SMTP
    host: _Host
    idle_since: float = field(default_factory=time.monotonic)
    #: How many transactions it was given: a 421 to MAIL on a session that carried one
    #: before is a server closing an idle session, not a refusal of this message.
    used: int = 0

    @property
    def size_limit(self) -> int | None:
        value = self.smtp.esmtp_extensions.get("size", "")
        return int(value) if value.isdigit() and int(value) > 0 else None

    def supports(self, extension: str) -> bool:
        return self.smtp.supports_extension(extension)

    async def close(self) -> None:
        """QUIT politely when the server is still there; never raises."""
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
            if self.smtp.is_connected:
                await self.smtp.quit(timeout=2)
        self.smtp.close()


class Outbound:
    """Delivers messages by MX (through our resolver) or to a smarthost; see the module."""

    def __init__(
        self,
        *,
        helo: str,
        resolver: Resolver | None = None,
        smarthost: tuple[str, int] | None = None,
        port: int = 25,
        starttls: StartTls = "opportunistic",
        tls_context: ssl.SSLContext | None = None,
        per_destination: int = 10,
        timeout: float = 60.0,
        dead_host_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        implicit_tls: bool = False,
        login: Login | None = None,
        source_address: str | None = None,
    ) -> None:
        if resolver is None and smarthost is None:
            raise ValueError("an Outbound needs a resolver for MX look-ups, or a smarthost")
        if per_destination < 1:
            raise ValueError("per_destination must be at least 1")
        self.helo = helo
        self.resolver = resolver
        self.smarthost = smarthost
        self.port = port
        self.starttls = starttls
        # Opportunistic TLS without a CA encrypts and verifies nothing (RFC 7435); with one,
        # the certificate must chain to it and name the host.
        self.tls_context = tls_context if tls_context is not None else client_context()
        self.per_destination = per_destination
        self.timeout = timeout
        self.dead_host_seconds = dead_host_seconds
        self.clock = clock
        #: TLS from the first byte (RFC 8314's port 465) instead of STARTTLS.
        self.implicit_tls = implicit_tls
        self.login = login
        #: The local address connections leave from: a service's own, as each unikernel of
        #: the seed has its own, so the receiver's SPF and reverse DNS see that address.
        self.source_address = source_address
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._idle: dict[str, list[_Session]] = {}
        #: (address, port) of each host that could not be connected to: until when it is
        #: left alone, and why.
        self._dead: dict[tuple[str, int], tuple[float, str]] = {}

    async def deliver(
        self, sender: str, recipients: Sequence[str], data: bytes
    ) -> list[RecipientResult]:
        """Deliver one message; groups recipients by destination (the smarthost, or each
        domain's MX); one result per recipient, in order; never raises for network or
        protocol trouble (those become results with code 0 and the reason in the text)."""
        groups: dict[str, list[str]] = {}
        results: dict[str, RecipientResult] = {}
        for recipient in recipients:
            destination = self._destination(recipient)
            if destination is None:
                results[recipient] = _Reply(553, "5.1.3", "no domain in the address").to(recipient)
            else:
                groups.setdefault(destination, []).append(recipient)
        outcomes = await asyncio.gather(
            *(
                self._deliver_group(destination, sender, group, data)
                for destination, group in groups.items()
            )
        )
        for outcome in outcomes:
            results.update((result.recipient, result) for result in outcome)
        return [results[recipient] for recipient in recipients]

    async def aclose(self) -> None:
        """Close every idle session (with QUIT)."""
        sessions = [session for idle in self._idle.values() for session in idle]
        self._idle.clear()
        await asyncio.gather(*(session.close() for session in sessions))

    def _destination(self, recipient: str) -> str | None:
        """The key recipients are grouped, limited and pooled by: the smarthost or a domain."""
        if self.smarthost is not None:
            return "smarthost"
        _, at, domain = recipient.rpartition("@")
        return domain.lower().rstrip(".") if at and domain else None

    def _limit(self, destination: str) -> asyncio.Semaphore:
        limit = self._limits.get(destination)
        if limit is None:
            limit = self._limits[destination] = asyncio.Semaphore(self.per_destination)
        return limit

    async def _deliver_group(
        self, destination: str, sender: str, recipients: list[str], data: bytes
    ) -> list[RecipientResult]:
        try:
            async with self._limit(destination):
                return await self._deliver_limited(destination, sender, recipients, data)
        except _Undeliverable as failure:
            return [failure.reply.to(recipient) for recipient in recipients]

    async def _deliver_limited(
        self, destination: str, sender: str, recipients: list[str], data: bytes
    ) -> list[RecipientResult]:
        session = self._take_idle(destination)
        if session is not None:
            outcome = await self._transaction(destination, session, sender, recipients, data)
            if outcome is not None:
                return outcome
            # The server closed the idle session meanwhile: go on as if there was none.
        last = _Reply(0, "4.4.1", "no mail exchanger answered")
        for host in await self._hosts(destination):
            try:
                session = await self._open(host, tls=self.starttls != "never")
            except _HandshakeFailed as failure:
                if not self._clear_text_after_failed_tls:
                    last = failure.reply
                    continue
                try:
                    session = await self._open(host, tls=False)
                except _Undeliverable as second:
                    last = second.reply
                    continue
            except _Undeliverable as failure:
                last = failure.reply
                continue
            outcome = await self._transaction(destination, session, sender, recipients, data)
            if outcome is None:
                last = _Reply(0, "4.4.2", "lost connection before MAIL FROM", str(host))
                continue
            return outcome
        # A 554 greeting ("no SMTP service here", RFC 5321 section 3.1) from the last host
        # tried is as final as a 5xx after RCPT; anything else is for later.
        raise _Undeliverable(last)

    def _take_idle(self, destination: str) -> _Session | None:
        idle = self._idle.get(destination, [])
        now = time.monotonic()
        while idle:
            session = idle.pop()
            if session.smtp.is_connected and now - session.idle_since < IDLE_SECONDS:
                return session
            session.smtp.close()  # too old to trust: the server may be closing it right now
        return None

    def _settle(self, destination: str, session: _Session) -> None:
        """Keep a session that is still usable for the next message, else close it."""
        if session.smtp.is_connected:
            session.idle_since = time.monotonic()
            self._idle.setdefault(destination, []).append(session)
        else:
            session.smtp.close()

    async def _hosts(self, destination: str) -> list[_Host]:
        """Where to try, in order (RFC 5321 section 5.1)."""
        if destination == "smarthost" and self.smarthost is not None:
            name, port = self.smarthost
            # A smarthost that cannot be found is our configuration's fault: defer, never bounce.
            addresses = [name] if _is_address(name) or self.resolver is None else None
            if addresses is None:
                addresses = await self._addresses(name, implicit=False)
            return [_Host(name, address, port) for address in addresses]
        if destination.startswith("[") and destination.endswith("]"):
            literal = destination[1:-1].removeprefix("IPv6:").removeprefix("ipv6:")
            if not _is_address(literal):
                raise _Undeliverable(_Reply(553, "5.1.2", f"bad address literal {destination}"))
            return [_Host(literal, literal, self.port)]
        exchangers = await self._exchangers(destination)
        hosts: list[_Host] = []
        temporary: _Reply | None = None
        for exchanger in exchangers:
            try:
                addresses = await self._addresses(exchanger, implicit=exchanger == destination)
            except _Undeliverable as failure:
                if exchanger == destination:
                    raise
                temporary = failure.reply if failure.reply.code == 0 else temporary
                continue
            hosts.extend(_Host(exchanger, address, self.port) for address in addresses)
            if len(hosts) >= MAX_ADDRESSES:
                break
        if not hosts:
            raise _Undeliverable(
                temporary
                or _Reply(0, "4.4.4", f"no address for any mail exchanger of {destination}")
            )
        return hosts[:MAX_ADDRESSES]

    async def _exchangers(self, domain: str) -> list[str]:
        """The domain's mail exchangers by preference, ties shuffled; itself when no MX."""
        answer = await self._resolve(domain, "MX")
        if answer.rcode == dns.rcode.NXDOMAIN:
            raise _Undeliverable(_Reply(550, "5.1.2", f"{domain}: no such domain"))
        rrset = answer.rrset()
        if rrset is None:
            return [domain]  # the implicit MX of RFC 5321 section 5.1
        records = [(rdata.preference, rdata.exchange) for rdata in rrset]
        if any(exchange == dns.name.root for _, exchange in records):
            # RFC 7505 section 3: "." means the domain takes no mail; 556 5.1.10 (section 4.3).
            # Only nulls (the RFC allows one; more say no less) are as final; beside real
            # exchangers, which the RFC forbids, the real ones are used.
            if all(exchange == dns.name.root for _, exchange in records):
                raise _Undeliverable(_Reply(556, "5.1.10", f"{domain} accepts no mail (null MX)"))
            records = [record for record in records if record[1] != dns.name.root]
        random.shuffle(records)
        records.sort(key=lambda record: record[0])  # stable: equal preferences stay shuffled
        return list(dict.fromkeys(exchange.to_text(omit_final_dot=True) for _, exchange in records))

    async def _addresses(self, name: str, *, implicit: bool) -> list[str]:
        """A host's IPv4 then IPv6 addresses; none is an error only for the implicit MX."""
        addresses: list[str] = []
        missing = True
        for rdtype in ("A", "AAAA"):
            answer = await self._resolve(name, rdtype)
            rrset = answer.rrset()
            missing = missing and answer.rcode == dns.rcode.NXDOMAIN
            addresses.extend(rdata.address for rdata in rrset or ())
        if addresses:
            return addresses
        if implicit:
            reason = "no such domain" if missing else "no MX and no address"
            raise _Undeliverable(_Reply(550, "5.1.2", f"{name}: {reason}"))
        raise _Undeliverable(_Reply(0, "4.4.4", f"{name}: no address"))

    async def _resolve(self, name: str, rdtype: str) -> Answer:
        if self.resolver is None:  # only a smarthost by name without a resolver gets here
            raise _Undeliverable(_Reply(0, "4.4.3", f"no resolver to look up {name}"))
        try:
            return await self.resolver.resolve(name, rdtype)
        except ResolveError as exc:
            raise _Undeliverable(_Reply(0, "4.4.3", f"DNS: {exc}")) from None

    @property
    def _clear_text_after_failed_tls(self) -> bool:
        """Whether a failed handshake is tried again without TLS: in opportunistic mode
        without a CA, where TLS protects against eavesdroppers only and a server with broken
        TLS would otherwise get no mail at all (RFC 7435 section 1.2; Postfix's ``may``).  A
        configured CA makes the handshake a verdict on the certificate: never clear text."""
        return self.starttls == "opportunistic" and self.tls_context.verify_mode == ssl.CERT_NONE

    async def _open(self, host: _Host, *, tls: bool) -> _Session:
        """Connect, greet, and start TLS when ``tls`` (and offered, or required); a failure
        names the host."""
        self._check_alive(host)
        smtp = aiosmtplib.SMTP(
            hostname=host.address,
            port=host.port,
            local_hostname=self.helo,
            timeout=self.timeout,
            start_tls=False,
            use_tls=self.implicit_tls,
            tls_context=self.tls_context if self.implicit_tls else None,
            source_address=None if self.source_address is None else (self.source_address, 0),
        )
        try:
            await self._connect(smtp, host)
            await _greet(smtp)
            if tls and not self.implicit_tls:
                await self._secure(smtp, host)
            if self.login is not None:
                await self.login(smtp)
        except _Undeliverable as failure:
            smtp.close()
            raise type(failure)(
                _Reply(failure.reply.code, failure.reply.enhanced, failure.reply.text, str(host))
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            raise _Undeliverable(_reply_of(exc.code, exc.message, host)) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise _Undeliverable(_Reply(0, "4.4.1", _reason(exc), str(host))) from None
        return _Session(smtp, host)

    def _check_alive(self, host: _Host) -> None:
        """Refuse to try ``host`` while a failed connection to it is recent."""
        key = (host.address, host.port)
        dead = self._dead.get(key)
        if dead is None:
            return
        until, reason = dead
        if self.clock() >= until:
            del self._dead[key]
            return
        seconds = f"{self.dead_host_seconds:g}"
        raise _Undeliverable(
            _Reply(
                0, "4.4.1", f"{reason} less than {seconds} s ago: not tried again yet", str(host)
            )
        )

    async def _connect(self, smtp: aiosmtplib.SMTP, host: _Host) -> None:
        """Connect and read the greeting; a host that cannot be reached (no connection, or
        no greeting) is remembered as dead for ``dead_host_seconds``.  One that greets with
        an error is alive: it answered."""
        key = (host.address, host.port)
        try:
            await smtp.connect()
        except aiosmtplib.SMTPResponseException:
            raise
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            if self.dead_host_seconds > 0:
                self._remember_dead(key, _reason(exc))
            raise
        self._dead.pop(key, None)

    def _remember_dead(self, key: tuple[str, int], reason: str) -> None:
        now = self.clock()
        if len(self._dead) >= MAX_DEAD_HOSTS:
            self._dead = {k: v for k, v in self._dead.items() if v[0] > now}
            while len(self._dead) >= MAX_DEAD_HOSTS:  # all still dead: the oldest goes
                del self._dead[next(iter(self._dead))]
        self._dead.pop(key, None)  # to the end: insertion order is the order of failure
        self._dead[key] = (now + self.dead_host_seconds, reason)

    async def _secure(self, smtp: aiosmtplib.SMTP, host: _Host) -> None:
        if not smtp.supports_extension("starttls"):
            if self.starttls == "required":
                raise _Undeliverable(_Reply(0, "4.7.0", "STARTTLS required but not offered"))
            return
        try:
            await smtp.starttls(server_hostname=host.name, tls_context=self.tls_context)
        except aiosmtplib.SMTPResponseException as exc:
            # A 454 to STARTTLS leaves the session in clear text (RFC 3207 section 4); that is
            # what opportunistic TLS accepts, and what required TLS does not.
            if self.starttls == "required" or not smtp.is_connected:
                raise _Undeliverable(_reply_of(exc.code, exc.message, host)) from None
            return
        except (ssl.SSLError, aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # The handshake failed, whichever side gave up: the session is gone.
            raise _HandshakeFailed(_Reply(0, "4.7.5", f"TLS: {_reason(exc)}")) from None
        await _greet(smtp)  # RFC 3207 section 4.2: forget what was said before TLS

    async def _transaction(
        self,
        destination: str,
        session: _Session,
        sender: str,
        recipients: list[str],
        data: bytes,
    ) -> list[RecipientResult] | None:
        """MAIL, RCPT per recipient, DATA, then the session back to the pool; ``None`` when
        the session turns out dead before MAIL was answered: nothing of the message was
        sent, so it may go on a fresh session, or to the next host (RFC 5321 section 5.1)."""
        session.used += 1
        remote = str(session.host)
        try:
            outcome = await self._exchange(session, sender, recipients, data)
            self._settle(destination, session)
            return outcome
        except _Undeliverable as failure:
            self._settle(destination, session)
            raise _Undeliverable(
                _Reply(failure.reply.code, failure.reply.enhanced, failure.reply.text, remote)
            ) from None
        except _Stale:
            session.smtp.close()
            return None

    async def _exchange(
        self, session: _Session, sender: str, recipients: list[str], data: bytes
    ) -> list[RecipientResult]:
        smtp, host = session.smtp, session.host
        international = not (sender.isascii() and all(r.isascii() for r in recipients))
        if international and not session.supports("smtputf8"):
            # RFC 6531 section 3.2: a UTF-8 address cannot be sent where SMTPUTF8 is not.
            raise _Undeliverable(
                _Reply(553, "5.6.7", "non-ASCII address and the server does not offer SMTPUTF8")
            )
        limit = session.size_limit
        if limit is not None and len(data) > limit:
            raise _Undeliverable(
                _Reply(552, "5.3.4", f"{len(data)} octets, over the server's SIZE {limit}")
            )
        options = _mail_options(session, data, international)
        encoding = "utf-8" if international else "ascii"
        try:
            reply = await smtp.execute_command(
                b"MAIL", b"FROM:<" + sender.encode(encoding) + b">", *options
            )
        except (aiosmtplib.SMTPServerDisconnected, OSError):
            raise _Stale from None
        except (TimeoutError, aiosmtplib.SMTPException) as exc:
            raise _Undeliverable(_Reply(0, "4.4.2", f"MAIL FROM: {_reason(exc)}")) from None
        if reply.code == 421 and session.used > 1:
            raise _Stale  # a server closing an idle session answers the next command so
        if not 200 <= reply.code < 300:
            await _reset(smtp)
            raise _Undeliverable(_reply_of(reply.code, reply.message, host))
        results: dict[str, RecipientResult] = {}
        accepted: list[str] = []
        try:
            for recipient in recipients:
                reply = await smtp.execute_command(
                    b"RCPT", b"TO:<" + recipient.encode(encoding) + b">"
                )
                results[recipient] = _reply_of(reply.code, reply.message, host).to(recipient)
                if 200 <= reply.code < 300:
                    accepted.append(recipient)
            if not accepted:
                await _reset(smtp)
                return [results[recipient] for recipient in recipients]
            body = data if data.endswith(b"\r\n") or not data else data + b"\r\n"
            reply = await smtp.data(body)
            outcome = _reply_of(reply.code, reply.message, host)
        except aiosmtplib.SMTPResponseException as exc:  # DATA refused, before or after
            outcome = _reply_of(exc.code, exc.message, host)
            await _reset(smtp)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            # After DATA the server may have the message: the retry this causes is the
            # "at least once" every MTA lives with.
            smtp.close()
            outcome = _Reply(0, "4.4.2", _reason(exc), str(host))
        for recipient in accepted:
            results[recipient] = outcome.to(recipient)
        for recipient in recipients:  # those the connection broke before their RCPT
            results.setdefault(recipient, outcome.to(recipient))
        return [results[recipient] for recipient in recipients]


class _HandshakeFailed(_Undeliverable):
    """STARTTLS was offered and begun, and the handshake failed."""


class _Stale(Exception):
    """A session the server had closed, found out before anything of the message was sent."""


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO, or HELO when a server does not know EHLO (RFC 5321 section 3.2)."""
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError as exc:
        if not smtp.is_connected or 400 <= exc.code < 500:
            raise
        await smtp.helo()


async def _reset(smtp: aiosmtplib.SMTP) -> None:
    """RSET after a failed transaction, so the session can carry the next one."""
    try:
        reply = await smtp.execute_command(b"RSET")
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        smtp.close()
        return
    if reply.code != 250:
        smtp.close()


def _mail_options(session: _Session, data: bytes, international: bool) -> list[bytes]:
    options: list[bytes] = []
    if session.supports("size"):
        options.append(b"SIZE=%d" % len(data))
    if session.supports("8bitmime") and not data.isascii():
        options.append(b"BODY=8BITMIME")
    if international:
        options.append(b"SMTPUTF8")
    return options


def read_reply(code: int, message: str) -> tuple[str | None, str]:
    """A reply's enhanced status code (RFC 2034, taken off every line) and its text on one
    line of at most :data:`MAX_TEXT` characters; ``message`` is aiosmtplib's, the lines'
    texts joined with LF."""
    enhanced: str | None = None
    lines: list[str] = []
    for line in message.splitlines() or [""]:
        match = _ENHANCED.match(line)
        # RFC 3463 section 2: the class is the reply code's; "250 5.1.1" is no 5.1.1.
        if match is not None and match.group(1) != str(code)[:1]:
            match = None
        if match is not None:
            enhanced = enhanced or ".".join(match.groups())
        lines.append(line[match.end() if match else 0 :].strip())
    return enhanced, " ".join(line for line in lines if line)[:MAX_TEXT]


def _reply_of(code: int, message: str, host: _Host) -> _Reply:
    enhanced, text = read_reply(code, message)
    return _Reply(code, enhanced, text, str(host))


def _reason(exc: BaseException) -> str:
    """Why a connection or command failed, in a few words (``connection refused``)."""
    cause = exc.__cause__
    if isinstance(exc, TimeoutError) or isinstance(cause, TimeoutError):
        return "timed out"
    # A handshake at connection time (implicit TLS) fails inside aiosmtplib's connect error;
    # the SSL error is its cause, and its errno (1) is no reason a user can act on.
    for error in (exc, cause):
        if isinstance(error, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {error.verify_message}"
        if isinstance(error, ssl.SSLError):
            return str(error.reason or error).lower().replace("_", " ")
    for error in (exc, cause):
        if isinstance(error, OSError) and error.errno:
            return os.strerror(error.errno).lower()
    text = " ".join(str(exc).split())
    return text[:MAX_TEXT] if text else type(exc).__name__


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
