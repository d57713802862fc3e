"""Submission: where our users hand in their mail, after they log in (RFC 6409, RFC 4954).

Its parts, each built from explicit arguments (the service runner reads them from
``stack.toml`` and wires them; nothing here reads a configuration)::

    users = Watcher(users_directory, "castle.test", postmaster=postmaster)
    logins = Logins(users)
    config = InboundConfig(
        hostname="smtp.castle.test",
        transforms=(stamp_received,),
        session_options=SESSION_OPTIONS,
    )
    handler = SubmissionInbound(config, spool, runner.enqueue, logins=logins,
                                throttle=Throttle(failures=5, window=600.0))
    # one handler, two listeners: 587 with STARTTLS, 465 with TLS from the first byte
    InboundServer(handler, address, 587, tls_context=context)
    InboundServer(handler, address, 465, tls_context=context, implicit_tls=True)

What it adds to the hop:

- **AUTH PLAIN and LOGIN** (RFC 4616, RFC 4954), offered in EHLO only once the connection is
  encrypted; sent anyway before, AUTH is refused with aiosmtpd's words,
  ``538 5.7.11 Encryption required for requested authentication mechanism`` (RFC 4954 6),
  and MAIL before a login with ``530 5.7.0 Authentication required`` (RCPT and DATA need a
  MAIL first).  The handler enforces both, not aiosmtpd (see :data:`SESSION_OPTIONS`).
  aiosmtpd decodes the mechanisms (base64, the PLAIN triple, LOGIN's two challenges, the
  ``*`` that cancels) through :data:`SESSION_OPTIONS`'s authenticator, which only hands the
  name and password on; :class:`SubmissionInbound`'s own ``auth_PLAIN`` and ``auth_LOGIN``
  then check them in a worker thread (:func:`asyncio.to_thread`), because aiosmtpd calls an
  authenticator synchronously and scrypt at the current cost takes tens of milliseconds of
  CPU that every other session would wait through.
- **The users** are the relay's alias records (:mod:`stack.relay.aliases`): the login name is
  the local part (``alice``) or the whole address in our domain (``Alice@Castle.test``), in
  any case.  A record without a password is an alias nobody logs in as.  Passwords are
  checked by :mod:`stack.auth.passwords`: the same scrypt work whether or not the user exists,
  digests compared in constant time.  A good login against the seed's unsalted BLAKE2b hash
  (or an older scrypt cost) rewrites the user's record with a fresh scrypt hash
  (:func:`~stack.relay.aliases.write_record`, atomic), so the next login checks that.
- **Failed logins are throttled** per client address (:class:`Throttle`, as Postfix's anvil
  and ``smtpd_client_auth_rate_limit`` do): after ``failures`` wrong passwords within
  ``window`` seconds, each AUTH from that address is answered ``421 4.7.0`` and the
  connection closed, without looking at the password, until the oldest of those failures is
  ``window`` seconds old.  A wrong password or an unknown user is
  ``535 5.7.8 Authentication credentials invalid``, the same reply for both.
- **An authenticated user sends only as itself**: MAIL FROM must be one of the user's own
  addresses or aliases (:meth:`~stack.relay.aliases.AliasMap.may_send_as`), else
  ``553 5.7.1 <ADDRESS>: Sender address rejected: not owned by user NAME``, Postfix's
  ``reject_sender_login_mismatch`` reply.  The null reverse-path is refused the same way:
  bounces come from MTAs, not from users, and a message without a sender could not bounce
  back to the one who sent it.
- **...and writes only as itself in our domain.**  Postfix checks only the envelope; here the
  signer downstream DKIM-signs every message whose ``From:`` is in our domain, so a user who
  could write ``From: bob@castle.test`` would get our signature, and DMARC's pass, on mail
  in bob's name.  So each ``From:`` mailbox in our domain must be the user's own or an
  alias, else ``550 5.7.1 <ADDRESS>: Author address rejected: not owned by user NAME`` at the
  end of data (:func:`unowned_author`).  The field is read exactly as the signer reads it
  (one ``From:`` field, :func:`~stack.mime.decode.decode_field`, domains compared as
  :func:`~stack.smtp.recipients.our_domain` writes them): a ``From:`` the signer would not
  sign for our domain (none, two, unreadable, or another domain's, as when a user redirects
  mail they received) is not ours to vouch for, and passes.
- The seed's per-user ``insecure`` flag is not honoured here: AUTH is never taken in clear.
- **One log line per login event**: client address, login name (escaped and bounded, as the
  client chose it), mechanism, and what became of it.

The ``Received:`` field the hop writes says ``ESMTPSA`` for an authenticated session over
TLS (RFC 3848), as :func:`~stack.smtp.received.protocol` reads the session's login.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from stack.auth.passwords import Passwords, StoredHashError, Verdict
from stack.dns.resolver import Resolver
from stack.mime.decode import decode_field
from stack.mime.errors import ParseError
from stack.mime.fields.address import Mailbox
from stack.mime.lossless import Message, parse
from stack.mime.safe import safe_text
from stack.relay.aliases import SUFFIX, AliasError, Record, Watcher, read_record, write_record
from stack.smtp.policy import LOG_LIMIT, Reply, check_address
from stack.smtp.recipients import NotOurDomainError, our_domain
from stack.smtp.server import Inbound, InboundConfig
from stack.smtp.spool import AsyncSpool, Queued

log = logging.getLogger("elsinore.services.submission")


def _not_aiosmtpd_deprecating_itself(record: logging.LogRecord) -> bool:
    # aiosmtpd 1.4.6 sets its own deprecated Session.login_data on every successful AUTH,
    # and warns about it each time: a warning per login in every submission log, about
    # nothing we do.
    return not str(record.msg).startswith("Session.login_data is deprecated")


logging.getLogger("mail.log").addFilter(_not_aiosmtpd_deprecating_itself)

#: MAIL before a login (RFC 4954 6), in aiosmtpd's words.
AUTHENTICATION_REQUIRED = Reply(530, "5.7.0", "Authentication required")
#: AUTH before TLS (RFC 4954 6), in aiosmtpd's words.
ENCRYPTION_REQUIRED = Reply(
    538, "5.7.11", "Encryption required for requested authentication mechanism"
)
#: An address whose failed logins reached the limit: RFC 4954 names no code for it; 421 closes
#: the connection (each new attempt costs the client a TLS handshake); 4.7.0, a security
#: matter, temporary (RFC 3463).
TOO_MANY_FAILURES = Reply(421, "4.7.0", "Too many failed logins from your address; try later")


def _decoded_credentials(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    # aiosmtpd's authenticator: called with what its PLAIN and LOGIN decoded.  It refuses,
    # carrying the credentials on, so that a session without SubmissionInbound's own
    # auth_PLAIN and auth_LOGIN (which check them off the event loop) lets nobody in.
    return AuthResult(success=False, handled=False, auth_data=data)


#: The aiosmtpd session options of a submission listener
#: (:attr:`~stack.smtp.server.InboundConfig.session_options`).  TLS before AUTH, and AUTH
#: before MAIL, are :class:`SubmissionInbound`'s to enforce, not aiosmtpd's: aiosmtpd 1.4.6
#: knows a connection is encrypted only when STARTTLS made it so, and with its
#: ``auth_require_tls`` would offer no AUTH at all on 465, where TLS starts with the first byte.
SESSION_OPTIONS: Mapping[str, Any] = {
    "authenticator": _decoded_credentials,
    "auth_require_tls": False,
}


def client_key(address: str) -> str:
    """What :class:`Throttle` counts failures under: an IPv4 address as it is, an IPv6
    address as its /64, since one host usually holds a whole /64 and could otherwise take
    a fresh address, and a fresh count, for every try."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class Throttle:
    """Failed logins per client, in a sliding window, without I/O.

    A client is refused (:meth:`refused`) while ``failures`` of its failed logins lie within
    the last ``window`` seconds of ``clock``.  Each client keeps at most ``failures`` times,
    and the table at most ``capacity`` clients: entries whose last failure left the window
    are forgotten, and when the table is full the client whose last failure is oldest goes
    first.  An attacker with more addresses than ``capacity`` can thus push others out, but
    never grow the table.
    """

    def __init__(
        self,
        failures: int = 5,
        window: float = 600.0,
        *,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or window <= 0 or capacity < 1:
            raise ValueError("failures and capacity must be at least 1, window positive")
        self.failures = failures
        self.window = window
        self.capacity = capacity
        self.clock = clock
        # Ordered by each client's last failure, oldest first: what to forget is at the front.
        self._table: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._table)

    def refused(self, client: str) -> bool:
        """Whether ``client`` has used up its failures for now."""
        now = self._forget()
        times = self._table.get(client)
        # A client keeps its last ``failures`` times: refused while the oldest is recent.
        return times is not None and len(times) == self.failures and times[0] > now - self.window

    def failed(self, client: str) -> None:
        """Count one failed login by ``client``."""
        now = self._forget()
        times = self._table.pop(client, None)
        if times is None:
            times = collections.deque(maxlen=self.failures)
        times.append(now)
        self._table[client] = times
        if len(self._table) > self.capacity:
            self._table.popitem(last=False)

    def _forget(self) -> float:
        now = self.clock()
        table = self._table
        while table:
            times = next(iter(table.values()))
            if times[-1] > now - self.window:
                break
            table.popitem(last=False)
        return now


class Logins:
    """Who a login name and password are: the users of the alias map, their passwords.

    ``users`` is polled for changes at most every ``reload_interval`` seconds of ``clock``,
    on the login that finds the last poll older than that.  ``passwords`` sets the scrypt
    cost of new hashes (and lets a test count the work a check does).
    """

    def __init__(
        self,
        users: Watcher,
        *,
        passwords: Passwords | None = None,
        reload_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users
        self.passwords = Passwords() if passwords is None else passwords
        self.reload_interval = reload_interval
        self.clock = clock
        self._polled: float | None = None

    async def authenticate(self, name: bytes, password: bytes) -> str | None:
        """The user (its record's name) that ``name`` and ``password`` log in as, or None.

        Every refusal, an unknown name included, costs the same scrypt work as a wrong
        password; the work runs in a worker thread.
        """
        self._reload()
        record = self._record(name)
        verdict = await asyncio.to_thread(self._check, record, password)
        if not verdict.ok or record is None:
            return None
        if verdict.rehash:
            await self._rehash(record, password)
        return record.name

    def may_send_as(self, user: str, address: str) -> bool:
        """Whether ``user`` may write ``address`` as its reverse-path."""
        return self.users.map.may_send_as(user, address)

    def _reload(self, *, now: bool = False) -> None:
        at = self.clock()
        if not now and self._polled is not None and at - self._polled < self.reload_interval:
            return
        self._polled = at
        error = self.users.poll()
        if error is not None:
            log.error("users folder not reloaded, the old one stays: %s", error)

    def _record(self, name: bytes) -> Record | None:
        try:
            text = name.decode("utf-8")
        except UnicodeDecodeError:
            return None
        local, at, domain = text.rpartition("@")
        if not at:
            local = text
        elif domain.casefold() != self.users.domain.casefold():
            return None
        return self.users.map.lookup(local) if local else None

    def _check(self, record: Record | None, password: bytes) -> Verdict:
        if record is not None and record.password is not None:
            try:
                return self.passwords.verify(password, record.password)
            except StoredHashError as error:
                # The map refuses such records at load; a stricter cost limit here may not.
                log.error("user %s: %s", record.name, error)
        return self.passwords.verify_unknown_user(password)

    async def _rehash(self, record: Record, password: bytes) -> None:
        try:
            written = await asyncio.to_thread(self._write, record, password)
        except AliasError as error:
            log.error("user %s: password not rehashed: %s", record.name, error)
            return
        if written:
            self._reload(now=True)  # the next login checks the new hash
            log.info("user %s: password rehashed with scrypt %s", record.name, self.passwords.cost)

    def _write(self, record: Record, password: bytes) -> bool:
        # Only over the hash just checked, read again from its file: a record changed since
        # the map was read (a new password the administrator set) is the newer truth.
        current = read_record(self.users.directory / f"{record.name}{SUFFIX}")
        if current.password != record.password:
            return False
        fresh = self.passwords.hash(password)
        write_record(
            self.users.directory, current.name, current.targets, fresh, insecure=current.insecure
        )
        return True


def unowned_author(message: Message, domain: str, owns: Callable[[str], bool]) -> str | None:
    """The first ``From:`` mailbox of ``message`` in ``domain`` (as :func:`our_domain`
    writes it) whose local part ``owns`` refuses, or None.

    Read as the signer reads the field to decide what it signs: exactly one ``From:`` field
    that decodes as a mailbox list, or no author at all.
    """
    fields = message.get_all("From")
    if len(fields) != 1:
        return None
    try:
        authors = decode_field("From", fields[0].unfolded())
    except ParseError:
        return None
    if not isinstance(authors, tuple):
        return None
    for author in authors:
        if not isinstance(author, Mailbox):
            continue
        try:
            ours = our_domain(author.domain) == domain
        except NotOurDomainError:
            continue  # no domain name at all, so not ours
        if ours and not owns(author.local):
            return author.addr_spec
    return None


def _client(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else "unknown"


def _encrypted(server: SMTP) -> bool:
    # The transport after STARTTLS, or the whole connection's on 465.
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def _user(session: Session) -> str | None:
    if session.authenticated and isinstance(session.auth_data, str):
        return session.auth_data
    return None


class SubmissionInbound(Inbound):
    """The hop's handler with logins: AUTH offered after TLS, checked off the event loop,
    throttled per client; MAIL only after a login, and only as the user's own address."""

    def __init__(
        self,
        config: InboundConfig,
        spool: AsyncSpool,
        on_queued: Callable[[Queued], None] | None = None,
        *,
        logins: Logins,
        throttle: Throttle | None = None,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        options = config.session_options
        missing = [key for key, value in SESSION_OPTIONS.items() if options.get(key) != value]
        if missing:
            # Without them nobody could log in, on 465 not even with the right password.
            raise ValueError(f"submission needs SESSION_OPTIONS; missing {', '.join(missing)}")
        super().__init__(config, spool, on_queued, resolver=resolver, clock=clock)
        self.logins = logins
        self.domain = our_domain(logins.users.domain)
        self.throttle = Throttle() if throttle is None else throttle

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        answer = await super().handle_EHLO(server, session, envelope, hostname, responses)
        if not answer[0].startswith("250") or not _encrypted(server):
            return answer
        # The hop strips aiosmtpd's AUTH line; here, once TLS is up, it is the point.
        auth = [line for line in responses[:-1] if line[4:].startswith("AUTH")]
        return [*answer[:-1], *auth, answer[-1]]

    async def handle_AUTH(
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> object:
        if not _encrypted(server):
            return str(ENCRYPTION_REQUIRED)
        client = _client(session)
        if not self.throttle.refused(client_key(client)):
            return MISSING  # aiosmtpd goes on to the mechanism
        self._log_login(client, None, args[0], "refused, too many failures")
        await server.push(str(TOO_MANY_FAILURES))
        assert server.transport is not None
        server.transport.close()
        # Nothing the client pipelined after AUTH is read: aiosmtpd's connection_lost()
        # cancels this session's task once the reply has gone.
        await asyncio.get_running_loop().create_future()
        return None

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._login(server, "PLAIN", await server.auth_PLAIN(None, args))

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._login(server, "LOGIN", await server.auth_LOGIN(None, args))

    async def _login(self, server: SMTP, mechanism: str, decoded: AuthResult) -> AuthResult:
        credentials = decoded.auth_data
        if not isinstance(credentials, LoginPassword):
            return decoded  # cancelled with "*", or not base64: aiosmtpd has answered 501
        assert server.session is not None
        client = _client(server.session)
        user = await self.logins.authenticate(credentials.login, credentials.password)
        if user is None:
            self.throttle.failed(client_key(client))
            self._log_login(client, credentials.login, mechanism, "failed")
            return AuthResult(success=False, handled=False)  # 535 5.7.8, aiosmtpd's words
        self._log_login(client, credentials.login, mechanism, f"ok, user={user}")
        return AuthResult(success=True, auth_data=user)

    def _log_login(self, client: str, name: bytes | None, mechanism: str, status: str) -> None:
        shown = "-" if name is None else name.decode("utf-8", "surrogateescape")
        log.info(
            "login: client=[%s], name=<%s>, mechanism=%s, status=%s",
            client,
            safe_text(shown, limit=LOG_LIMIT),
            safe_text(mechanism, limit=LOG_LIMIT),
            status,
        )

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        user = _user(session)
        if user is None:
            return str(AUTHENTICATION_REQUIRED)
        sender = "" if address == "<>" else address
        well_formed = check_address(sender, self.config.limits, sender=True) is None
        if well_formed and not self.logins.may_send_as(user, sender):
            shown = safe_text(sender, limit=LOG_LIMIT)
            log.info("client=[%s], user=%s, from=<%s>: not owned", _client(session), user, shown)
            return f"553 5.7.1 <{shown}>: Sender address rejected: not owned by user {user}"
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        user = _user(session)
        if user is None:
            return str(AUTHENTICATION_REQUIRED)
        message = parse(envelope.original_content or b"")
        users = self.logins.users

        def owns(local: str) -> bool:
            return users.map.may_send_as(user, f"{local}@{users.domain}")

        author = unowned_author(message, self.domain, owns)
        if author is not None:
            shown = safe_text(author, limit=LOG_LIMIT)
            log.info("client=[%s], user=%s, From: <%s>: not owned", _client(session), user, shown)
            return f"550 5.7.1 <{shown}>: Author address rejected: not owned by user {user}"
        return await super().handle_DATA(server, session, envelope)


__all__ = [
    "AUTHENTICATION_REQUIRED",
    "ENCRYPTION_REQUIRED",
    "SESSION_OPTIONS",
    "TOO_MANY_FAILURES",
    "Logins",
    "SubmissionInbound",
    "Throttle",
    "client_key",
    "unowned_author",
]
