"""The structured model: a message as typed values, the output of ``decode`` and the input of
``encode``.

A :class:`Mail` is a MIME entity: an ordered tuple of :class:`Header` values and one body.
Which type a header's value has is decided by the field's name (:data:`FIELD_KINDS`); a field
the decoder could not read in lenient mode holds :class:`Malformed` with its text.

Bodies are stored decoded: :class:`Text` (a str whose line breaks are ``"\\n"``, read with the
part's charset), :class:`Data` (bytes, for every non-text part and for text in a charset Python
does not know), :class:`Parts` (a multipart) and :class:`Nested` (``message/rfc822``).

Equality is value equality and ignores defects: two models are equal when they mean the same
mail.  ``harness.iso`` names the differences an encoder may make on top of that (a generated
boundary, for example).
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

from stack.mime.errors import Defect
from stack.mime.fields import (
    Address,
    ContentDisposition,
    ContentType,
    DateTime,
    MessageId,
)
from stack.mime.fields.charset import lookup as lookup_charset


class Kind(Enum):
    """How a field's value is read and written."""

    ADDRESSES = "addresses"  # RFC 5322 3.4 address-list / mailbox-list
    DATE = "date"  # RFC 5322 3.3
    MESSAGE_ID = "message-id"  # RFC 5322 3.6.4, one msg-id
    MESSAGE_IDS = "message-ids"  # RFC 5322 3.6.4, a list of msg-id
    CONTENT_TYPE = "content-type"  # RFC 2045 5 and RFC 2231
    CONTENT_DISPOSITION = "content-disposition"  # RFC 2183 and RFC 2231
    TRANSFER_ENCODING = "transfer-encoding"  # RFC 2045 6.1, a token
    UNSTRUCTURED = "unstructured"  # RFC 5322 3.2.5, with RFC 2047 encoded-words
    RAW = "raw"  # structured fields we carry without reading: white space kept, no RFC 2047


FIELD_KINDS: dict[str, Kind] = {
    **dict.fromkeys(
        (
            "from", "sender", "reply-to", "to", "cc", "bcc",
            "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-bcc",
        ),
        Kind.ADDRESSES,
    ),
    "date": Kind.DATE,
    "resent-date": Kind.DATE,
    "message-id": Kind.MESSAGE_ID,
    "resent-message-id": Kind.MESSAGE_ID,
    "content-id": Kind.MESSAGE_ID,
    "in-reply-to": Kind.MESSAGE_IDS,
    "references": Kind.MESSAGE_IDS,
    "content-type": Kind.CONTENT_TYPE,
    "content-disposition": Kind.CONTENT_DISPOSITION,
    "content-transfer-encoding": Kind.TRANSFER_ENCODING,
    # Trace and authentication fields have grammars of their own and must reach a verifier
    # as written; reading encoded-words in them would change what they say.
    **dict.fromkeys(
        (
            "received", "return-path", "mime-version", "dkim-signature", "domainkey-signature",
            "arc-seal", "arc-message-signature", "arc-authentication-results",
            "authentication-results", "received-spf",
        ),
        Kind.RAW,
    ),
}  # fmt: skip


def kind_of(name: str) -> Kind:
    return FIELD_KINDS.get(name.lower(), Kind.UNSTRUCTURED)


@dataclass(frozen=True, slots=True)
class Malformed:
    """A field value the decoder could not read (lenient mode): its unfolded text, kept so
    that it is written back as it was."""

    text: str


FieldValue = (
    tuple[Address, ...]
    | DateTime
    | MessageId
    | tuple[MessageId, ...]
    | ContentType
    | ContentDisposition
    | str
    | Malformed
)


@dataclass(frozen=True, slots=True)
class Header:
    """One header field: its name as written and its typed value."""

    name: str
    value: FieldValue

    @property
    def kind(self) -> Kind:
        return kind_of(self.name)


@dataclass(frozen=True, slots=True)
class Text:
    """A text body, decoded by transfer encoding and charset; line breaks are ``"\\n"``.

    Bytes the charset cannot read are kept as lone surrogates (``surrogateescape``), so they
    are written back exactly.
    """

    text: str


@dataclass(frozen=True, slots=True)
class Data:
    """A body kept as bytes, decoded by transfer encoding only."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Parts:
    """A multipart body (RFC 2046 5.1).  Preamble and epilogue are bytes with CRLF breaks."""

    parts: tuple[Mail, ...]
    preamble: bytes = b""
    epilogue: bytes = b""


@dataclass(frozen=True, slots=True)
class Nested:
    """An encapsulated message (``message/rfc822``, RFC 2046 5.2.1)."""

    mail: Mail


Body = Text | Data | Parts | Nested


@dataclass(frozen=True, slots=True)
class Mail:
    """A message or a MIME part: typed header fields and a decoded body."""

    headers: tuple[Header, ...]
    body: Body
    defects: tuple[Defect, ...] = field(default=(), compare=False, repr=False)

    def get(self, name: str) -> FieldValue | None:
        """The value of the first field called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for header in self.headers:
            if header.name.lower() == wanted:
                return header.value
        return None

    def get_all(self, name: str) -> list[FieldValue]:
        wanted = name.lower()
        return [header.value for header in self.headers if header.name.lower() == wanted]

    @property
    def date(self) -> DateTime | None:
        """The first Date field that could be read (RFC 5322 3.6.1), or None.  Only a message
        with a second Date field can have an unreadable one before it."""
        for value in self.get_all("date"):
            if isinstance(value, DateTime):
                return value
        return None

    @property
    def content_type(self) -> ContentType:
        """The Content-Type, or the RFC 2045 5.2 default when it is absent or unreadable."""
        value = self.get("content-type")
        if isinstance(value, ContentType):
            return value
        return DEFAULT_CONTENT_TYPE

    @property
    def transfer_encoding(self) -> str:
        value = self.get("content-transfer-encoding")
        return value if isinstance(value, str) else "7bit"

    @property
    def filename(self) -> str | None:
        """The attachment's file name: Content-Disposition's, else Content-Type's ``name``."""
        disposition = self.get("content-disposition")
        if isinstance(disposition, ContentDisposition):
            name = disposition.param("filename")
            if name is not None:
                return name
        return self.content_type.param("name")

    def walk(self) -> Iterator[Mail]:
        """This entity and every part and nested message below it, depth first."""
        stack: list[Mail] = [self]
        while stack:
            node = stack.pop()
            yield node
            if isinstance(node.body, Parts):
                stack.extend(reversed(node.body.parts))
            elif isinstance(node.body, Nested):
                stack.append(node.body.mail)

    def all_defects(self) -> list[Defect]:
        return [defect for node in self.walk() for defect in node.defects]


DEFAULT_CONTENT_TYPE = ContentType("text", "plain", (("charset", "us-ascii"),))
DIGEST_DEFAULT_CONTENT_TYPE = ContentType("message", "rfc822", ())


_ASCII_CHARSETS = frozenset({"ascii", "us-ascii", "ansi_x3.4-1968", "iso646-us", "us"})


@functools.lru_cache(maxsize=256)
def body_codec(charset: str | None) -> str | None:
    """The Python codec for a body's charset.  US-ASCII (the default) is read as UTF-8: 8-bit
    bytes in a body labelled ASCII are almost always UTF-8, and what is not survives as
    surrogates either way."""
    if charset is None or charset.lower() in _ASCII_CHARSETS:
        return "utf-8"
    name = lookup_charset(charset)
    if name is None or name == "unknown-8bit":
        return None
    codecs.lookup(name)
    return name
