"""ARC (RFC 8617): seal a message when forwarding it, and verify the chain on the way in.

dkimpy computes the three fields of an ARC set and validates chains; we give it our DNS and
our header choices, and prepend its fields through the lossless tree, so no other byte moves.

Sealing needs this ADMD's Authentication-Results already on the message (the verifying hop
writes it, with an ``arc=`` entry for the chain it found): ARC-Authentication-Results copies
it (§4.1.1) and the ``cv=`` of the new ARC-Seal is that ``arc=`` result (§5.1.1).  RFC 8617
§4.1.2 and §4.1.3 allow only rsa-sha256, so sealing keys are RSA.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import dkim as dkimpy

from stack.auth.dkim import (
    DEFAULT_HEADERS,
    REASON_LIMIT,
    UNREADABLE_SIGNATURE,
    field_names,
    key_names,
    readable,
    signed_headers,
    unreadable,
)
from stack.auth.errors import AuthError, SigningKeyError
from stack.auth.keys import SigningKey
from stack.auth.lookup import DnsLookup, dkim_dnsfunc
from stack.errors import bounded, excerpt
from stack.mime import parse
from stack.mime.safe import checked_text

ChainResult = Literal["none", "pass", "fail"]
#: Prepended in this order, so the ARC-Seal ends on top, as each set is added (§4.2).
_SET_ORDER = ("arc-authentication-results", "arc-message-signature", "arc-seal")


@dataclass(frozen=True)
class ArcChain:
    """The chain validation status (§5.2) and how many sets the message carries."""

    result: ChainResult
    instances: int
    reason: str = ""


#: What a message without ARC sets carries.
NO_CHAIN = ArcChain("none", 0)


def verify_chain(message: bytes, lookup: DnsLookup) -> ArcChain:
    """Validate every ARC set (§5.2): ``none`` without sets, else ``pass`` or ``fail``.

    Never raises for what the message holds: a set dkimpy cannot read, a key name that is
    not a DNS name or a key DNS does not give all end the chain in ``fail``.
    """
    logger = logging.Logger("elsinore.arc")
    # dkimpy logs why a set failed, with text the sender chose; without a handler of its
    # own the logger would fall back to printing it on our stderr.
    logger.addHandler(logging.NullHandler())
    problems: dict[str, str] = {}
    try:
        status, sets, reason = dkimpy.arc_verify(
            message, logger=logger, dnsfunc=dkim_dnsfunc(lookup, problems), minkey=1024
        )
    except UNREADABLE_SIGNATURE as exc:
        # dkimpy could not read the header (IndexError: one that starts with a fold) or a
        # set (see UNREADABLE_SIGNATURE); either may quote a whole header line, so the
        # reason quotes an excerpt.
        tree = parse(message)
        sets = tree.get_all("ARC-Seal")
        header = unreadable(message, tree)
        if header is not None:
            cause = f"unreadable header: {header}"
        else:
            cause = f"unreadable: {type(exc).__name__}: {excerpt(str(exc))}"
        return ArcChain("fail" if sets else "none", len(sets), cause)
    # dkimpy gives None, not a status, when a seal says the chain had already failed
    # (cv=fail): §5.2 ends such a chain in fail.
    result = bytes(status or b"fail").decode("ascii").lower()
    chain: ChainResult = "pass" if result == "pass" else "none" if result == "none" else "fail"
    why = str(reason or "")
    if chain == "fail" and problems:
        why = "; ".join([why, *problems.values()]) if why else "; ".join(problems.values())
    return ArcChain(chain, len(sets or ()), bounded(why, REASON_LIMIT))


def seal(
    message: bytes,
    domain: str,
    selector: str,
    key: SigningKey,
    authserv_id: str,
    *,
    headers: Sequence[str] = DEFAULT_HEADERS,
) -> bytes:
    """``message`` with one more ARC set on top; raises :class:`AuthError` when it has no
    Authentication-Results of ``authserv_id`` to seal (a
    :class:`~stack.auth.errors.MessageError` when dkimpy cannot read it)."""
    if key.algorithm != "rsa":
        raise SigningKeyError("ARC seals with rsa-sha256 only (RFC 8617 §4.1.2)")
    # Our own names, but they go into fields we write: checked, never escaped (see
    # stack.mime.safe), and in the ASCII form dkimpy writes.
    selector, domain = key_names(selector, domain)
    if not checked_text(authserv_id, "authserv-id").isascii():
        raise AuthError(f"authserv-id {authserv_id!r}: not ASCII (write a domain as A-labels)")
    tree = readable(message)
    include = signed_headers([f.name for f in tree.fields if f.is_field], field_names(headers), ())
    include = [name for name in include if not name.startswith("arc-")]
    try:
        lines = dkimpy.arc_sign(
            message,
            selector.encode("ascii"),
            domain.encode("ascii"),
            key.dkimpy_key,
            authserv_id.encode("ascii"),
            include_headers=[name.encode("ascii") for name in include],
            logger=logging.Logger("elsinore.arc"),
        )
    except dkimpy.DKIMException as exc:
        raise AuthError(f"cannot seal: {type(exc).__name__}: {excerpt(str(exc))}") from None
    if not lines:
        raise AuthError(f"no Authentication-Results of {authserv_id} to seal")
    fields: dict[str, tuple[str, str]] = {}
    for line in lines:
        name, _, value = bytes(line).decode("ascii").partition(":")
        fields[name.lower()] = (name, value.strip())
    for kind in _SET_ORDER:
        tree.prepend(*fields[kind])
    return bytes(tree)


__all__ = ["NO_CHAIN", "ArcChain", "seal", "verify_chain"]
