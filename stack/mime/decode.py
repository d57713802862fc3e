"""``decode``: bytes to the structured model, eagerly.

Every header field of every part becomes its typed value and every body is decoded, first by
transfer encoding and then by charset.  The structure (where parts begin and end) is the
lossless layer's, so the two layers never disagree about a message's shape.

Strict mode reads what RFC 5322 and RFC 2045-2049 say a reader must accept, obsolete syntax
included (RFC 5322 3.1: "when interpreting messages, these tokens MUST be honored"), and
raises :class:`~stack.mime.errors.ParseError` on the first defect of any other kind: a value
outside the grammar, or a message that breaks one of :mod:`stack.mime.rules` (line length,
required and repeated fields, undeclared 8-bit bodies).  The obsolete forms it read are its
model's defects.  Lenient mode never raises: a field it cannot read becomes
:class:`~stack.mime.model.Malformed`, and every problem is recorded in the model's defects.

When the first Date field cannot be read and a later one can, lenient mode's ``Mail.date``
is the later one (``later-date-read``): a second Date breaks RFC 5322 3.6, but it is better
evidence of when the message was written than none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from stack.mime import folding, lossless, rules, transfer
from stack.mime.encode import encode_field
from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields import (
    ContentType,
    DateTime,
    decode_address_list,
    decode_content_disposition,
    decode_content_type,
    decode_date,
    decode_msg_id,
    decode_msg_id_list,
    decode_transfer_encoding,
    decode_unstructured,
)
from stack.mime.model import (
    DEFAULT_CONTENT_TYPE,
    Body,
    Data,
    FieldValue,
    Header,
    Kind,
    Mail,
    Malformed,
    Nested,
    Parts,
    Text,
    body_codec,
    kind_of,
)

_Decoder = Callable[[str, "list[Defect] | None"], Any]

_DECODERS: dict[Kind, _Decoder] = {
    Kind.ADDRESSES: decode_address_list,
    Kind.DATE: decode_date,
    Kind.MESSAGE_ID: decode_msg_id,
    Kind.MESSAGE_IDS: decode_msg_id_list,
    Kind.CONTENT_TYPE: decode_content_type,
    Kind.CONTENT_DISPOSITION: decode_content_disposition,
    Kind.TRANSFER_ENCODING: decode_transfer_encoding,
    Kind.UNSTRUCTURED: decode_unstructured,
}


# RFC 5322 3.6.3 and 3.6.6: "Bcc:" [address-list / CFWS], the one address field that may be
# empty (to hide every blind recipient); elsewhere an empty address list is a defect.
_MAY_BE_EMPTY = frozenset({"bcc", "resent-bcc"})

# Control characters (but TAB) and lone surrogates (undeclared 8-bit bytes).
_UNWRITABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")


class _Sink:
    """Where defects go: a list in lenient mode; in strict mode the first one that is not
    obsolete syntax raises."""

    __slots__ = ("defects", "strict")

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.defects: list[Defect] = []

    def add(self, defect: Defect) -> None:
        if self.strict and not defect.obsolete:
            raise ParseError(f"{defect.kind}: {defect.detail}", defect.offset, defect.field)
        self.defects.append(defect)


def decode(data: bytes, *, strict: bool = False) -> Mail:
    """Decode a whole message into the structured model."""
    return decode_message(lossless.parse(data), strict=strict)


def decode_message(
    message: lossless.Message,
    *,
    strict: bool = False,
    entity: rules.Entity = rules.Entity.MESSAGE,
) -> Mail:
    """Decode a node of the lossless tree: a message, an encapsulated message or a part
    (``entity`` says which rules of :mod:`stack.mime.rules` its header is held to)."""
    sink = _Sink(strict)
    seen = len(message.defects)
    for defect in message.defects:
        sink.add(defect)
    fields = [field for field in message.fields if field.is_field]
    headers = tuple(_decode_field(field, sink) for field in fields)
    for defect in rules.header_defects(message, headers, entity):
        sink.add(defect)
    if entity is not rules.Entity.PART:
        _later_date(fields, headers, sink)
    head = Mail(headers, Data(b""))
    body = _decode_body(message, head, sink)
    if message.multipart is None and message.embedded is None:
        for defect in rules.body_defects(message.body, message.body_offset, head.transfer_encoding):
            sink.add(defect)
    # Structural defects found while splitting the body belong to this node too.
    for defect in message.defects[seen:]:
        sink.add(defect)
    return Mail(headers, body, tuple(sink.defects))


def _later_date(fields: list[lossless.Field], headers: tuple[Header, ...], sink: _Sink) -> None:
    """Say so when ``Mail.date`` comes from a Date field after an unreadable first one."""
    first = next((h.value for h in headers if h.name.lower() == "date"), None)
    if first is None or isinstance(first, DateTime):
        return  # the common case, found without looking past the first Date
    dates = [pair for pair in zip(fields, headers, strict=True) if pair[1].name.lower() == "date"]
    for field, header in dates[1:]:
        if isinstance(header.value, DateTime):
            reason = "the first Date field is unreadable; this one gives the date"
            sink.add(Defect("later-date-read", field.offset, reason, field.name))
            return


def decode_field(name: str, text: str, *, strict: bool = False) -> FieldValue:
    """Decode one field's unfolded value by the kind its name gives it."""
    sink = _Sink(strict)
    return _decode_value(name, text, 0, sink)


def _decode_field(field: lossless.Field, sink: _Sink) -> Header:
    base = field.offset + len(field.name) + 1
    return Header(field.name, _decode_value(field.name, field.unfolded(), base, sink))


def _decode_value(name: str, text: str, base: int, sink: _Sink) -> FieldValue:
    kind = kind_of(name)
    if kind is not Kind.UNSTRUCTURED:
        # Before parsing, so that the value read is the one its written form reads back as.
        text = _without_bare_cr(name, text, base, sink)
    stripped = text.strip(" \t")
    if kind is Kind.UNSTRUCTURED:
        text = stripped
    # A list in strict mode too: the sink decides which defects (obsolete syntax) it accepts.
    found: list[Defect] = []
    try:
        value: FieldValue = stripped if kind is Kind.RAW else _DECODERS[kind](text, found)
    except ParseError as error:
        if sink.strict:
            raise error.within(name, base) from None
        sink.add(Defect("unreadable-field", base + error.offset, error.reason, name))
        return Malformed(stripped)
    if found and name.lower() in _MAY_BE_EMPTY:
        found = [defect for defect in found if defect.kind != "empty-address-list"]
    for defect in found:
        sink.add(Defect(defect.kind, base + defect.offset, defect.detail, name))
    if (
        found
        or (kind is not Kind.UNSTRUCTURED and _UNWRITABLE.search(text))
        or len(name) + len(text) > folding.PREFERRED
    ):
        # A value read past defects, or holding bytes that are not text, may be one that no
        # conformant writer can produce (a year before 1900, an empty address list, a control
        # character in a local-part); so may a long one, with a word no line of 998 octets
        # holds (a sender's line was that long).  Such a field is kept as the text it came as.
        # A field that fits on one preferred line cannot be unwritable: no field encoder
        # writes a word ten times as long as it read it.
        try:
            encode_field(name, value)
        except EncodeError as error:
            sink.add(Defect("unwritable-field", base, str(error), name))
            return Malformed(stripped)
    return value


def _without_bare_cr(name: str, text: str, base: int, sink: _Sink) -> str:
    """A CR that is not part of a line break cannot be written in a field (RFC 5322 2.2: it
    would end the line), and raw and malformed fields have no encoded form for it: it is read
    as the white space every reader takes it for.  The lossless layer still has the byte."""
    if "\r" not in text:
        return text
    sink.add(Defect("bare-cr", base + text.index("\r"), "CR without LF in a field", name))
    return text.replace("\r", " ")


def _decode_body(message: lossless.Message, head: Mail, sink: _Sink) -> Body:
    """The body, read as ``head`` (the decoded header) describes it."""
    content_type = _content_type(message, head)
    maintype = content_type.maintype
    encoding = head.transfer_encoding
    if maintype == "multipart":
        if encoding not in ("7bit", "8bit", "binary"):
            sink.add(Defect("encoded-multipart", message.body_offset, encoding))
        multipart = message.multipart
        if multipart is not None:
            return Parts(
                tuple(
                    decode_message(part, strict=sink.strict, entity=rules.Entity.PART)
                    for part in multipart.parts
                ),
                _canonical_lines(multipart.preamble),
                _canonical_lines(multipart.epilogue),
            )
        # No boundary, or nested too deep: the body is opaque, read like any other.
    # Deeper than the lossless layer follows, an embedded message is opaque (with a defect):
    # reading it here instead went one level down per level of the message, in quadratic
    # time and on to a RecursionError.
    nestable = message.depth < lossless.MAX_DEPTH
    if content_type.mime_type in ("message/rfc822", "message/global") and nestable:
        embedded = message.embedded
        if embedded is not None:
            return Nested(
                decode_message(embedded, strict=sink.strict, entity=rules.Entity.ENCAPSULATED)
            )
        # RFC 2046 5.2.1 forbids encoding message/rfc822, but it is read all the same.
        found: list[Defect] = []
        inner = transfer.decode(message.body, encoding, found)
        for defect in found:
            sink.add(_shift(defect, message.body_offset))
        nested = lossless.parse_part(inner, message.body_offset, message.depth + 1, "text/plain")
        return Nested(decode_message(nested, strict=sink.strict, entity=rules.Entity.ENCAPSULATED))
    found = []
    data = transfer.decode(message.body, encoding, found)
    for defect in found:
        sink.add(_shift(defect, message.body_offset))
    if maintype == "text":
        codec = body_codec(content_type.param("charset"))
        if codec is not None:
            try:
                return Text(data.decode(codec, "surrogateescape").replace("\r\n", "\n"))
            except (UnicodeError, ValueError) as error:
                # surrogateescape keeps only bytes from 0x80 up: a byte below that which the
                # codec refuses (half a UTF-16 unit, an unterminated UTF-7 shift) leaves the
                # body unreadable as text.  It is kept as bytes, like an unknown charset's.
                sink.add(Defect("undecodable-text", message.body_offset, f"{codec}: {error}"))
                return Data(data)
        sink.add(Defect("unknown-charset", message.body_offset, str(content_type.param("charset"))))
    return Data(data)


def _content_type(message: lossless.Message, head: Mail) -> ContentType:
    value = head.get("content-type")
    if isinstance(value, ContentType):
        return value
    if value is None and message.default_type == "message/rfc822":
        return ContentType("message", "rfc822", ())
    return DEFAULT_CONTENT_TYPE


def _canonical_lines(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _shift(defect: Defect, base: int) -> Defect:
    return Defect(defect.kind, base + defect.offset, defect.detail, defect.field)
