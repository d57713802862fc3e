"""The relay: where each recipient's mail really goes, and the envelope that gets it there.

The relay takes two kinds of mail and tells them apart by their recipients alone:

- **outbound**, from the signer: the sender is ours, the recipients are anywhere.  A recipient
  outside our domain passes unchanged, and so does the sender; no seal.
- **inbound**, from the spamfilter: the recipients are ours.  Each is expanded through the
  alias map (:mod:`stack.relay.aliases`), or, when it is an SRS address of ours, reversed
  (:mod:`stack.relay.srs`): a bounce coming back to the sender we rewrote.  Mail so sent on
  to a mailbox elsewhere is *forwarded*: its sender is rewritten with SRS, so that SPF at
  the final receiver checks our domain and passes, and it gets an ARC set sealing the
  verifier's ``Authentication-Results``, so that the receiver can trust what we saw.

Expansion follows targets in our domain to their own records (``info`` to
``alice@castle.test`` to ``alice@bigmail.test``), as Postfix's ``virtual_alias_maps`` do;
a local address reached twice is followed once, so a loop in the records ends.  A target in
our domain without a record is a mistake in the map: it is logged and left out, and a
recipient whose expansion leaves nothing at all is refused like an unknown one.  A bounce
whose reversed address is ours (SRS in a domain of its own rewrites our senders too) is
expanded the same way: no target the relay delivers to is in our domain, so nothing it
sends comes back to our own MX.

Replies, at RCPT (:meth:`Routing.check_recipient`, the hop's recipient check) and again at
the end of DATA (the transform), worded as Postfix with postsrsd 1.x words them (postsrsd
answers ``500`` for an address it cannot reverse; Postfix then finds no such user):

- a local address the map does not know:
  ``550 5.1.1 <a@castle.test>: Recipient address rejected: User unknown in virtual alias table``;
- an SRS address of ours whose hash none of our secrets made, whose stamp has expired or
  that is not well formed: ``550 5.1.1`` with the same start, then
  ``invalid SRS address (bad hash)`` (or ``expired``, ``malformed``): the bouncing server's
  administrator learns why, and nothing secret is said;
- the relay tricks the MX refuses (``a%b@castle.test`` and the rest) get the MX's replies
  (:func:`stack.smtp.recipients.check_recipient`), since they reach the relay only through
  a misconfiguration.

A relay must not lose mail, and the map may change between RCPT and the end of DATA.  A
recipient that was accepted at RCPT and can no longer be routed at DATA is therefore never
dropped from the envelope in silence: when other recipients are still good, the message is
refused with ``451 4.3.0`` for now, and the upstream hop tries again, when RCPT refuses that
one recipient with its 5xx (the upstream bounces it to the sender) and takes the others;
when none is left, the message is refused with that recipient's 5xx.  Either way the sender
hears of it, through the upstream's queue.

The envelope sender is rewritten (:meth:`~stack.relay.srs.Srs.forward`) only for forwarded
mail: the null sender of a bounce stays null, a sender of our domain stays as it is, and a
sender SRS cannot rewrite (an address literal with ``@`` in it) is kept and logged: the
message may fail SPF at the receiver, but it is not lost.  Sealing is the same: a message
that cannot be sealed goes on unsealed, logged.  The seal is put on top of the bytes as
they came (:func:`stack.auth.arc.seal` prepends through the lossless tree, and this module
checks that the bytes below are the ones it gave).

Wiring (what :mod:`stack.services.build` does from ``stack.toml``)::

    aliases = Watcher(users_dir, "castle.test", postmaster="hostmaster@elsewhere.test")
    srs = Srs([secret], "castle.test")
    sealer = Sealer("castle.test", "arc", rsa_key, authserv_id="mx.castle.test")
    routing = Routing(aliases, srs, sealer=sealer)
    config = InboundConfig(
        hostname="relay.castle.test",
        transforms=(stamp_received, routing),
        recipients=routing.check_recipient,
    )
    outbound = relay_outbound("relay.castle.test", resolvers=[resolver_endpoint])

``authserv_id`` is the verifier's (the name its ``Authentication-Results`` start with).  The
relay listens on an internal address only: it forwards anything addressed elsewhere, as the
signer's downstream must, so it would be an open relay on a public one.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stack.auth import arc
from stack.auth.dkim import key_names
from stack.auth.errors import AuthError, SigningKeyError
from stack.auth.keys import SigningKey
from stack.auth.results import authserv_id_of
from stack.dns.addresses import Endpoint
from stack.dns.resolver import Resolver
from stack.mime.lossless import Message, parse
from stack.mime.safe import checked_text, safe_text
from stack.relay.aliases import Watcher
from stack.relay.srs import Srs, SrsError
from stack.smtp.client import Outbound
from stack.smtp.policy import LOG_LIMIT, Reply
from stack.smtp.recipients import (
    NotOurDomainError,
    Refuse,
    check_recipient,
    our_domain,
)
from stack.smtp.server import Reroute, Transaction
from stack.smtp.tls import client_context

__all__ = [
    "MAX_EXPANSION",
    "RELOAD_INTERVAL",
    "Route",
    "Routing",
    "Sealer",
    "relay_outbound",
]

log = logging.getLogger("elsinore.relay")

#: How often, at most, the alias folder is looked at for changes (a listing and a stat per
#: file): a new user works within a second, and a busy relay does not list the folder for
#: every recipient.
RELOAD_INTERVAL = 1.0
#: At most this many recipients after expansion, per message (Postfix's
#: ``virtual_alias_expansion_limit``): records allow 100 targets each, and chains of them
#: could otherwise make one message into a mailing list no one meant.
MAX_EXPANSION = 1000

_AUTHENTICATION_RESULTS = "Authentication-Results"
_REJECTED = "Recipient address rejected"


@dataclass(frozen=True, slots=True)
class Route:
    """Where one envelope recipient goes: the addresses to deliver to, and whether it was
    ``forwarded`` (reached through the alias map or reverse SRS, so the message needs SRS
    and a seal) or simply passed on (outbound mail)."""

    recipient: str
    targets: tuple[str, ...]
    forwarded: bool


@dataclass(frozen=True)
class Sealer:
    """The relay's ARC sealing: our signing domain and selector, an RSA key (RFC 8617
    §4.1.2 allows only rsa-sha256), and the authserv-id of the Authentication-Results to
    seal (the verifier's).

    The names are checked at construction, so a mistake shows at start rather than as mail
    forwarded unsealed: :class:`~stack.auth.errors.SigningKeyError` for a key that is not
    RSA, :class:`~stack.auth.errors.KeyNameError` for names that are not DNS names,
    :class:`~stack.mime.safe.UnsafeTextError` or :class:`~stack.auth.errors.AuthError`
    for an authserv-id a field cannot carry.
    """

    domain: str
    selector: str
    key: SigningKey
    authserv_id: str

    def __post_init__(self) -> None:
        if self.key.algorithm != "rsa":
            raise SigningKeyError("ARC seals with rsa-sha256 only (RFC 8617 §4.1.2)")
        key_names(self.selector, self.domain)
        if not checked_text(self.authserv_id, "authserv-id").isascii():
            raise AuthError(
                f"authserv-id {self.authserv_id!r}: not ASCII (write a domain as A-labels)"
            )

    def applies(self, message: Message) -> bool:
        """Whether ``message`` carries our verifier's Authentication-Results: inbound mail
        does, mail from our own users (which no verifier saw) does not."""
        ours = self.authserv_id.lower()
        return any(
            (authserv_id_of(field.unfolded()) or "").lower() == ours
            for field in message.get_all(_AUTHENTICATION_RESULTS)
        )

    def seal(self, data: bytes) -> bytes:
        """``data`` with one more ARC set on top (see :func:`stack.auth.arc.seal`)."""
        return arc.seal(data, self.domain, self.selector, self.key, self.authserv_id)


class Routing:
    """The relay's transform (alias map, reverse SRS, SRS, ARC) and its recipient check.

    ``aliases`` is the map of our domain, polled for changes at most every
    ``reload_interval`` seconds of ``clock``; ``srs`` rewrites and reverses in its own
    domain (usually the same); ``sealer`` is None for a relay that does not seal.
    Raises :class:`~stack.smtp.recipients.NotOurDomainError` at once when either domain
    is not one a recipient could write.
    """

    def __init__(
        self,
        aliases: Watcher,
        srs: Srs,
        *,
        sealer: Sealer | None = None,
        reload_interval: float = RELOAD_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.aliases = aliases
        self.srs = srs
        self.sealer = sealer
        self.reload_interval = reload_interval
        self.clock = clock
        self._domain = our_domain(aliases.domain)
        self._srs_domain = our_domain(srs.domain)
        self._polled = clock()

    # -- the two hooks ---------------------------------------------------------------------

    def check_recipient(self, address: str) -> Reply | None:
        """The hop's recipient check (:attr:`~stack.smtp.server.InboundConfig.recipients`):
        None when ``address`` can be routed, else the reply that refuses it."""
        self._reload()
        routed = self.route(address)
        return routed if isinstance(routed, Reply) else None

    async def __call__(self, message: Message, transaction: Transaction) -> Reroute | Reply:
        """The transform: the new envelope, and the message sealed when it is forwarded."""
        self._reload()
        queue_id = transaction.arrival.queue_id
        targets: dict[str, None] = {}  # ordered, each address once
        forwarded = False
        refusals: list[tuple[str, Reply]] = []
        for recipient in transaction.recipients:
            routed = self.route(recipient)
            if isinstance(routed, Reply):
                refusals.append((recipient, routed))
                continue
            forwarded = forwarded or routed.forwarded
            targets.update(dict.fromkeys(routed.targets))
        if refusals:
            recipient, refusal = refusals[0]
            _log_refusal(queue_id, recipient, refusal)
            if not targets:
                return refusal
            # Accepted at RCPT, unroutable now: the map changed in between.  Dropping it
            # would lose its mail; a retry has RCPT refuse it alone (see the module).
            return Reply(
                451,
                "4.3.0",
                f"<{recipient}>: the alias map changed during the transaction; try again",
            )
        if len(targets) > MAX_EXPANSION:  # each within the limit, but not all together
            return _too_many("the recipients")
        sender = transaction.sender
        if forwarded:
            sender = self._rewrite(queue_id, sender)
            message = await self._seal(queue_id, message)
        return Reroute(message, sender, tuple(targets))

    # -- routing ---------------------------------------------------------------------------

    def route(self, recipient: str) -> Route | Reply:
        """Where ``recipient`` goes with the current map, or the reply that refuses it."""
        _, at, domain = recipient.rpartition("@")
        if at and self._is(domain, self._srs_domain) and self.srs.is_srs(recipient):
            return self._reverse(recipient)
        if at and not self._is(domain, self._domain):
            return Route(recipient, (recipient,), forwarded=False)
        accepted = check_recipient(
            recipient,
            our_domains=(self._domain,),
            known=lambda local: self.aliases.map.lookup(local) is not None,
        )
        if isinstance(accepted, Refuse):
            return accepted.reply
        targets = self._expand(accepted.local)
        if not targets:
            return Reply(
                550, "5.1.1", f"<{recipient}>: {_REJECTED}: its aliases lead to no mailbox"
            )
        if len(targets) > MAX_EXPANSION:
            return _too_many(f"<{recipient}>: {_REJECTED}: its aliases")
        return Route(recipient, targets, forwarded=True)

    def _reverse(self, recipient: str) -> Route | Reply:
        try:
            original = self.srs.reverse(recipient)
        except SrsError as error:
            log.info("reverse SRS refused: %s", safe_text(str(error), limit=LOG_LIMIT))
            return Reply(
                550,
                "5.1.1",
                f"<{recipient}>: {_REJECTED}: invalid SRS address ({error.failure.value})",
            )
        _, _, domain = original.rpartition("@")
        if self._is(domain, self._domain) or self._is(domain, self._srs_domain):
            # A sender of ours (SRS in a domain of its own rewrites them too), or the SRS0
            # part of an SRS1 address we made twice: routed like any recipient of ours, not
            # sent back to our own MX.  Each reversal makes the address shorter: this ends.
            inner = self.route(original)
            if isinstance(inner, Reply):
                return inner
            return Route(recipient, inner.targets, forwarded=True)
        return Route(recipient, (original,), forwarded=True)

    def _expand(self, local: str) -> tuple[str, ...]:
        """Every address outside our domain that ``local`` leads to, breadth first."""
        aliases = self.aliases.map
        pending = collections.deque([local])
        seen = {local}
        found: dict[str, None] = {}
        while pending and len(found) <= MAX_EXPANSION:
            name = pending.popleft()
            record = aliases.lookup(name)
            if record is None:
                log.warning(
                    "alias map: %s@%s is a target, but has no record",
                    safe_text(name, limit=LOG_LIMIT),
                    self._domain,
                )
                continue
            for target in record.targets:
                inner, _, domain = target.rpartition("@")
                if not self._is(domain, self._domain):
                    found[target] = None
                elif (key := inner.casefold()) not in seen:
                    seen.add(key)
                    pending.append(key)
        return tuple(found)

    @staticmethod
    def _is(domain: str, ours: str) -> bool:
        try:
            return our_domain(domain) == ours
        except NotOurDomainError:
            return False  # not a domain at all, so not ours

    def _reload(self) -> None:
        now = self.clock()
        if now - self._polled < self.reload_interval:
            return
        self._polled = now
        error = self.aliases.poll()
        if error is not None:
            log.error("alias map not reloaded, the old one stays: %s", error)

    # -- forwarding ------------------------------------------------------------------------

    def _rewrite(self, queue_id: str, sender: str) -> str:
        try:
            return self.srs.forward(sender)
        except SrsError as error:
            log.warning(
                "%s: sender kept as it is, SRS cannot rewrite it: %s",
                queue_id,
                safe_text(str(error), limit=LOG_LIMIT),
            )
            return sender

    async def _seal(self, queue_id: str, message: Message) -> Message:
        sealer = self.sealer
        if sealer is None or not sealer.applies(message):
            return message
        data = bytes(message)
        try:
            # dkimpy hashes the whole body: off the event loop, for the large messages.
            sealed = await asyncio.to_thread(sealer.seal, data)
        except Exception as error:
            # dkimpy raises more than DKIMException on hostile fields (see
            # stack.auth.dkim.UNREADABLE_SIGNATURE); any of them must cost the seal, never
            # the message.
            reason = safe_text(f"{type(error).__name__}: {error}", limit=LOG_LIMIT)
            log.warning("%s: forwarded unsealed: %s", queue_id, reason)
            return message
        if not sealed.endswith(data):
            log.error("%s: forwarded unsealed: the seal changed the bytes below it", queue_id)
            return message
        return parse(sealed)


def _too_many(what: str) -> Reply:
    return Reply(550, "5.7.0", f"{what} expand to more than {MAX_EXPANSION} addresses")


def _log_refusal(queue_id: str, recipient: str, refusal: Reply) -> None:
    log.info(
        "%s: to=<%s>: cannot route at the end of data: %s",
        queue_id,
        safe_text(recipient, limit=LOG_LIMIT),
        refusal,
    )


def relay_outbound(
    helo: str,
    *,
    resolvers: Sequence[Endpoint] = (),
    smarthost: tuple[str, int] | None = None,
    ca_file: Path | str | None = None,
    port: int = 25,
    timeout: float = 60.0,
    dead_host_seconds: float = 0.0,
    source_address: str | None = None,
) -> Outbound:
    """The relay's outbound client: by MX through a resolver that forwards to ``resolvers``
    (the domain's resolver service), or to ``smarthost`` (found through them when it is a
    name); MX hosts are reached on ``port``.

    STARTTLS is opportunistic: taken whenever offered.  Without ``ca_file`` it encrypts only
    (RFC 7435) and a failed handshake is tried again in clear text; with one, the
    certificate must chain to that CA and name the host, and a failure defers the message
    rather than send it in clear.  ``source_address`` is the relay's own address, the one
    our SPF record names.  Raises :class:`ValueError` with neither ``resolvers`` nor
    ``smarthost``, :class:`~stack.smtp.tls.TlsConfigError` for a CA that cannot be read.
    """
    resolver = Resolver(forwarders=resolvers) if resolvers else None
    return Outbound(
        helo=helo,
        resolver=resolver,
        smarthost=smarthost,
        port=port,
        starttls="opportunistic",
        tls_context=client_context(ca_file) if ca_file is not None else None,
        timeout=timeout,
        dead_host_seconds=dead_host_seconds,
        source_address=source_address,
    )
