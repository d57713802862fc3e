"""What RFC 5322 and RFC 2045/2046 require of a whole entity, beyond each field's grammar.

The field decoders see one value at a time.  These rules need more: how long each line is,
which fields a header holds and how often, and whether a body holds bytes its transfer
encoding cannot carry.  Each broken rule is a :class:`Defect` whose detail starts with the
section it breaks, so that strict mode's :class:`ParseError` names it:

============================  ================================================================
RFC 5322 2.1.1                a line of more than 998 octets (not counting CRLF), in a header
                              or a body; a body sent ``binary`` (RFC 2045 2.9) has no limit
RFC 5322 3.6                  a message without From or Date (an empty one has neither); more
                              than one Date, From, Sender, Reply-To, To, Cc, Bcc, Message-ID,
                              In-Reply-To, References or Subject
RFC 5322 3.6.2                From with several mailboxes and no Sender; Sender with other
                              than one mailbox
RFC 5322 3.6.6                resent fields without Resent-From or without Resent-Date
RFC 2046 5.2.1                a message/rfc822 body without any of From, Subject and Date
RFC 2045 2.7, 6.1, 6.7        an 8-bit byte in a body labelled (or defaulting to) 7bit, or in a
                              quoted-printable body
============================  ================================================================

Line endings are counted as LF or CRLF alike: mail at rest (Maildir, mbox) uses the host's
line ending, and the lossless layer reads both.

A MIME body part is not a message: only the line and 8-bit rules apply to it.  The bodies
checked are the leaves': a multipart's preamble and epilogue, and an encapsulated message's
bytes against its enclosing part's label, are not (yet).  Every rule is one pass over the
bytes it reads, so decoding stays linear.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator

from stack.mime import lossless
from stack.mime.errors import Defect
from stack.mime.fields import Group, Mailbox
from stack.mime.model import Header
from stack.mime.transfer import MAX_LINE

__all__ = ["Entity", "body_defects", "header_defects"]


class Entity(enum.Enum):
    """Which rules a node of the tree is held to."""

    #: The top-level message: RFC 5322 3.6 in full.
    MESSAGE = "message"
    #: The body of a message/rfc822 part: RFC 2046 5.2.1's relaxed form of 3.6.
    ENCAPSULATED = "encapsulated"
    #: A MIME body part: no field is required.
    PART = "part"


#: RFC 5322 3.6: the fields a message may hold at most once (trace and resent fields repeat).
AT_MOST_ONCE = (
    "date",
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "message-id",
    "in-reply-to",
    "references",
    "subject",
)
_AT_MOST_ONCE = frozenset(AT_MOST_ONCE)

# A line of more than MAX_LINE octets: MAX_LINE of anything but LF, then one more octet that
# is not the CR of a CRLF.  The search pattern starts with the LF that ends the line before,
# a literal that re finds with a fast scan, so each line is read once, to its end at most;
# the first line, which follows no LF, is matched on its own.
_LINE_TAIL = rb"[^\n]{%d}(?:[^\r\n]|\r(?!\n))" % MAX_LINE
_LONG_FIRST_LINE = re.compile(_LINE_TAIL)
_LONG_LINE = re.compile(rb"\n" + _LINE_TAIL)
_EIGHT_BIT = re.compile(rb"[\x80-\xff]")


def long_line(data: bytes) -> int | None:
    """Where the first line of more than 998 octets in ``data`` starts, or None."""
    if len(data) <= MAX_LINE:
        return None
    if _LONG_FIRST_LINE.match(data):
        return 0
    found = _LONG_LINE.search(data)
    return None if found is None else found.start() + 1


def _line_defect(offset: int, field: str | None = None) -> Defect:
    return Defect(
        "line-too-long", offset, f"RFC 5322 2.1.1: a line of more than {MAX_LINE} octets", field
    )


def header_defects(
    message: lossless.Message, headers: tuple[Header, ...], entity: Entity
) -> Iterator[Defect]:
    """The rules of RFC 5322 2.1.1 and 3.6 (or RFC 2046 5.2.1) that ``message``'s header
    breaks; ``headers`` are its fields, decoded, in the same order."""
    for field in message.fields:
        if len(field.raw) > MAX_LINE:
            at = long_line(field.raw)
            if at is not None:
                yield _line_defect(field.offset + at, field.name or None)
    if entity is Entity.PART:
        return
    names = [header.name.lower() for header in headers]
    present = set(names)
    end = message.body_offset - len(message.separator)
    if entity is Entity.ENCAPSULATED:
        if not {"from", "subject", "date"} & present:
            yield Defect(
                "missing-field",
                end,
                "RFC 2046 5.2.1: an encapsulated message needs From, Subject or Date",
            )
    elif not names:
        yield Defect("empty-header", end, "RFC 5322 3.6: no header fields; From and Date are due")
    else:
        for name in ("From", "Date"):
            if name.lower() not in present:
                yield Defect("missing-field", end, f"RFC 5322 3.6: no {name} field", name)
    # Offsets are looked up only for a broken rule, so a good header costs no second pass.
    fields = [field for field in message.fields if field.is_field] if present else []
    resent = next((i for i, name in enumerate(names) if name.startswith("resent-")), None)
    if resent is not None:
        for name in ("Resent-From", "Resent-Date"):
            if name.lower() not in present:
                yield Defect(
                    "missing-field",
                    fields[resent].offset,
                    f"RFC 5322 3.6.6: resent fields without {name}",
                    name,
                )
    if len(present) < len(names):
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in _AT_MOST_ONCE:
                if name in seen:
                    field = fields[index]
                    yield Defect(
                        "duplicate-field",
                        field.offset,
                        f"RFC 5322 3.6: a second {field.name} field (at most one is allowed)",
                        field.name,
                    )
                seen.add(name)
    if "sender" in present:
        index = names.index("sender")
        value = headers[index].value
        if isinstance(value, tuple) and (len(value) != 1 or isinstance(value[0], Group)):
            yield Defect(
                "invalid-sender",
                fields[index].offset,
                f"RFC 5322 3.6.2: Sender holds {len(value)} addresses, not one mailbox",
                fields[index].name,
            )
    elif "from" in present:
        index = names.index("from")
        value = headers[index].value
        authors = (
            sum(1 for item in value if isinstance(item, Mailbox)) if isinstance(value, tuple) else 0
        )
        if authors > 1:
            yield Defect(
                "missing-sender",
                fields[index].offset,
                f"RFC 5322 3.6.2: From names {authors} mailboxes, so Sender is required",
                fields[index].name,
            )


def body_defects(body: bytes, offset: int, encoding: str) -> Iterator[Defect]:
    """What RFC 5322 2.1.1 and RFC 2045 forbid in a leaf body sent in ``encoding``;
    ``offset`` is where the body starts in the message."""
    if encoding == "binary":
        return  # RFC 2045 2.9: any octets, any line length
    at = long_line(body)
    if at is not None:
        yield _line_defect(offset + at)
    if encoding in ("7bit", "quoted-printable") and not body.isascii():
        found = _EIGHT_BIT.search(body)
        assert found is not None
        section = "RFC 2045 6.7" if encoding == "quoted-printable" else "RFC 2045 2.7, 6.1"
        yield Defect(
            "undeclared-8bit",
            offset + found.start(),
            f"{section}: an 8-bit byte in a {encoding} body (no 8bit or binary label)",
        )
