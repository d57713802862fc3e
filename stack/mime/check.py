"""The three checks every message must pass (``elsinore mime check``).

1. lossless: ``bytes(parse(b)) == b``;
2. decode: no exception but :class:`ParseError`, and that one only in strict mode;
3. round trip: ``decode(encode(decode(b)))`` equals ``decode(b)``, up to the differences
   :func:`equivalent` allows.  This holds for every input: a field that no conformant
   writer could write (a word longer than a line of 998 octets, a year before 1900) is read
   in lenient mode as it was written, with an ``unwritable-field`` defect, and written back
   unchanged.

Strict mode (``--strict``) holds a message to RFC 5322 and RFC 2045-2049 as a reader must
apply them.  It accepts everything those say a reader MUST accept, the obsolete syntax of
RFC 5322 section 4 included (two-digit years, zone names, source routes, CFWS around dots,
empty list elements, phrases in References...), and LF line endings as well as CRLF (mail at
rest uses the host's).  It fails a message on the first of these, naming the field (if any),
the byte offset and the reason:

- any field value outside its grammar (RFC 5322 3.3-3.6, RFC 2045 5-6, RFC 2183, RFC 2231,
  RFC 2047 encoded-words, RFC 6532 UTF-8), including an encoded-word inside a quoted
  parameter value (RFC 2047 5), a bare CR, and 8-bit bytes that are not UTF-8;
- a line of more than 998 octets, in a header or in a body not sent ``binary`` (RFC 5322
  2.1.1, RFC 2045 2.9);
- a message without From or Date, an empty one included; a second Date, From, Sender,
  Reply-To, To, Cc, Bcc, Message-ID, In-Reply-To, References or Subject (RFC 5322 3.6);
  From naming several mailboxes without a Sender, a Sender that is not one mailbox (3.6.2);
  resent fields without Resent-From or Resent-Date (3.6.6);
  a message/rfc822 body with none of From, Subject and Date (RFC 2046 5.2.1);
- an 8-bit byte in a body labelled 7bit (or not labelled: 7bit is the default) or
  quoted-printable (RFC 2045 2.7, 6.1, 6.7); a multipart in a transfer encoding other than
  7bit, 8bit or binary (RFC 2045 6.4); a multipart without its close delimiter (RFC 2046
  5.1.1), or any other structural defect the lossless layer records (a header without the
  empty line that ends it, a continuation line before any field); a charset or transfer
  encoding the codec does not know.

The rules for whole messages live in :mod:`stack.mime.rules`; lenient mode records every
one of them as a defect and goes on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from stack.mime.decode import decode
from stack.mime.encode import encode
from stack.mime.errors import EncodeError, ParseError
from stack.mime.fields import ContentType
from stack.mime.lossless import parse
from stack.mime.model import Header, Mail, Nested, Parts


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What happened to one message: ``failures`` is empty when it passed."""

    label: str
    failures: tuple[str, ...] = ()
    defects: int = 0

    @property
    def passed(self) -> bool:
        return not self.failures


def check(data: bytes, *, strict: bool = False, label: str = "") -> CheckResult:
    failures: list[str] = []
    message = parse(data)
    for _ in message.walk():
        pass
    if bytes(message) != data:
        failures.append("lossless: bytes(parse(b)) differs from b")
    try:
        mail = decode(data, strict=strict)
    except ParseError as error:
        if not strict:
            failures.append(f"decode: lenient mode raised: {error}")
        else:
            failures.append(f"decode: {error}")
        return CheckResult(label, tuple(failures))
    except Exception as error:
        failures.append(f"decode: unexpected {type(error).__name__}: {error}")
        return CheckResult(label, tuple(failures))
    defects = len(mail.all_defects())
    try:
        again = decode(encode(mail))
    except EncodeError as error:
        failures.append(f"encode: {error}")
    except Exception as error:
        failures.append(f"round trip: unexpected {type(error).__name__}: {error}")
    else:
        difference = first_difference(mail, again)
        if difference is not None:
            failures.append(f"round trip: {difference}")
    return CheckResult(label, tuple(failures), defects)


def without_boundaries(mail: Mail) -> Mail:
    """``mail`` with every multipart boundary parameter removed: the one value an encoder may
    choose anew (RFC 2046 5.1.1 asks only that it not occur in the parts)."""
    headers = tuple(
        Header(
            header.name,
            ContentType(
                header.value.maintype,
                header.value.subtype,
                tuple(p for p in header.value.params if p[0] != "boundary"),
            ),
        )
        if isinstance(header.value, ContentType) and header.value.maintype == "multipart"
        else header
        for header in mail.headers
    )
    body = mail.body
    if isinstance(body, Parts):
        body = dataclasses.replace(body, parts=tuple(without_boundaries(p) for p in body.parts))
    elif isinstance(body, Nested):
        body = Nested(without_boundaries(body.mail))
    return Mail(headers, body, mail.defects)


def equivalent(a: Mail, b: Mail) -> bool:
    """Equal as mail: value equality, except for the multipart boundaries."""
    return a == b or without_boundaries(a) == without_boundaries(b)


def first_difference(a: Mail, b: Mail, path: str = "") -> str | None:
    """Where two models first differ (None when :func:`equivalent`), for a readable report."""
    if equivalent(a, b):
        return None
    a, b = without_boundaries(a), without_boundaries(b)
    where = path or "message"
    if len(a.headers) != len(b.headers):
        names = [h.name for h in a.headers], [h.name for h in b.headers]
        return f"{where}: header fields {names[0]} became {names[1]}"
    for before, after in zip(a.headers, b.headers, strict=True):
        if before != after:
            return f"{where}: {before.name}: {before.value!r:.120} became {after.value!r:.120}"
    if type(a.body) is not type(b.body):
        return f"{where}: body {type(a.body).__name__} became {type(b.body).__name__}"
    if isinstance(a.body, Parts) and isinstance(b.body, Parts):
        if len(a.body.parts) != len(b.body.parts):
            return f"{where}: {len(a.body.parts)} parts became {len(b.body.parts)}"
        for index, (x, y) in enumerate(zip(a.body.parts, b.body.parts, strict=True)):
            found = first_difference(x, y, f"{where}/{index + 1}")
            if found:
                return found
        return f"{where}: preamble or epilogue changed"
    if isinstance(a.body, Nested) and isinstance(b.body, Nested):
        return first_difference(a.body.mail, b.body.mail, f"{where}/rfc822")
    return f"{where}: body {a.body!r:.80} became {b.body!r:.80}"
