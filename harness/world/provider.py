"""The two mail providers of the simulated internet: a Gmail-like and an Outlook-like one.

A :class:`Provider` is one domain's mail service as its users and the rest of the internet
see it, built from the stack's own parts, on real sockets:

- **MX** (``mx.DOMAIN``, port 25 or the world's high port): the hop of :mod:`stack.smtp`
  (STARTTLS with a certificate of the world's CA) with
  :class:`~harness.world.screening.Screening` after ``Received:``, a durable spool, and a
  queue runner whose deliverer files each message in the user's INBOX or Spam folder
  (:mod:`harness.world.mailbox`).
- **Submission** (``smtp.DOMAIN``, 587 STARTTLS and 465 TLS): our submission service
  (:class:`~stack.services.submission.SubmissionInbound`, AUTH over TLS, users in an alias
  folder), whose transform DKIM-signs with the provider's key
  (:class:`~stack.services.signer.DkimSigning`), and whose queue runner delivers by MX
  through the world's resolver (:class:`~stack.smtp.client.Outbound`), from the outbound
  address ``out.DOMAIN`` that the provider's SPF record names, STARTTLS verified against the
  world's CA and required.
- **DNS**: the provider serves nothing itself; :meth:`Provider.zone_text` and
  :meth:`Provider.ptr_records` are what the world's name servers publish for it.

The :class:`Policy` says which receiver it imitates (:data:`BIGMAIL`, :data:`OUTPOST`; see
:mod:`harness.world.screening` for what each checks and writes) and what DMARC policy it
publishes: bigmail ``p=reject``, as google.com does, so that a spoof of it shows Gmail's
5.7.26; outpost ``p=quarantine``, so that the world also holds a domain whose failures a
receiver files as spam rather than refuses, and a scenario can show both ends of DMARC.

**Send mail as** (:meth:`Provider.begin_send_as`, :meth:`Provider.confirm_send_as`,
:meth:`Provider.send_as`) is Gmail's feature, step by step: the provider logs in to the
identity's submission server with the credentials the user gave (nothing is kept when that
fails), mails a confirmation code to the identity from ``forwarding-noreply@DOMAIN``, in
Gmail's words, through its own signer and outbound queue; the user reads the code from
wherever that mail reaches them (:func:`find_code`) and confirms; from then on mail "sent as"
the identity goes through the identity's own submission server, with those credentials, as
Gmail's "send through SMTP server" does.

Every event is one log line on ``elsinore.world.provider``; every failure a user can act on is
a :class:`ProviderError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import email.utils
import functools
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

from harness.world.mailbox import FOLDERS, LocalDelivery, Mailbox
from harness.world.screening import Screening, Style, folder_for
from stack.auth.dkim import Signer
from stack.auth.keys import SigningKey, generate
from stack.auth.passwords import hash_password
from stack.auth.publish import selector_name, zone_line
from stack.dns.addresses import Endpoint
from stack.dns.blocking import BlockingResolver
from stack.dns.resolver import Resolver
from stack.errors import ElsinoreError
from stack.relay.aliases import Watcher, check_name, write_record
from stack.services.base import SmtpService
from stack.services.signer import DkimSigning
from stack.services.submission import SESSION_OPTIONS, Logins, SubmissionInbound
from stack.smtp.client import Outbound, read_reply
from stack.smtp.forward import QueueRunner, RetryPolicy
from stack.smtp.policy import Limits, check_address
from stack.smtp.recipients import recipient_policy
from stack.smtp.server import Inbound, InboundConfig, InboundServer, stamp_received
from stack.smtp.spool import AsyncSpool, Incoming, Queued, Spool, new_queue_id
from stack.smtp.tls import LocalAuthority, client_context

log = logging.getLogger("elsinore.world.provider")

Dmarc = Literal["none", "quarantine", "reject"]
Tls = Literal["starttls", "implicit"]

#: Gmail's confirmation codes are nine digits.
CODE_DIGITS = 9
#: Retries come quickly in a simulated internet: a scenario lasts seconds, not days.
WORLD_RETRY = RetryPolicy(first=2.0, factor=2.0, ceiling=30.0, expire=600.0)


class ProviderError(ElsinoreError):
    """A provider was asked for something it cannot do: an unknown user, a bad address."""


class ReplyError(ProviderError):
    """An SMTP server refused: its reply code (0 when none answered), enhanced status code
    and text, on one line."""

    def __init__(self, what: str, code: int, enhanced: str | None, text: str) -> None:
        self.code = code
        self.enhanced = enhanced
        self.text = text
        shown = " ".join(str(part) for part in (code or "no reply", enhanced, text) if part)
        super().__init__(f"{what}: {shown}")


class SubmitError(ReplyError):
    """The provider's own submission server refused the user's message."""


class SendAsError(ReplyError):
    """Send mail as: the identity's server refused, or the confirmation failed."""


@dataclass(frozen=True)
class Policy:
    """Which receiver a provider imitates and what it publishes (see the module)."""

    style: Style
    dmarc: Dmarc
    requires_ptr: bool
    selector: str
    #: Its name in mail it writes ("Gmail Team", "Gmail Confirmation").
    brand: str


BIGMAIL = Policy("gmail", "reject", requires_ptr=True, selector="20260101", brand="Bigmail")
OUTPOST = Policy(
    "microsoft", "quarantine", requires_ptr=False, selector="selector1", brand="Outpost"
)


@dataclass(frozen=True)
class Hosts:
    """The provider's addresses, one per host, all in 127.0.0.0/8: its name server, MX,
    submission server, and the address its outbound mail leaves from."""

    ns: str
    mx: str
    smtp: str
    out: str

    def __post_init__(self) -> None:
        loopback = ipaddress.ip_network("127.0.0.0/8")
        addresses = [self.ns, self.mx, self.smtp, self.out]
        for address in addresses:
            try:
                inside = ipaddress.ip_address(address) in loopback
            except ValueError:
                inside = False
            if not inside:
                raise ProviderError(f"{address!r} is not an address in 127.0.0.0/8")
        if len(set(addresses)) != len(addresses):
            raise ProviderError("each host of a provider needs an address of its own")


@dataclass(frozen=True)
class Sent:
    """A submission the server took: its reply, and each recipient it refused with the
    reply it gave (the others will get the message)."""

    reply: str
    refused: dict[str, str]

    def refusals(self) -> str:
        """``; refused: ADDRESS (REPLY), ...`` for a log line, or nothing."""
        if not self.refused:
            return ""
        return "; refused: " + ", ".join(f"{a} ({r})" for a, r in self.refused.items())


def _sent(errors: dict[str, aiosmtplib.SMTPResponse], reply: str) -> Sent:
    return Sent(reply, {address: f"{r.code} {r.message}" for address, r in errors.items()})


@dataclass
class _Identity:
    """An address a user asked to send as, and how to reach its submission server."""

    address: str
    server: Endpoint
    username: str
    password: str
    tls: Tls
    code: str
    confirmed: bool = False


class Provider:
    """One mail provider of the world (see the module); :meth:`start` before use."""

    def __init__(
        self,
        domain: str,
        policy: Policy,
        hosts: Hosts,
        *,
        resolver: Resolver,
        authority: LocalAuthority,
        directory: Path,
        smtp_port: int = 25,
        submission_port: int = 587,
        submissions_port: int = 465,
        retry: RetryPolicy = WORLD_RETRY,
        timeout: float = 30.0,
    ) -> None:
        self.domain = domain.lower().rstrip(".")
        self.policy = policy
        self.hosts = hosts
        self.resolver = resolver
        self.authority = authority
        self.directory = directory
        self.smtp_port = smtp_port
        self.submission_port = submission_port
        self.submissions_port = submissions_port
        self.retry = retry
        self.timeout = timeout
        self.ns_name = f"ns.{self.domain}"
        self.mx_name = f"mx.{self.domain}"
        self.smtp_name = f"smtp.{self.domain}"
        self.out_name = f"out.{self.domain}"
        #: The provider's own address for system mail (Gmail's is forwarding-noreply@).
        self.noreply = f"forwarding-noreply@{self.domain}"
        self.key: SigningKey = generate("rsa")
        credentials = authority.issue([self.mx_name, self.smtp_name, hosts.mx, hosts.smtp])
        self._server_tls = credentials.server_context()
        self._client_tls = client_context(ca_pem=authority.certificate_pem)
        self.users_directory = directory / "users"
        self.users_directory.mkdir(parents=True, exist_ok=True)
        self.mailbox = Mailbox(directory / "mail")
        self._users: set[str] = set()
        self._identities: dict[tuple[str, str], _Identity] = {}
        self._running: list[tuple[str, _Part]] = []
        self._submission_queue: tuple[AsyncSpool, QueueRunner] | None = None

    # -- what the world publishes for it ------------------------------------------------------

    def zone_text(self) -> str:
        """The provider's zone, in master file format, for the world's name server at
        ``hosts.ns``: SOA, NS, MX, the hosts' addresses, SPF for the domain (its outbound
        address only, ``-all``) and for the outbound host's HELO name, DMARC and the DKIM key.
        """
        hosts = self.hosts
        key = zone_line(selector_name(self.policy.selector, self.domain), self.key.record())
        lines = [
            f"$ORIGIN {self.domain}.",
            "$TTL 300",
            "@ IN SOA ns hostmaster 1 3600 600 86400 300",
            "@ IN NS ns",
            "@ IN MX 10 mx",
            f"ns IN A {hosts.ns}",
            f"mx IN A {hosts.mx}",
            f"smtp IN A {hosts.smtp}",
            f"out IN A {hosts.out}",
            f'@ IN TXT "v=spf1 ip4:{hosts.out} -all"',
            # RFC 7208 §2.3: the HELO name's own record, for bounces (null MAIL FROM).
            f'out IN TXT "v=spf1 ip4:{hosts.out} -all"',
            f'_dmarc IN TXT "v=DMARC1; p={self.policy.dmarc}; adkim=r; aspf=r"',
            key,
        ]
        return "\n".join(lines) + "\n"

    def ptr_records(self) -> dict[str, str]:
        """The PTR record of each of the provider's addresses: address to host name."""
        hosts = self.hosts
        return {
            hosts.ns: self.ns_name,
            hosts.mx: self.mx_name,
            hosts.smtp: self.smtp_name,
            hosts.out: self.out_name,
        }

    # -- running ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen: the MX, and submission on both of its ports.  Raises
        :class:`~stack.errors.ListenError` naming the address that cannot be bound."""
        if self._running:
            raise ProviderError(f"{self.domain} is running already")
        # stack.auth asks DNS synchronously, from worker threads: a resolver of its own, on
        # its own loop, as a Resolver's cache belongs to one event loop.
        lookup = BlockingResolver(_twin(self.resolver))
        try:
            self._running.append(("lookup", _Closing(lookup.close)))
            mx = self._mx(lookup)
            await mx.start()
            self._running.append(("mx", mx))
            submission = self._submission()
            await submission.start()
            self._running.append(("submission", submission))
        except BaseException:
            await self.stop()
            raise
        log.info(
            "%s: up: mx %s:%d, submission %s:%d and %d, mail leaves from %s",
            self.domain,
            self.hosts.mx,
            self.smtp_port,
            self.hosts.smtp,
            self.submission_port,
            self.submissions_port,
            self.hosts.out,
        )

    async def stop(self) -> None:
        """Stop listening, finish what is under way (briefly), and close everything."""
        while self._running:
            name, part = self._running.pop()
            try:
                await part.stop()
            except Exception as exc:  # one part's trouble must not keep the others open
                log.error("%s: stopping %s: %s", self.domain, name, exc)
        log.info("%s: stopped", self.domain)

    def _mx(self, lookup: BlockingResolver) -> _Hop:
        spool = AsyncSpool(Spool(self.directory / "spool" / "mx"))
        delivery = LocalDelivery(
            self.mailbox,
            user_of=self._user_of,
            folder_of=functools.partial(folder_for, self.policy.style, self.mx_name),
            hostname=self.mx_name,
        )
        runner = QueueRunner(
            spool,
            delivery,
            reporting_mta=self.mx_name,
            policy=self.retry,
            scan_interval=self.retry.first,
        )
        screening = Screening(
            self.policy.style,
            self.mx_name,
            lookup,
            self.resolver,
            requires_ptr=self.policy.requires_ptr,
            provider=self.domain,
        )
        config = InboundConfig(
            hostname=self.mx_name,
            transforms=(stamp_received, screening),
            recipients=recipient_policy([self.domain], self._known, Limits()),
            timeout=self.timeout,
        )
        handler = Inbound(config, spool, runner.enqueue, resolver=self.resolver)
        server = InboundServer(handler, self.hosts.mx, self.smtp_port, tls_context=self._server_tls)
        return _Hop(handler, [server], runner, spool)

    def _submission(self) -> SmtpService:
        spool = AsyncSpool(Spool(self.directory / "spool" / "submission"))
        outbound = Outbound(
            helo=self.out_name,
            resolver=self.resolver,
            port=self.smtp_port,
            starttls="required",
            tls_context=self._client_tls,
            timeout=self.timeout,
            source_address=self.hosts.out,
        )
        runner = QueueRunner(
            spool,
            outbound,
            reporting_mta=self.smtp_name,
            policy=self.retry,
            scan_interval=self.retry.first,
        )
        users = Watcher(self.users_directory, self.domain, postmaster=f"postmaster@{self.domain}")
        config = InboundConfig(
            hostname=self.smtp_name,
            transforms=(
                stamp_received,
                DkimSigning([self.domain], [(self.policy.selector, self.key)]),
            ),
            session_options=SESSION_OPTIONS,
            timeout=self.timeout,
        )
        # Users are added while the provider runs: the folder is read again at every login.
        handler = SubmissionInbound(
            config, spool, runner.enqueue, logins=Logins(users, reload_interval=0.0)
        )
        self._submission_queue = (spool, runner)
        return SmtpService(
            f"{self.domain} submission",
            handler,
            runner,
            outbound,
            listen=[Endpoint(self.hosts.smtp, self.submission_port)],
            listen_tls=[Endpoint(self.hosts.smtp, self.submissions_port)],
            tls_context=self._server_tls,
        )

    # -- users and their folders --------------------------------------------------------------

    def add_user(self, name: str, password: str) -> str:
        """Create ``name@DOMAIN`` with ``password``; returns the address."""
        problem = check_name(name)
        if problem is not None:
            raise ProviderError(f"cannot add user {name!r}: {problem}")
        user = name.lower()
        address = f"{user}@{self.domain}"
        write_record(self.users_directory, user, [address], hash_password(password))
        self._users.add(user)
        log.info("%s: user %s added", self.domain, address)
        return address

    def folder(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """The messages in ``user``'s ``folder`` ("INBOX" or "Spam"), oldest first, bytes as
        the MX stored them."""
        return self.mailbox.messages(self._user(user), folder)

    async def wait_for_mail(
        self, user: str, folder: str = "INBOX", count: int = 1, timeout: float = 20.0
    ) -> list[bytes]:
        """``user``'s ``folder`` once it holds at least ``count`` messages; raises
        :class:`ProviderError` after ``timeout`` seconds."""
        name = self._user(user)
        if folder not in FOLDERS:
            raise ProviderError(f"no folder {folder!r} (folders: {', '.join(FOLDERS)})")
        deadline = time.monotonic() + timeout
        while True:
            found = self.mailbox.messages(name, folder)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"{name}@{self.domain} {folder}: {len(found)} of {count} messages "
                    f"after {timeout:g} s"
                )
            await asyncio.sleep(0.05)

    def _user(self, user: str) -> str:
        name = user.lower().removesuffix(f"@{self.domain}")
        if name not in self._users:
            raise ProviderError(f"{self.domain} has no user {user!r}")
        return name

    def _known(self, local_part: str) -> bool:
        return local_part in self._users or local_part == "postmaster"

    def _user_of(self, address: str) -> str | None:
        local, _, domain = address.rpartition("@")
        if domain.lower().rstrip(".") != self.domain:
            return None
        local = local.lower()
        return local if self._known(local) else None

    # -- sending ------------------------------------------------------------------------------

    async def send(
        self, user: str, password: str, recipients: Sequence[str], message: bytes
    ) -> Sent:
        """Submit ``message`` as ``user``'s mail client does: to the provider's submission
        port with STARTTLS and AUTH, MAIL FROM the user.  Returns the server's reply and the
        recipients it refused; raises :class:`SubmitError` with the server's reply when it
        refuses the message (or every recipient)."""
        sender = f"{self._user(user)}@{self.domain}"
        client = aiosmtplib.SMTP(
            hostname=self.hosts.smtp,
            port=self.submission_port,
            start_tls=True,
            tls_context=self._client_tls,
            timeout=self.timeout,
        )
        try:
            async with client:
                await client.login(sender, password)
                sent = _sent(*await client.sendmail(sender, list(recipients), message))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            failure = _failure(exc)
            log.info("%s: %s could not submit: %s", self.domain, sender, failure)
            raise SubmitError(f"{sender} could not submit", *failure) from None
        log.info(
            "%s: %s submitted to %s: %s%s",
            self.domain,
            sender,
            ", ".join(recipients),
            sent.reply,
            sent.refusals(),
        )
        return sent

    # -- send mail as -------------------------------------------------------------------------

    async def begin_send_as(
        self,
        user: str,
        identity: str,
        smtp_server: Endpoint,
        username: str,
        password: str,
        tls: Tls = "starttls",
    ) -> None:
        """Add ``identity`` to ``user``'s "send mail as" addresses, pending confirmation:
        log in to ``smtp_server`` with ``username`` and ``password`` (raises
        :class:`SendAsError` with its reply, and keeps nothing, when that fails), then mail
        a confirmation code to ``identity``."""
        name = self._user(user)
        if check_address(identity, Limits(), sender=True) is not None or not identity.isprintable():
            raise SendAsError(f"cannot send mail as {identity!r}", 0, None, "not an address")
        pending = _Identity(
            identity,
            smtp_server,
            username,
            password,
            tls,
            f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}",
        )
        try:
            async with self._identity_client(pending) as client:
                await client.login(username, password)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            failure = _failure(exc)
            log.info(
                "%s: %s: send mail as %s: login to %s refused: %s",
                self.domain,
                name,
                identity,
                smtp_server,
                failure,
            )
            raise SendAsError(f"cannot log in to {smtp_server} as {username!r}", *failure) from None
        self._identities[(name, identity.lower())] = pending
        await self._queue(self.noreply, identity, self._confirmation(name, pending))
        log.info(
            "%s: %s: send mail as %s: login to %s accepted, confirmation mailed",
            self.domain,
            name,
            identity,
            smtp_server,
        )

    def confirm_send_as(self, user: str, identity: str, code: str) -> None:
        """Confirm ``identity`` for ``user`` with the ``code`` its confirmation carried;
        raises :class:`SendAsError` for an address not pending or a wrong code."""
        name = self._user(user)
        pending = self._identities.get((name, identity.lower()))
        if pending is None:
            raise SendAsError(f"{identity!r} is not pending for {name}", 0, None, "begin first")
        if not secrets.compare_digest(code.strip().encode(), pending.code.encode()):
            log.info("%s: %s: send mail as %s: wrong code", self.domain, name, identity)
            raise SendAsError(f"cannot confirm {identity}", 0, None, "wrong confirmation code")
        pending.confirmed = True
        log.info("%s: %s: send mail as %s: confirmed", self.domain, name, identity)

    async def send_as(
        self, user: str, identity: str, recipients: Sequence[str], message: bytes
    ) -> Sent:
        """Send ``message`` as the confirmed ``identity``: through its own submission server
        with the stored credentials, MAIL FROM the identity.  Returns the server's reply and
        the recipients it refused; raises :class:`SendAsError` with the reply when it
        refuses the message (or every recipient)."""
        name = self._user(user)
        found = self._identities.get((name, identity.lower()))
        if found is None or not found.confirmed:
            raise SendAsError(f"{name} cannot send as {identity!r}", 0, None, "not confirmed")
        try:
            async with self._identity_client(found) as client:
                await client.login(found.username, found.password)
                sent = _sent(*await client.sendmail(found.address, list(recipients), message))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            failure = _failure(exc)
            log.info("%s: %s: send as %s refused: %s", self.domain, name, identity, failure)
            raise SendAsError(f"{found.server} refused mail as {identity}", *failure) from None
        log.info(
            "%s: %s: sent as %s through %s to %s: %s%s",
            self.domain,
            name,
            identity,
            found.server,
            ", ".join(recipients),
            sent.reply,
            sent.refusals(),
        )
        return sent

    def _identity_client(self, identity: _Identity) -> aiosmtplib.SMTP:
        # From the provider's outbound address, as Gmail's servers make this connection.
        return aiosmtplib.SMTP(
            hostname=identity.server.host,
            port=identity.server.port,
            local_hostname=self.out_name,
            source_address=(self.hosts.out, 0),
            use_tls=identity.tls == "implicit",
            start_tls=identity.tls == "starttls",
            tls_context=self._client_tls,
            timeout=self.timeout,
        )

    def _confirmation(self, user: str, identity: _Identity) -> bytes:
        """Gmail's "Send Mail as" confirmation, in its words, with the provider's name."""
        brand = self.policy.brand
        account = f"{user}@{self.domain}"
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = email.utils.formataddr((f"{brand} Team", self.noreply))
        message["To"] = identity.address
        message["Subject"] = f"{brand} Confirmation - Send Mail as {identity.address}"
        message["Date"] = email.utils.formatdate()
        message["Message-ID"] = email.utils.make_msgid(domain=self.mx_name)
        message.set_content(
            f"{account} has requested to add {identity.address} to their {brand} account.\n"
            f"Confirmation code: {identity.code}\n\n"
            f"Before you can send mail from {identity.address} using your {brand} account "
            f"({account}), please confirm the request by entering the confirmation code in "
            f"the {brand} settings.\n\n"
            "If you did not make this request, or you do not want to add this email address "
            f"to the account, no further action is required. {account} cannot send emails "
            "using your address unless you confirm the request.\n\n"
            f"Sincerely,\nThe {brand} Team\n",
            cte="7bit",
        )
        return message.as_bytes()

    async def _queue(self, sender: str, recipient: str, data: bytes) -> None:
        """Sign and queue the provider's own mail on the submission queue, whose runner
        delivers it by MX like any user's."""
        if self._submission_queue is None:
            raise ProviderError(f"{self.domain} is not running")
        spool, runner = self._submission_queue
        signed = Signer(self.domain, self.policy.selector, self.key).sign(data)
        now = time.time()
        incoming = Incoming(sender, (recipient,), signed, new_queue_id(now), now)
        stored = await spool.store(incoming)
        runner.enqueue(Queued(stored.queue_id, sender, (recipient,), signed, now, 0))


_CODE = re.compile(rf"Confirmation code:\s*(\d{{{CODE_DIGITS}}})\b")


def find_code(message: bytes) -> str:
    """The confirmation code in a "Send Mail as" confirmation, as the user reads it (any
    transfer encoding undone); raises :class:`ProviderError` when there is none."""
    parsed = BytesParser(policy=email.policy.default).parsebytes(message)
    for part in parsed.walk():
        if part.get_content_type() != "text/plain":
            continue
        with contextlib.suppress(LookupError, ValueError):
            found = _CODE.search(part.get_content())
            if found is not None:
                return found.group(1)
    raise ProviderError("no confirmation code in the message")


def _failure(exc: BaseException) -> tuple[int, str | None, str]:
    """A reply's code, enhanced status code and text; code 0 when no server answered."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return (exc.code, *read_reply(exc.code, exc.message))
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return (first.code, *read_reply(first.code, first.message))
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return 0, None, reason[:500]


def _twin(resolver: Resolver) -> Resolver:
    """A resolver configured as ``resolver``, with a cache of its own."""
    if resolver.forwarders:
        return Resolver(
            forwarders=resolver.forwarders, timeout=resolver.timeout, retries=resolver.retries
        )
    ports = dict(resolver.ports)
    ports.update((root.host, root.port) for root in resolver.roots)
    return Resolver(
        roots=[root.host for root in resolver.roots],
        port=resolver.port,
        ports=ports,
        timeout=resolver.timeout,
        retries=resolver.retries,
    )


class _Part(Protocol):
    """Something the provider runs and stops."""

    async def stop(self) -> None: ...


class _Closing:
    """A thread to end when the provider stops (the blocking resolver's)."""

    def __init__(self, close: Callable[[], None]) -> None:
        self._close = close

    async def stop(self) -> None:
        self._close()


class _Hop:
    """The MX: its listeners, the queue runner filing into the mailbox, the spool."""

    def __init__(
        self,
        handler: Inbound,
        servers: list[InboundServer],
        runner: QueueRunner,
        spool: AsyncSpool,
    ) -> None:
        self.handler = handler
        self.servers = servers
        self.runner = runner
        self.spool = spool
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for server in self.servers:
            await server.start()
        self._task = asyncio.get_running_loop().create_task(self.runner.run())

    async def stop(self) -> None:
        await asyncio.gather(*(server.stop(grace=5.0) for server in self.servers))
        await self.runner.stop(grace=5.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.spool.aclose()


__all__ = [
    "BIGMAIL",
    "CODE_DIGITS",
    "OUTPOST",
    "Hosts",
    "Policy",
    "Provider",
    "ProviderError",
    "ReplyError",
    "SendAsError",
    "Sent",
    "SubmitError",
    "find_code",
]
