"""DKIM (RFC 6376, RFC 8463): sign a message, and verify every signature it carries.

dkimpy does the canonicalization and the cryptography; this module chooses what to sign and
reports a result per signature.  A hop never re-serialises: :func:`sign` prepends the
``DKIM-Signature`` field through :meth:`stack.mime.Message.prepend`, so every other byte of
the message is the one it received.

What we sign (§5.4): each field of :data:`DEFAULT_HEADERS` once per instance present, and the
fields of :data:`OVERSIGNED` one time more than present.  The extra, empty instance is what
stops anyone from adding a second From, To or Subject without breaking the signature
(§8.15, "over-signing").
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import dkim as dkimpy
from dkim.util import InvalidTagValueList, parse_tag_value

from stack.auth.errors import AuthError, MessageError
from stack.auth.keys import SigningKey
from stack.auth.lookup import DnsLookup, dkim_dnsfunc
from stack.auth.publish import selector_name
from stack.errors import bounded, excerpt
from stack.mime import Field, Message, parse

#: RFC 6376 §5.4.1's recommended fields, in the order they are listed in ``h=``.
DEFAULT_HEADERS: tuple[str, ...] = (
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "to",
    "cc",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-id",
    "content-description",
    "in-reply-to",
    "references",
    "list-id",
    "list-help",
    "list-unsubscribe",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
)
OVERSIGNED: tuple[str, ...] = ("from", "to", "subject")
CANONICALIZATION = (b"relaxed", b"relaxed")

#: The longest reason a result gives as it is: dkimpy's quote tag values whole (an a= of
#: 100,000 characters is "unknown signature algorithm: b'...'"), so a longer one is an
#: excerpt.
REASON_LIMIT = 200

DkimResultName = Literal["pass", "fail", "neutral", "temperror", "permerror"]


def signed_headers(
    present: Iterable[str],
    headers: Sequence[str] = DEFAULT_HEADERS,
    oversign: Sequence[str] = OVERSIGNED,
) -> list[str]:
    """The ``h=`` list for a header holding the fields ``present`` (names, any case)."""
    counts = Counter(name.lower() for name in present)
    oversigned = {name.lower() for name in oversign}
    chosen: list[str] = []
    for name in dict.fromkeys(name.lower() for name in [*headers, *oversign]):
        chosen += [name] * (counts[name] + (name in oversigned))
    if "from" not in chosen:
        chosen.insert(0, "from")  # §5.4: From MUST be signed
    return chosen


@dataclass(frozen=True)
class Signer:
    """One signing domain's configuration: its key, selector and the fields it signs."""

    domain: str
    selector: str
    key: SigningKey
    headers: Sequence[str] = DEFAULT_HEADERS
    oversign: Sequence[str] = OVERSIGNED

    def signature(self, message: bytes) -> str:
        """The ``DKIM-Signature`` field value (folded, without the name) for ``message``;
        raises :class:`MessageError` for a message we must not sign (see :func:`signable`)."""
        selector, domain = key_names(self.selector, self.domain)
        include = signed_headers(
            [f.name for f in signable(message).fields if f.is_field],
            field_names(self.headers),
            field_names(self.oversign),
        )
        signer = dkimpy.DKIM(message, signature_algorithm=self.key.signature_algorithm)
        try:
            line = signer.sign(
                selector.encode("ascii"),
                domain.encode("ascii"),
                self.key.dkimpy_key,
                canonicalize=CANONICALIZATION,
                include_headers=[name.encode("ascii") for name in include],
            )
        except dkimpy.DKIMException as exc:
            raise AuthError(f"cannot sign: {_quoted(exc)}") from None
        name, _, value = bytes(line).partition(b":")
        assert name.lower() == b"dkim-signature"
        return value.strip().decode("ascii")

    def sign(self, message: bytes) -> bytes:
        """``message`` with a DKIM-Signature prepended; no other byte changes."""
        signature = self.signature(message)
        tree = parse(message)
        tree.prepend("DKIM-Signature", signature)
        return bytes(tree)


#: Header defects (:mod:`stack.mime.lossless`) that dkimpy cannot read past: a line that is
#: neither a field nor a fold of one, and a fold before the first field.
_UNREADABLE = frozenset({"missing-header-separator", "continuation-without-field"})


def unreadable(message: bytes, tree: Message | None = None) -> MessageError | None:
    """Why dkimpy cannot read ``message``'s header, or None when it can (``tree``: the
    message already parsed).

    dkimpy's own errors quote the whole offending line, however long, and an empty message
    is a TypeError deep inside it; this says where, and quotes an excerpt.
    """
    if not message:
        return MessageError("empty message", 0)
    tree = parse(message) if tree is None else tree
    for defect in tree.defects:
        # Only the top-level header: dkimpy reads no other (and parts are split lazily).
        if defect.kind in _UNREADABLE and defect.offset <= tree.body_offset:
            end = message.find(b"\n", defect.offset)
            line = message[defect.offset : len(message) if end < 0 else end].removesuffix(b"\r")
            return MessageError(f"{defect.detail}: {excerpt(line)}", defect.offset)
    return None


def readable(message: bytes) -> Message:
    """``message`` parsed, or the :class:`MessageError` of :func:`unreadable`: what the
    signer, the sealer and the commands that verify check first."""
    tree = parse(message)
    problem = unreadable(message, tree)
    if problem is not None:
        raise problem
    return tree


def signable(message: bytes) -> Message:
    """``message`` parsed, or a :class:`MessageError` unless dkimpy can read it and it has
    exactly one From field.

    §5.4: From MUST be signed, and without a From dkimpy would sign an empty one; RFC 5322
    §3.6 allows one From only, and a second is what over-signing is there to stop (§8.15).
    """
    tree = readable(message)
    authors = tree.get_all("From")
    if not authors:
        raise MessageError("no From field (RFC 6376 §5.4: From must be signed)", 0)
    if len(authors) > 1:
        reason = "a second From field (RFC 5322 §3.6: a message has exactly one)"
        raise MessageError(reason, authors[1].offset)
    return tree


def key_names(selector: str, domain: str) -> tuple[str, str]:
    """The selector and domain as ``s=`` and ``d=`` write them: checked as keygen checks them
    (:func:`~stack.auth.publish.selector_name` raises :class:`KeyNameError`), U-labels
    written as A-labels, so a signature names the record keygen published.

    They come from configuration, yet go into a field we write: a line break there would be
    header injection, a name that is no DNS name a signature nobody can verify.
    """
    labels = [label.decode("ascii") for label in selector_name(selector, domain).labels[:-1]]
    # Only the separator can be "_domainkey": every other label is letters, digits, hyphens.
    at = labels.index("_domainkey")
    return ".".join(labels[:at]), ".".join(labels[at + 1 :])


def field_names(names: Iterable[str]) -> list[str]:
    """``names`` if each is a field name (RFC 5322 §3.6.8), else :class:`AuthError`."""
    for name in names:
        if not Field.valid_name(name):
            raise AuthError(
                f"{name!r} is not a field name (printable US-ASCII without a colon, RFC 5322 "
                "§3.6.8)"
            )
    return list(names)


def sign(message: bytes, domain: str, selector: str, key: SigningKey) -> bytes:
    """Sign with the default field list: :meth:`Signer.sign`."""
    return Signer(domain, selector, key).sign(message)


@dataclass(frozen=True)
class DkimResult:
    """The verdict on one DKIM-Signature (RFC 8601 §2.7.1 result names)."""

    result: DkimResultName
    domain: str
    selector: str
    algorithm: str
    identity: str
    reason: str = ""
    #: The first characters of ``b=``: what tells two signatures apart (RFC 6008).
    signature_b: str = ""

    @property
    def passed(self) -> bool:
        return self.result == "pass"


def verify_all(message: bytes, lookup: DnsLookup, *, allow_sha1: bool = False) -> list[DkimResult]:
    """A result for every DKIM-Signature field, top to bottom; empty when there is none.

    RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 signatures valid, so they are a
    ``permerror`` unless ``allow_sha1`` (only for checking another signer's arithmetic).
    """
    try:
        first = _Verifier(message)
    except _DKIMPY_PARSE_ERRORS as exc:
        # dkimpy cannot read the header at all: each signature our own parser finds is
        # reported, none is silently dropped.
        tree = parse(message)
        fields = tree.get_all("DKIM-Signature")
        reason = f"unreadable header: {unreadable(message, tree) or _quoted(exc)}"
        return [_result(_tags(f.raw_value), "permerror", reason) for f in fields]
    count = len(first.signatures())
    return [
        _verify_one(first if index == 0 else _Verifier(message), index, lookup, allow_sha1)
        for index in range(count)
    ]


#: What dkimpy's header parser raises on input it cannot read (an IndexError for a header
#: that starts with a continuation line, as of dkimpy 1.1.8).
_DKIMPY_PARSE_ERRORS = (dkimpy.DKIMException, IndexError)

#: What dkimpy lets escape from verifying a signature it cannot read, besides its own
#: exceptions (dkimpy 1.1.8, found by the property tests and fuzz targets of issue 13): a
#: ValueError from ``int()`` of a t=, x= or l= past CPython's 4,300-digit limit, from PyNaCl
#: for an Ed25519 b= that is not 64 bytes, from base64 and from decoding; an IndexError or
#: KeyError from a tag list it half read.  Each is a signature no verifier can check: a
#: permerror (RFC 6376 §6.1.1), never an exception out of the MX.
UNREADABLE_SIGNATURE = (dkimpy.DKIMException, ValueError, IndexError, KeyError)


class _Verifier(logging.Handler):
    """One dkimpy verifier and the log lines it wrote (they carry its reasons for failing).

    One per signature: dkimpy keeps the signature being checked as state on the object.
    """

    def __init__(self, message: bytes) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []
        logger = logging.Logger("elsinore.dkim")
        logger.addHandler(self)
        self.dkim = dkimpy.DKIM(message, logger=logger)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def signatures(self) -> list[bytes]:
        return [value for name, value in self.dkim.headers if name.lower() == b"dkim-signature"]


def _quoted(exc: Exception) -> str:
    """A dkimpy error in a reason: its text may quote a whole header line, so an excerpt."""
    return f"{type(exc).__name__}: {excerpt(str(exc))}"


def _verify_one(verifier: _Verifier, index: int, lookup: DnsLookup, allow_sha1: bool) -> DkimResult:
    tags = _tags(verifier.signatures()[index])
    outcome: dict[str, str] = {}

    def fail(result: DkimResultName, reason: str) -> DkimResult:
        return _result(tags, result, reason)

    if tags.get(b"a", b"").strip().lower() == b"rsa-sha1" and not allow_sha1:
        return fail("permerror", "rsa-sha1 signatures are not valid (RFC 8301 §3.1)")
    try:
        verified = verifier.dkim.verify(idx=index, dnsfunc=dkim_dnsfunc(lookup, outcome))
    except dkimpy.ValidationError as exc:
        # §6.1.3: a body hash that does not match is a failed signature, not a broken one.
        if str(exc).startswith("body hash mismatch"):
            return fail("fail", "body hash did not verify")
        return fail("permerror", str(exc))
    except UNREADABLE_SIGNATURE as exc:
        return fail("permerror", f"unreadable signature: {str(exc) or type(exc).__name__}")
    if verified:
        return fail("pass", "")
    if "temperror" in outcome:
        return fail("temperror", outcome["temperror"])
    if "permerror" in outcome:
        return fail("permerror", outcome["permerror"])
    reason = verifier.messages[-1] if verifier.messages else "signature did not verify"
    return fail("fail", reason)


def _tags(value: bytes) -> dict[bytes, bytes]:
    try:
        return dict(parse_tag_value(value))
    except InvalidTagValueList:
        return {}


def _result(tags: dict[bytes, bytes], result: DkimResultName, reason: str) -> DkimResult:
    def tag(name: bytes) -> str:
        return tags.get(name, b"").decode("ascii", "replace")

    domain = tag(b"d")
    return DkimResult(
        result=result,
        domain=domain,
        selector=tag(b"s"),
        algorithm=tag(b"a"),
        identity=tag(b"i") or f"@{domain}",
        reason=bounded(reason, REASON_LIMIT),
        signature_b="".join(tag(b"b").split())[:8],
    )


__all__ = [
    "DEFAULT_HEADERS",
    "OVERSIGNED",
    "REASON_LIMIT",
    "UNREADABLE_SIGNATURE",
    "DkimResult",
    "Signer",
    "field_names",
    "key_names",
    "readable",
    "sign",
    "signable",
    "signed_headers",
    "unreadable",
    "verify_all",
]
