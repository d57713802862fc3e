"""Composing a new message from a user's fields, body bytes and files: the core of
``elsinore make``, with no I/O (the clock and the unique part of the Message-ID come in as
values).

A message composed here is valid RFC 5322 and MIME, or :class:`ComposeError` says what is
missing or wrong.  The decisions, made once:

- The body is bytes, and must read back as those bytes: a text body's charset decodes them
  and encodes the text to the same bytes again, line breaks made CRLF (RFC 2046 4.1.1).
- A text body's charset is the one the user names; unnamed, it is us-ascii for ASCII bytes
  and utf-8 for UTF-8, and anything else must be named.  Guessing Latin-1 would take any
  binary file for text.  A charset whose line break is not the octets CR LF (UTF-16, UTF-32)
  cannot label a MIME text body.
- Each leaf travels in the lightest transfer encoding its content allows
  (:func:`stack.mime.transfer.choose`): 7bit, 8bit for non-ASCII text with short lines (what
  Thunderbird, mutt and git send-email write; an 8BITMIME-less hop downgrades it), quoted-
  printable for long-lined mostly-ASCII text, base64 for the rest.
- A multipart holding an 8bit part is labelled 8bit itself (RFC 2045 6.4), never left to the
  7bit default.
- A text file attached is a text part when it is ASCII or UTF-8.  In any other charset it is
  attached as ``application/octet-stream`` with its bytes: its charset is unknown, and a label
  would be a guess.
- The header: From is required; Date and Message-ID are filled in when not given, the
  Message-ID at the From address's domain (the domain the author speaks for, never the host's
  name, which leaks it and is often ``localhost``).  A field RFC 5322 3.6 allows once is given
  once, and a From of several mailboxes comes with a Sender (3.6.2).  MIME-Version and the
  Content-* fields are written here, from the body, never taken from the user.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence

from stack.errors import ElsinoreError
from stack.mime import transfer
from stack.mime.fields import ContentDisposition, ContentType, DateTime, Mailbox, MessageId
from stack.mime.fields.charset import lookup as lookup_charset
from stack.mime.model import Data, Header, Mail, Parts, Text

#: RFC 5322 3.6: the fields a message holds at most once.
_ONCE = (
    "date", "from", "sender", "reply-to", "to", "cc", "bcc", "message-id", "in-reply-to",
    "references", "subject",
)  # fmt: skip
ENCODINGS = ("auto", "7bit", "8bit", "quoted-printable", "base64")


class ComposeError(ElsinoreError):
    """A message cannot be composed as asked: what is missing or wrong, and where."""


def complete_header(fields: Sequence[Header], date: DateTime, unique: str) -> tuple[Header, ...]:
    """``fields`` checked and completed: Date and Message-ID (``<unique@from-domain>``) when
    absent, and MIME-Version."""
    names = [header.name.lower() for header in fields]
    for header in fields:
        lowered = header.name.lower()
        if lowered.startswith("content-") or lowered == "mime-version":
            raise ComposeError(
                f"{header.name} is written by make, from --type, --charset and --encoding"
            )
        if lowered in _ONCE and names.count(lowered) > 1:
            raise ComposeError(f"{header.name} is given twice (RFC 5322 3.6 allows it once)")
    authors = _authors(fields)
    if len(authors) > 1 and "sender" not in names:
        raise ComposeError(
            f"From holds {len(authors)} mailboxes: RFC 5322 3.6.2 then requires a Sender "
            "field (give --field 'Sender: ADDRESS')"
        )
    completed = list(fields)
    if "date" not in names:
        completed.append(Header("Date", date))
    if "message-id" not in names:
        completed.append(Header("Message-ID", MessageId(unique, authors[0].domain)))
    completed.append(Header("MIME-Version", "1.0"))
    return tuple(completed)


def _authors(fields: Sequence[Header]) -> list[Mailbox]:
    value = next((h.value for h in fields if h.name.lower() == "from"), None)
    if value is None:
        raise ComposeError(
            "a message needs a From field (RFC 5322 3.6): give --from ADDRESS "
            "(Date and Message-ID are filled in)"
        )
    if not isinstance(value, tuple) or not all(isinstance(a, Mailbox) for a in value):
        raise ComposeError("From must list mailboxes, not a group (RFC 5322 3.6.2)")
    return [address for address in value if isinstance(address, Mailbox)]


def body_part(data: bytes, media_type: str, charset: str | None, encoding: str) -> Mail:
    """The body as a MIME leaf of ``media_type``: text read in ``charset`` (or the charset
    :func:`guess_charset` finds), any other type kept as bytes."""
    maintype, subtype = _split_type(media_type)
    if maintype in ("multipart", "message"):
        raise ComposeError(
            f"--type {media_type}: make writes multiparts itself (attach files with --attach) "
            "and attaches messages as files"
        )
    if maintype != "text":
        if charset is not None:
            raise ComposeError(f"--charset is for a text body, not {maintype}/{subtype}")
        return _leaf(ContentType(maintype, subtype, ()), Data(data), data, encoding, text=False)
    label = (charset or guess_charset(data)).lower()
    text = read_text(data, label)
    content_type = ContentType(maintype, subtype, (("charset", label),))
    return _leaf(content_type, Text(text), _canonical(data), encoding, text=True)


def guess_charset(data: bytes) -> str:
    """us-ascii for ASCII, utf-8 for UTF-8; other bytes are refused, naming the first one
    that is not UTF-8."""
    if data.isascii():
        return "us-ascii"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ComposeError(
            f"the body is not UTF-8 (byte {error.start} is 0x{data[error.start]:02x}): name "
            "its charset with --charset (e.g. --charset iso-8859-1), or give a non-text --type"
        ) from None
    return "utf-8"


def read_text(data: bytes, charset: str) -> str:
    """``data`` as text in ``charset``, line breaks ``"\\n"`` as the model keeps them; refused
    unless the text writes back as ``data`` with CRLF line breaks."""
    codec = lookup_charset(charset)
    if codec is None or codec == "unknown-8bit":
        raise ComposeError(f"--charset {charset}: not a charset Python can read")
    if "\r\n a".encode(codec) != b"\r\n a":
        raise ComposeError(
            f"--charset {charset}: not a MIME text charset (its line breaks are not the "
            "octets CR LF, RFC 2046 4.1.1)"
        )
    try:
        text = data.decode(codec).replace("\r\n", "\n")
    except UnicodeDecodeError as error:
        raise ComposeError(
            f"the body is not {charset}: byte {error.start} (0x{data[error.start]:02x}) "
            f"{error.reason}"
        ) from None
    written = text.replace("\n", "\r\n").encode(codec)
    canonical = _canonical(data)
    if written != canonical:
        # A stateful charset (ISO-2022-JP) can read bytes it would not write.
        at = next(
            (i for i, (a, b) in enumerate(zip(written, canonical, strict=False)) if a != b),
            min(len(written), len(canonical)),
        )
        raise ComposeError(
            f"the body does not read back as the same bytes in {charset} (byte {at})"
        )
    return text


def attachment(name: str, data: bytes) -> Mail:
    """A file as an attachment, typed by its name (``mimetypes``)."""
    guessed, _ = mimetypes.guess_type(name)
    maintype, _, subtype = (guessed or "application/octet-stream").partition("/")
    disposition = Header(
        "Content-Disposition", ContentDisposition("attachment", (("filename", name),))
    )
    if maintype == "message" and transfer.is_line_safe(data, eight_bit=True):
        # RFC 2046 5.2.1: a message/rfc822 body may only be 7bit, 8bit or binary.
        content_type = ContentType(maintype, subtype, ())
        return _leaf(content_type, Data(data), data, "auto", text=True, extra=(disposition,))
    if maintype == "text" and not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            maintype, subtype = "application", "octet-stream"
    if maintype == "text":
        charset = guess_charset(data)
        content_type = ContentType(maintype, subtype, (("charset", charset),))
        text = read_text(data, charset)
        return _leaf(
            content_type, Text(text), _canonical(data), "auto", text=True, extra=(disposition,)
        )
    content_type = ContentType(maintype, subtype, ())
    return _leaf(content_type, Data(data), data, "base64", text=False, extra=(disposition,))


def assemble(header: Sequence[Header], body: Mail | None, attachments: Sequence[Mail]) -> Mail:
    """The message: ``header`` over the body alone, or over a multipart/mixed of the body (if
    any) and the attachments."""
    if not attachments:
        leaf = body if body is not None else body_part(b"", "text/plain", None, "auto")
        return Mail((*header, *leaf.headers), leaf.body)
    parts = ([body] if body is not None else []) + list(attachments)
    fields = [*header, Header("Content-Type", ContentType("multipart", "mixed", ()))]
    if any(node.transfer_encoding in ("8bit", "binary") for part in parts for node in part.walk()):
        fields.append(Header("Content-Transfer-Encoding", "8bit"))
    return Mail(tuple(fields), Parts(tuple(parts)))


def _leaf(
    content_type: ContentType,
    body: Text | Data,
    content: bytes,
    encoding: str,
    *,
    text: bool,
    extra: tuple[Header, ...] = (),
) -> Mail:
    """A leaf whose ``content`` (the body's bytes, CRLF for text) travels in ``encoding``, or
    in the lightest one it can when ``encoding`` is ``auto``."""
    if encoding == "auto":
        encoding = transfer.choose(content, text=text)
    elif encoding in ("7bit", "8bit") and not transfer.is_line_safe(
        content, eight_bit=encoding == "8bit"
    ):
        raise ComposeError(f"the body cannot travel as {encoding}; try --encoding auto")
    headers = [Header("Content-Type", content_type), *extra]
    if encoding != "7bit":
        headers.append(Header("Content-Transfer-Encoding", encoding))
    return Mail(tuple(headers), body)


def _split_type(media_type: str) -> tuple[str, str]:
    maintype, _, subtype = media_type.strip().lower().partition("/")
    if not maintype or not subtype:
        raise ComposeError(f"--type wants type/subtype, got {media_type!r}")
    return maintype, subtype


def _canonical(data: bytes) -> bytes:
    """Text bytes with every line break CRLF (RFC 2046 4.1.1), as the decoder reads them."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
