"""The verifier, the domain's MX: who sent each message from outside, and whether we take it.

Its parts, each built from explicit arguments (the service runner reads them from
``stack.toml`` and wires them; nothing here reads a configuration)::

    lookup = resolver_lookup(resolver_endpoint)      # a BlockingResolver: close it on stop
    watcher = Watcher(users_directory, "castle.test", postmaster=postmaster)
    config = InboundConfig(
        hostname="mx.castle.test",
        transforms=(stamp_received, Verification("mx.castle.test", lookup)),
        recipients=Recipients(["castle.test"], watcher),
    )
    smtp_service("verifier", config, spool, Outbound(smarthost=spamfilter),
                 listen=[Endpoint(address, 25)], tls_context=credentials.server_context(),
                 closers=[lookup.close])

:class:`Verification` is the transform after the ``Received:`` field.  It runs
:func:`stack.auth.inbound.authenticate` (SPF for MAIL FROM, or for HELO when the reverse-path
is null; every DKIM signature; DMARC; the ARC chain) against the client's address, then
:func:`~stack.auth.inbound.stamp_tree`: the ``Authentication-Results`` fields that claim our
authserv-id go (RFC 8601 §5), and ``Authentication-Results`` and ``Received-SPF`` are
prepended to the tree the hop parsed, so the bytes below them are the bytes that came.
stack.auth is synchronous over a :class:`~stack.auth.lookup.DnsLookup`; it runs in a worker
thread (:func:`asyncio.to_thread`), so a message waiting on DNS leaves the event loop, and
every other session, free.

What it decides, in :func:`disposition` (a pure function of the verdict):

- **DMARC fail, policy reject** (after ``pct``): ``550 5.7.1``, at the end of data, as
  OpenDMARC's ``RejectFailures`` and Gmail do.  The domain owner asked for exactly this
  (RFC 7489 §6.3), and a refusal in the session tells the real sender, where a message
  accepted and then dropped would tell nobody.  A passing ARC chain does not override it:
  that is only sound for sealers we trust (RFC 8617 §7.2), and we have no such list.
- **...unless SPF or a DKIM signature whose domain aligns with the From domain ended in
  temperror**: then the fail may be our DNS's fault, not the sender's, and the answer is
  ``451 4.7.0``; the sender's MTA tries again.  A temperror of an identifier that does not
  align could not have made DMARC pass, and changes nothing.
- **DMARC temperror** (the policy record could not be read): ``451 4.7.0`` too.  The record
  might say reject; accepting now would deliver what the domain asked us to refuse, and a
  deferral costs a legitimate sender only a retry.  This is the one case where a DNS outage
  defers mail, as Postfix's ``reject_unknown_sender_domain`` answers 450 when its lookup
  fails for the time being.
- **DMARC fail, policy quarantine**: accepted.  Our ``Authentication-Results`` says
  ``dmarc=fail ... policy.dmarc=quarantine``; the spam filter and the user's own rules decide
  where it goes, as RFC 7489 §6.3 leaves "quarantine" to the receiver.
- **SPF fail with no DMARC policy to apply**: accepted, the result stamped.  RFC 7489 §10.1
  warns that refusing on SPF before DMARC is evaluated loses mail DMARC would pass (a
  forwarder's, with a DKIM signature intact); SPF temperror alone is stamped, not deferred.

**HELO.**  RFC 7208 §2.3 recommends checking the HELO identity too.  With a null reverse-path
it is the identity checked (``Received-SPF: ... identity=helo``).  Otherwise it is checked as
well, and reported only in ``Authentication-Results``, as a second ``spf=`` entry with
``smtp.helo`` (RFC 8601 §2.7.2 names that property for it): ``Received-SPF`` stays about the
MAIL FROM, the identity DMARC aligns, so a reader that takes the first ``Received-SPF`` it
finds still reads the result that matters.  A HELO result decides nothing here.

Every value the client chose (HELO, MAIL FROM, a selector, a From domain) reaches the fields
through :mod:`stack.auth.results`, which makes each one safe; the refusal quotes nothing the
client chose but an ASCII From domain.

:class:`Recipients` is the hop's check of each RCPT address
(:attr:`~stack.smtp.server.InboundConfig.recipients`):
:func:`~stack.smtp.recipients.recipient_policy` over our domains and the alias map a
:class:`~stack.relay.aliases.Watcher` keeps, which it polls at most once a second, so a user
added to the folder can receive mail without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import replace

from stack.auth import spf
from stack.auth.dmarc import aligned
from stack.auth.inbound import Verdict, authenticate, stamp_tree
from stack.auth.lookup import DnsLookup
from stack.mime.lossless import Message
from stack.relay.aliases import Watcher
from stack.smtp.policy import Limits, Reply
from stack.smtp.recipients import recipient_policy
from stack.smtp.server import Transaction

log = logging.getLogger("elsinore.services.verifier")

#: The longest From domain a refusal quotes (RFC 1035 §2.3.4: a name has at most 253 octets).
_DOMAIN_LIMIT = 253


def disposition(verdict: Verdict) -> Reply | None:
    """None to accept the message, else the reply that refuses or defers it (see the module's
    docstring for each case and why)."""
    outcome = verdict.dmarc
    domain = _quotable(outcome.from_domain)
    if outcome.result == "temperror":
        return Reply(451, "4.7.0", f"Cannot read the DMARC policy of {domain} now; try again later")
    if outcome.result != "fail" or outcome.disposition != "reject":
        return None
    if _could_have_passed(verdict):
        return Reply(
            451,
            "4.7.0",
            f"Cannot authenticate the message for the DMARC policy of {domain} now; "
            "try again later",
        )
    return Reply(550, "5.7.1", f"Message refused by the DMARC policy of {domain}")


def _could_have_passed(verdict: Verdict) -> bool:
    """Whether an SPF or DKIM temperror hides what might have been an aligned pass: only an
    identifier aligned with the From domain (RFC 7489 §3.1) could have changed the result, so
    a sender cannot turn a refusal into a deferral with a MAIL FROM of a broken domain."""
    outcome = verdict.dmarc
    record = outcome.record
    aspf, adkim = (record.aspf, record.adkim) if record is not None else ("r", "r")
    spf_result = verdict.spf
    if (
        spf_result.result == "temperror"
        and spf_result.identity == "mailfrom"
        and aligned(spf_result.domain, outcome.from_domain, aspf)
    ):
        return True
    return any(
        result.result == "temperror" and aligned(result.domain, outcome.from_domain, adkim)
        for result in verdict.dkim
    )


def _quotable(domain: str) -> str:
    # A From domain is the sender's text: quoted only when it is plainly one (a reply line is
    # ASCII without controls), else named by what it is.
    plain = domain.isascii() and domain.isprintable() and " " not in domain
    if plain and 0 < len(domain) <= _DOMAIN_LIMIT:
        return domain
    return "the From domain"


class Verification:
    """The verifier's transform: authenticate, then refuse (:func:`disposition`) or stamp.

    ``authserv_id`` names us in ``Authentication-Results`` (the MX's host name, RFC 8601
    §2.5) and as the ``receiver`` of ``Received-SPF``; ``lookup`` answers stack.auth's DNS
    queries, our resolver through a :class:`~stack.dns.blocking.BlockingResolver` in service.
    """

    def __init__(self, authserv_id: str, lookup: DnsLookup) -> None:
        self.authserv_id = authserv_id
        self.lookup = lookup

    async def __call__(self, message: Message, transaction: Transaction) -> Message | Reply:
        arrival = transaction.arrival
        verdict = await asyncio.to_thread(
            self.verdict, bytes(message), arrival.address, transaction.sender, arrival.helo
        )
        # Result names only (our words, not the client's): the hop's own line says who sent it.
        log.info(
            "%s: spf=%s helo=%s dkim=%s dmarc=%s (%s) arc=%s",
            arrival.queue_id,
            verdict.spf.result,
            "-" if verdict.helo is None else verdict.helo.result,
            ",".join(result.result for result in verdict.dkim) or "none",
            verdict.dmarc.result,
            verdict.dmarc.disposition,
            verdict.arc.result,
        )
        refusal = disposition(verdict)
        if refusal is not None:
            return refusal
        return stamp_tree(message, verdict, self.authserv_id)

    def verdict(self, message: bytes, ip: str, sender: str, helo: str) -> Verdict:
        """Everything stack.auth says of ``message``, the HELO identity included (blocking)."""
        verdict = authenticate(message, ip, sender, helo, self.lookup)
        if sender:
            # With a null sender the HELO identity is the one authenticate() checked already.
            verdict = replace(verdict, helo=spf.check_helo(ip, helo, self.lookup))
        return verdict


class Recipients:
    """The MX's check of each RCPT address: our domains, the users the alias map knows, and
    postmaster; every relay trick refused (:func:`~stack.smtp.recipients.recipient_policy`).

    The folder is polled at most once every ``interval`` seconds of ``clock``, on the RCPT
    that finds the last poll older than that: a ``stat`` of the folder, and a read of it only
    when it changed.  A folder that reads badly leaves the previous map in force; the error
    is logged once per change of the folder (the :class:`~stack.relay.aliases.Watcher`'s
    rule).  ``also`` knows local parts the map does not: the SRS addresses of bounces coming
    back, which the relay reverses.  Raises
    :class:`~stack.smtp.recipients.NotOurDomainError` for a domain of ``domains`` that is
    not one.
    """

    def __init__(
        self,
        domains: Collection[str],
        watcher: Watcher,
        *,
        limits: Limits | None = None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        also: Callable[[str], bool] | None = None,
    ) -> None:
        self.watcher = watcher
        self.also = also
        self.interval = interval
        self.clock = clock
        self._polled: float | None = None
        self._policy = recipient_policy(domains, self._known, limits or Limits())

    def __call__(self, path: str) -> Reply | None:
        now = self.clock()
        if self._polled is None or now - self._polled >= self.interval:
            self._polled = now
            error = self.watcher.poll()
            if error is not None:
                log.warning("users folder: %s; the previous alias map stays in force", error)
        return self._policy(path)

    def _known(self, local_part: str) -> bool:
        if self.watcher.map.lookup(local_part) is not None:
            return True
        return self.also is not None and self.also(local_part)


__all__ = ["Recipients", "Verification", "disposition"]
