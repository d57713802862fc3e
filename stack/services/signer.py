"""The signer: DKIM-signs the mail our users send, with an RSA and an Ed25519 key.

Its parts, each built from explicit arguments (the service runner reads them from
``stack.toml`` and wires them; nothing here reads a configuration)::

    keys = signing_keys(seed=read_seed(key_seed))          # or rsa_key=..., ed25519_key=...
    selectors = keys.selectors("rsa202612", "ed202612")    # outermost signature first
    config = InboundConfig(
        hostname="signer.castle.test",
        transforms=(stamp_received, DkimSigning(["castle.test"], selectors)),
    )
    smtp_service("signer", config, spool, Outbound(smarthost=relay), listen=[...],
                 starters=[KeyPublisher(primary, tsig_key, ["castle.test"], selectors)])

:class:`DkimSigning` is the transform after the ``Received:`` field.  For a message whose
author (the RFC5322.From mailbox, as DMARC reads it, RFC 7489 §3.1.1) is at one of our
domains, it prepends one ``DKIM-Signature`` per key, made by :class:`stack.auth.dkim.Signer`
with ``d=`` that domain: relaxed/relaxed, From, To and Subject oversigned, so that a From
added after signing breaks both signatures (RFC 6376 §8.15).  Every byte below the new
fields is the byte that came (principle 1).

**Order.**  The RSA signature is outermost, the first a reader meets.  Both are checked by a
verifier that knows Ed25519 (RFC 8463 §3), but one that does not may report the first
signature it reads, or only that one; rsa-sha256 is the one every verifier can check.

**What passes unsigned**, logged, and is never refused: mail whose author is not at one of
our domains (a relay of someone else's mail is not ours to vouch for), and mail the signer
cannot sign: no From field or two (RFC 6376 §5.4), a header dkimpy cannot read
(:func:`stack.auth.dkim.signable`).  This is what Postfix with OpenDKIM does by default
(``On-Default accept``): the message goes on, and the receiver's DMARC decides what an
unsigned message from us is worth.  A refusal here would bounce mail that submission
accepted already, for a fault the user cannot see.

:class:`KeyPublisher` is the service's starter: before the signer listens, it makes sure both
public keys are at their selectors in the primary (:func:`stack.auth.publish.publish_missing`,
a TSIG-signed update that adds only what is missing), so that the first message signed is
verifiable.  A primary that refuses, or a selector holding another key, stops the start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.tsig

from stack.auth import keys
from stack.auth.dkim import DEFAULT_HEADERS, OVERSIGNED, Signer
from stack.auth.errors import AuthError, SigningKeyError
from stack.auth.keys import SigningKey
from stack.auth.publish import publish_missing
from stack.dns.addresses import Endpoint
from stack.mime.decode import decode_field
from stack.mime.errors import ParseError
from stack.mime.fields.address import Mailbox
from stack.mime.lossless import Message
from stack.mime.safe import safe_text
from stack.smtp.policy import LOG_LIMIT
from stack.smtp.recipients import NotOurDomainError, our_domain
from stack.smtp.server import Transaction

log = logging.getLogger("elsinore.services.signer")


@dataclass(frozen=True)
class SigningKeys:
    """The signer's two keys."""

    rsa: SigningKey
    ed25519: SigningKey

    def selectors(self, rsa_selector: str, ed25519_selector: str) -> list[tuple[str, SigningKey]]:
        """Each key with its selector, in the order the signatures go: RSA outermost."""
        return [(rsa_selector, self.rsa), (ed25519_selector, self.ed25519)]


def signing_keys(
    *,
    seed: bytes | None = None,
    rsa_key: Path | None = None,
    ed25519_key: Path | None = None,
    rsa_bits: int = keys.DEFAULT_RSA_BITS,
) -> SigningKeys:
    """Both keys, from a 32-byte ``seed`` (:func:`stack.auth.keys.from_seed`, as the seed
    deployment's ``--key-seed``) or from the two PEM files; :class:`SigningKeyError` unless
    exactly one of the two ways is given, or when a file holds the other algorithm's key."""
    files = (rsa_key, ed25519_key)
    if seed is not None:
        if any(path is not None for path in files):
            raise SigningKeyError("give a key seed or key files, not both")
        return SigningKeys(keys.from_seed(seed, "rsa", rsa_bits), keys.from_seed(seed, "ed25519"))
    if rsa_key is None or ed25519_key is None:
        raise SigningKeyError("the signer needs a key seed, or both an RSA and an Ed25519 key")
    loaded = SigningKeys(keys.load(rsa_key), keys.load(ed25519_key))
    if loaded.rsa.algorithm != "rsa":
        raise SigningKeyError(f"{rsa_key}: an {loaded.rsa.algorithm} key, not an RSA one")
    if loaded.ed25519.algorithm != "ed25519":
        raise SigningKeyError(f"{ed25519_key}: an {loaded.ed25519.algorithm} key, not Ed25519")
    return loaded


def author_domains(message: Message) -> list[str]:
    """The domains of the From field's mailboxes, in order; empty when there is not exactly
    one From field or it does not read as a mailbox list."""
    fields = message.get_all("From")
    if len(fields) != 1:
        return []
    try:
        authors = decode_field("From", fields[0].unfolded())
    except ParseError:
        return []
    if not isinstance(authors, tuple):
        return []
    return [author.domain for author in authors if isinstance(author, Mailbox)]


class DkimSigning:
    """The signer's transform: a ``DKIM-Signature`` per key for mail from our ``domains``.

    ``selectors`` are ``(selector, key)`` pairs, the outermost signature first (see the
    module's docstring for the order and for what passes unsigned).  The signing domain is
    the first author domain that is one of ours, in lower-case A-labels.  Raises
    :class:`~stack.smtp.recipients.NotOurDomainError` for a domain that is not a domain
    name, and :class:`~stack.auth.errors.AuthError` for a selector or domain no key record
    could live at, so that a mistake shows at start rather than as unsigned mail.
    """

    def __init__(
        self,
        domains: Collection[str],
        selectors: Sequence[tuple[str, SigningKey]],
        *,
        headers: Sequence[str] = DEFAULT_HEADERS,
        oversign: Sequence[str] = OVERSIGNED,
    ) -> None:
        if not selectors:
            raise SigningKeyError("the signer needs at least one key")
        if "from" not in {name.lower() for name in oversign}:
            # Signing From once more than present (§8.15) is what makes a second From,
            # inserted above the signed one where most readers show it, break the signature.
            raise AuthError("From must be oversigned")
        self.signers: dict[str, list[Signer]] = {}
        for configured in domains:
            domain = our_domain(configured)
            signers = [Signer(domain, s, key, headers, oversign) for s, key in selectors]
            for signer in signers:
                signer.signature(_PROBE)  # a bad selector raises now
            self.signers[domain] = signers

    async def __call__(self, message: Message, transaction: Transaction) -> Message:
        queue_id = transaction.arrival.queue_id
        signers = self._signers_for(message)
        if signers is None:
            log.info("%s: passed unsigned: no single From field of our domains", queue_id)
            return message
        # Canonicalising a large body takes a while: in a worker thread, so that one big
        # message holds up no other session.
        signatures = await asyncio.to_thread(_signatures, signers, bytes(message))
        if isinstance(signatures, AuthError):
            reason = safe_text(str(signatures), limit=LOG_LIMIT)
            log.warning("%s: passed unsigned: cannot sign it: %s", queue_id, reason)
            return message
        # Prepended innermost first, so the first of ``selectors`` ends up on top.
        for signature in reversed(signatures):
            message.prepend("DKIM-Signature", signature)
        names = ", ".join(f"s={signer.selector}" for signer in signers)
        log.info("%s: signed, d=%s %s", queue_id, signers[0].domain, names)
        return message

    def _signers_for(self, message: Message) -> list[Signer] | None:
        for domain in author_domains(message):
            try:
                signers = self.signers.get(our_domain(domain))
            except NotOurDomainError:
                continue  # an author domain that is no domain name is not one of ours
            if signers is not None:
                return signers
        return None


#: What :class:`DkimSigning` signs once at start to check its configuration.
_PROBE = b"From: probe@example.org\r\n\r\n"


def _signatures(signers: Sequence[Signer], data: bytes) -> list[str] | AuthError:
    """Each signer's ``DKIM-Signature`` value for ``data``, or why it cannot be signed."""
    try:
        return [signer.signature(data) for signer in signers]
    except AuthError as exc:
        return exc


class KeyPublisher:
    """The signer's starter: each key's record at its selector of each of our ``domains``,
    through ``primary`` by updates signed with ``tsig_key``.  ``zone`` is the zone that holds
    the selectors when it is not the domain itself."""

    def __init__(
        self,
        primary: Endpoint,
        tsig_key: dns.tsig.Key,
        domains: Collection[str],
        selectors: Sequence[tuple[str, SigningKey]],
        *,
        zone: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.primary = primary
        self.tsig_key = tsig_key
        self.domains = list(domains)
        self.records = [(selector, key.record()) for selector, key in selectors]
        self.zone = zone
        self.timeout = timeout

    async def __call__(self) -> None:
        for domain in self.domains:
            published = await publish_missing(
                self.primary,
                self.tsig_key,
                domain,
                self.records,
                zone=self.zone,
                timeout=self.timeout,
            )
            for name in published:
                log.info("published the key at %s", name.to_text(omit_final_dot=True))
            if not published:
                log.info("%s: every key is published already", domain)


__all__ = [
    "DkimSigning",
    "KeyPublisher",
    "SigningKeys",
    "author_domains",
    "signing_keys",
]
