"""The equality oracle and the codec's isomorphism properties.

Two models mean the same mail when they are equal as values after the differences listed in
:data:`ALLOWED` are taken out, and only those.  Every entry names the RFC clause that lets an
encoder or a reader make that difference; anything not listed is a bug.  Values already leave
out what the RFCs say carries no meaning, so those need no entry here: comments and folding
white space in structured fields (RFC 5322 3.2.2), the quoting of a quoted-string (3.2.4),
how an encoded-word was split or which charset and encoding it used (RFC 2047 6.2), how an
RFC 2231 parameter was split into sections, the case of media types and parameter names
(RFC 2045 5.1), and the transfer encoding's line lengths (RFC 2045 6.7, 6.8).

The stack keeps its own copy of the one structural allowance (:func:`stack.mime.check.
equivalent`, because the stack never imports the harness); :func:`stack_agrees` and the tests
keep the two in step.

The properties (each raises :class:`PropertyFailure` with the example and its bytes, so a
failing test is a bug report):

- :func:`decode_inverts_encode`: ``decode(encode(m))`` is ``m``;
- :func:`encode_is_canonical`: ``encode(decode(encode(m)))`` is ``encode(m)``, byte for byte;
- :func:`parse_is_lossless`: ``bytes(parse(b))`` is ``b`` for any bytes at all;
- :func:`decode_reads_what_was_written`: a message written by the grammar decodes to the
  model the grammar says it wrote.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from stack.mime import decode, encode, parse
from stack.mime.check import equivalent as stack_equivalent
from stack.mime.check import first_difference, without_boundaries
from stack.mime.model import Mail, Nested, Parts

__all__ = [
    "ALLOWED",
    "Allowance",
    "PropertyFailure",
    "decode_inverts_encode",
    "decode_reads_what_was_written",
    "difference",
    "encode_is_canonical",
    "equivalent",
    "normalise",
    "parse_is_lossless",
    "stack_agrees",
]


@dataclass(frozen=True, slots=True)
class Allowance:
    """One difference two equal mails may show, the clause that allows it, and how to take it
    out of a model."""

    name: str
    clause: str
    reason: str
    remove: Callable[[Mail], Mail]


def _without_defects(mail: Mail) -> Mail:
    body = mail.body
    if isinstance(body, Parts):
        body = dataclasses.replace(body, parts=tuple(_without_defects(p) for p in body.parts))
    elif isinstance(body, Nested):
        body = Nested(_without_defects(body.mail))
    return Mail(mail.headers, body)


#: The differences the oracle allows, each with its reason.  Nothing else may differ.
ALLOWED: tuple[Allowance, ...] = (
    Allowance(
        "multipart boundary",
        "RFC 2046 5.1.1",
        "the boundary is the writer's choice; it must only not occur in the parts, so an "
        "encoder may pick a new one when the model's would occur in them",
        without_boundaries,
    ),
    Allowance(
        "defects",
        "RFC 5322 4 (obsolete syntax), RFC 2045-2049 robustness",
        "defects describe the bytes a model was read from (obsolete forms, repairs), not the "
        "mail; a canonical re-encoding has none",
        _without_defects,
    ),
)


def normalise(mail: Mail) -> Mail:
    """``mail`` with every allowed difference taken out."""
    for allowance in ALLOWED:
        mail = allowance.remove(mail)
    return mail


def equivalent(a: Mail, b: Mail) -> bool:
    """Whether ``a`` and ``b`` are the same mail under the oracle."""
    return a == b or normalise(a) == normalise(b)


def difference(a: Mail, b: Mail) -> str | None:
    """Where ``a`` and ``b`` first differ beyond the allowances, or None."""
    if equivalent(a, b):
        return None
    return first_difference(normalise(a), normalise(b)) or "the models differ"


def stack_agrees(a: Mail, b: Mail) -> bool:
    """Whether the stack's own equality (``elsinore mime check``) says what the oracle says."""
    return stack_equivalent(a, b) == equivalent(a, b)


class PropertyFailure(AssertionError):
    """A property that does not hold, with the example and its bytes in the message."""


def _fail(what: str, example: object, data: bytes | None = None) -> PropertyFailure:
    lines = [what, f"example: {example!r:.2000}"]
    if data is not None:
        lines.append(f"bytes: {data!r:.4000}")
    return PropertyFailure("\n".join(lines))


def decode_inverts_encode(mail: Mail) -> None:
    """``decode(encode(mail))`` is ``mail`` under the oracle (DESIGN.md principle 2)."""
    wire = encode(mail)
    again = decode(wire)
    found = difference(mail, again)
    if found is not None:
        raise _fail(f"decode(encode(m)) != m: {found}", mail, wire)


def encode_is_canonical(mail: Mail) -> None:
    """Encoding is canonical: what the encoder wrote, decoded and encoded again, is the same
    bytes."""
    wire = encode(mail)
    again = encode(decode(wire))
    if again != wire:
        at = first_byte_difference(wire, again)
        raise _fail(f"encode(decode(encode(m))) != encode(m) at byte {at}", mail, wire)


def first_byte_difference(a: bytes, b: bytes) -> int:
    """The offset of the first byte where ``a`` and ``b`` differ: the shorter one's length when
    it is a prefix of the other, and that length too when they are equal."""
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def parse_is_lossless(data: bytes) -> None:
    """``bytes(parse(data)) == data`` for any input, valid or not, walked to the last part."""
    message = parse(data)
    for _ in message.walk():
        pass
    if bytes(message) != data:
        raise _fail("bytes(parse(b)) != b", data, bytes(message))


def decode_reads_what_was_written(data: bytes, expected: Mail) -> None:
    """``decode(data)`` is ``expected``: the model the grammar says its bytes mean."""
    got = decode(data)
    found = difference(expected, got)
    if found is not None:
        raise _fail(f"decode(b) is not the model written: {found}", expected, data)
