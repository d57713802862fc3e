"""MIME (RFC 2045, 2046, 2183, 2231, 6522) and whole messages, production by production.

Every entity is written as bytes together with the :class:`~stack.mime.model.Mail` a
conformant reader must decode from them (:class:`Entity`).  Every choice that keeps the two
consistent is made here (a Content-Type that matches the body, a transfer encoding the content
can travel in, a charset that holds the text, a boundary that occurs in no part), so that a
failing property is the reader's fault, never the grammar's.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Callable
from typing import NamedTuple

from harness.strategies.grammar import rfc5322
from harness.strategies.grammar.rfc2047 import CHARSETS, NON_ASCII_IN, PRINTABLE_ASCII, text_in
from harness.strategies.grammar.rfc5322 import Written, fold
from harness.strategies.source import Source, production
from stack.mime import transfer
from stack.mime.fields import ContentDisposition, ContentType
from stack.mime.model import Data, FieldValue, Header, Mail, Nested, Parts, Text

#: RFC 2045 5.1 token characters.
TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`{|}~"
#: RFC 2231 7 attribute-char: token characters but ``*``, ``'`` and ``%``.
ATTRIBUTE_CHAR = "".join(c for c in TOKEN if c not in "*'%")
#: RFC 2046 5.1.1 bchars, without the space (allowed only inside, and rarely seen).
BCHARS = string.ascii_letters + string.digits + "'()+_,-./:=?"

TEXT_SUBTYPES = ("plain", "html", "enriched", "csv", "calendar")
DATA_TYPES = (
    ("application", "octet-stream"),
    ("application", "pdf"),
    ("image", "png"),
    ("audio", "ogg"),
    ("binary", "octet-stream"),  # not a registered type: readers must not choke on it
)
MULTIPART_SUBTYPES = ("mixed", "alternative", "related", "digest", "report")
BODY_CHARSETS = ("us-ascii", *CHARSETS)
ENCODINGS = ("7bit", "8bit", "binary", "quoted-printable", "base64")


class Entity(NamedTuple):
    """A MIME entity (or a whole message) as bytes, and the model a reader must find."""

    data: bytes
    mail: Mail


# -- RFC 2045 5.1 and RFC 2231 parameters ---------------------------------------------------


def token(source: Source, min_size: int = 1, max_size: int = 12) -> str:
    """token (RFC 2045 5.1)."""
    source.seen["rfc2045:token"] = None
    return source.text(TOKEN, min_size, max_size)


def parameter_name(source: Source) -> str:
    """attribute (RFC 2045 5.1), lowercase (the model lowercases names), without the ``*``
    that RFC 2231 reserves."""
    return source.text(string.ascii_lowercase + string.digits + "-_.", 1, 10)


def parameter_value(source: Source) -> str:
    """A parameter's value: a token, text that needs quoting, a long value (RFC 2231
    continuations) or non-ASCII text (RFC 2231 charsets)."""
    source.seen["rfc2045:parameter-value"] = None
    form = source.integer(0, 4)
    if form <= 1:
        return token(source)
    if form == 2:
        return source.text(PRINTABLE_ASCII, 0, 30)
    if form == 3:
        return source.text(TOKEN, 70, 160)
    return text_in(source, source.choice(CHARSETS), 1, 30)


def _percent(raw: bytes) -> str:
    return "".join(chr(b) if chr(b) in ATTRIBUTE_CHAR else f"%{b:02X}" for b in raw)


def parameter(source: Source, name: str, value: str) -> str:
    """``; name=value`` in one of the forms a reader must understand: a token, a
    quoted-string, an RFC 2231 extended value (``name*=charset'lang'%XX``), or RFC 2231
    continuations (``name*0=``, ``name*1*=``...), with the name in any case."""
    source.seen["rfc2045:parameter"] = None
    written_name = name.upper() if source.chance(6) else name
    lead = ";" + rfc5322.optional_cfws(source) + written_name
    simple = value.isascii() and value.isprintable() and len(value) < 200
    form = source.integer(0, 3)
    if simple and form <= 1:
        if value and all(c in TOKEN for c in value) and form == 0:
            source.mark("rfc2045:token-value")
            return f"{lead}={value}"
        source.mark("rfc2045:quoted-value")
        return f"{lead}={rfc5322.quoted_string(source, value).text}"
    holders = [c for c in ("us-ascii", "utf-8", "iso-8859-1", "iso-8859-15") if _holds(c, value)]
    charset = source.choice(holders)
    raw = value.encode(charset)
    label = charset.upper() if source.boolean() else charset
    language = source.choice(["", "", "en", "de-CH"])
    if form == 2 or len(raw) < 4:
        source.mark("rfc2231:extended-value")
        return f"{lead}*={label}'{language}'{_percent(raw)}"
    source.mark("rfc2231:continuations")
    pieces = []
    index = 0
    section = 0
    while index < len(raw):
        size = source.integer(1, 40)
        chunk = raw[index : index + size]
        # Never split a multibyte character's percent-escapes between sections that a reader
        # might decode on their own: cut at a character boundary.
        while index + len(chunk) < len(raw) and _inside_character(raw, index + len(chunk), charset):
            chunk = raw[index : index + len(chunk) + 1]
        extended = section == 0 or not chunk.isascii() or source.boolean()
        if not extended and all(chr(b) in TOKEN for b in chunk):
            pieces.append(f"{lead}*{section}={chunk.decode('ascii')}")
        elif not extended:
            quoted = rfc5322.quoted_string(source, chunk.decode("ascii")).text
            pieces.append(f"{lead}*{section}={quoted}")
        elif section == 0:
            pieces.append(f"{lead}*0*={label}'{language}'{_percent(chunk)}")
        else:
            pieces.append(f"{lead}*{section}*={_percent(chunk)}")
        index += len(chunk)
        section += 1
    return "".join(pieces)


def _inside_character(raw: bytes, index: int, charset: str) -> bool:
    if charset != "utf-8":
        return False
    return 0x80 <= raw[index] < 0xC0


def _holds(charset: str, value: str) -> bool:
    try:
        value.encode(charset)
    except UnicodeError:
        return False
    return True


@production("rfc2045:parameters")
def parameters(source: Source, reserved: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
    """A parameter list with unique names (RFC 2045 5.1: a name must not repeat)."""
    found: list[tuple[str, str]] = []
    for _ in range(source.repeat(0, 2)):
        name = parameter_name(source)
        if name in reserved or any(name == seen for seen, _ in found):
            continue
        found.append((name, parameter_value(source)))
    return tuple(found)


def _media_type(source: Source, maintype: str, subtype: str) -> str:
    if source.chance(5):
        maintype, subtype = maintype.upper(), subtype.title()
    if source.chance(16):
        source.mark("rfc2045:comment-before-type")
        maintype = rfc5322.comment(source) + " " + maintype
    if source.chance(12):
        source.mark("rfc2045:cfws-in-content-type")
        return f"{maintype}{rfc5322.optional_cfws(source)}/{rfc5322.optional_cfws(source)}{subtype}"
    return f"{maintype}/{subtype}"


@production("rfc2045:content-type")
def content_type(source: Source, value: ContentType) -> str:
    """Content-Type (RFC 2045 5.1) written for ``value``."""
    params = "".join(parameter(source, name, v) for name, v in value.params)
    return (
        _media_type(source, value.maintype, value.subtype) + params + rfc5322.optional_cfws(source)
    )


@production("rfc2183:content-disposition")
def content_disposition(source: Source, value: ContentDisposition) -> str:
    """Content-Disposition (RFC 2183) written for ``value``."""
    kind = value.kind.upper() if source.chance(6) else value.kind
    return kind + "".join(parameter(source, name, v) for name, v in value.params)


def disposition_value(source: Source) -> ContentDisposition:
    """A disposition with a file name, often a hard one (RFC 2183 2.3, RFC 2231)."""
    kind = source.choice(["attachment", "inline"])
    params = parameters(source, ("filename",))
    if source.integer(0, 3):
        params = (("filename", parameter_value(source)), *params)
    return ContentDisposition(kind, params)


# -- header fields of an entity -------------------------------------------------------------


def _field(source: Source, name: str, text: str) -> str:
    return fold(source, rfc5322.field_name(source, name), text)


class _Head:
    """Header fields being written: their text and their expected values side by side."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.text: list[str] = []
        self.headers: list[Header] = []

    def add(self, name: str, text: str, value: FieldValue | None = None) -> None:
        """Write field ``name`` as ``text``; a reader must find ``value`` in it, or, when
        ``value`` is None (a field carried as written), the unfolded, stripped text."""
        field_name = rfc5322.field_name(self.source, name)
        written = fold(self.source, field_name, text)
        if value is None:
            value = written.split(":", 1)[1].replace("\r\n", "").strip(" \t")
        self.text.append(written)
        self.headers.append(Header(field_name, value))

    def bytes(self) -> bytes:
        return "".join(self.text).encode("utf-8")


def _encoding_for(source: Source, content: bytes) -> str:
    """A transfer encoding ``content`` may travel in (RFC 2045 2.7, 2.8, 6)."""
    allowed = ["quoted-printable", "base64", "binary"]
    if transfer.is_line_safe(content, eight_bit=False):
        allowed += ["7bit", "7bit"]
    elif transfer.is_line_safe(content, eight_bit=True):
        allowed += ["8bit", "8bit"]
    encoding = source.choice(allowed)
    source.mark(f"rfc2045:cte-{encoding}")
    return encoding


def _transfer_encode(source: Source, content: bytes, encoding: str) -> bytes:
    if encoding == "base64" and source.boolean():
        width = source.choice([64, 72])  # RFC 2045 6.8 allows any line up to 76
        encoded = base64.b64encode(content)
        return b"".join(encoded[i : i + width] + b"\r\n" for i in range(0, len(encoded), width))
    return transfer.encode(content, encoding)


def _cte(source: Source, head: _Head, encoding: str) -> None:
    written = encoding.upper() if source.chance(6) else encoding
    if source.chance(16):
        source.mark("rfc2045:comment-before-mechanism")
        written = rfc5322.comment(source) + " " + written
    head.add("Content-Transfer-Encoding", written + rfc5322.optional_cfws(source), encoding)


# -- RFC 2046 leaves ------------------------------------------------------------------------


def _leaf(
    source: Source,
    value: ContentType,
    content: bytes,
    body: Text | Data,
    dispose: Callable[[], bool],
    encoding: str | None = None,
) -> Entity:
    """A leaf's header (Content-Type, Content-Transfer-Encoding, Content-Disposition when
    ``dispose()`` says so) and its transfer-encoded content."""
    if encoding is None:
        encoding = _encoding_for(source, content)
    head = _Head(source)
    head.add("Content-Type", content_type(source, value), value)
    _cte(source, head, encoding)
    if dispose():
        disposition = disposition_value(source)
        head.add("Content-Disposition", content_disposition(source, disposition), disposition)
    return Entity(
        head.bytes() + b"\r\n" + _transfer_encode(source, content, encoding),
        Mail(tuple(head.headers), body),
    )


@production("rfc2046:text")
def text_entity(source: Source) -> Entity:
    """A text/* leaf: a charset, text it can hold, and a transfer encoding for its bytes."""
    charset = source.choice(BODY_CHARSETS)
    if charset == "us-ascii":
        lines = [source.text(PRINTABLE_ASCII + "\t", 0, 90) for _ in range(source.repeat(0, 6))]
    else:
        lines = [text_in(source, charset, 0, 90) for _ in range(source.repeat(0, 6))]
        if NON_ASCII_IN[charset]:
            source.mark(f"charset:{charset}")
    text = "\n".join(lines)
    if lines and source.boolean():
        text += "\n"
    subtype = source.choice(TEXT_SUBTYPES)
    extra = parameters(source, ("charset", "boundary"))
    value = ContentType("text", subtype, (("charset", charset), *extra))
    content = text.replace("\n", "\r\n").encode(charset)
    if charset == "us-ascii" and source.chance(8):
        # 8-bit bytes in a body labelled US-ASCII: read as UTF-8 (stack.mime.model.body_codec).
        source.mark("rfc2046:8bit-in-us-ascii")
        text += "é"
        content += "é".encode()
    return _leaf(source, value, content, Text(text), lambda: source.chance(3))


@production("rfc2046:data")
def data_entity(source: Source) -> Entity:
    """A non-text leaf (application/*, image/*...): 8-bit and binary bodies included."""
    maintype, subtype = source.choice(DATA_TYPES)
    form = source.integer(0, 2)
    if form == 0:
        data = source.binary(0, 300)
    elif form == 1:
        data = "\r\n".join(source.text(PRINTABLE_ASCII, 0, 80) for _ in range(4)).encode()
    else:
        source.mark("rfc2045:long-line")
        data = source.text(PRINTABLE_ASCII, 990, 1100).encode()
    encoding = _encoding_for(source, data)
    value = ContentType(maintype, subtype, parameters(source, ("boundary",)))
    return _leaf(source, value, data, Data(data), lambda: True, encoding)


@production("rfc3464:delivery-status")
def delivery_status(source: Source) -> Entity:
    """message/delivery-status (RFC 3464): per-message and per-recipient fields, read as
    data (its grammar is not RFC 5322's)."""
    recipient = f"{rfc5322.dot_atom_text(source)}@{rfc5322.dot_atom_text(source)}"
    data = (
        f"Reporting-MTA: dns; {rfc5322.dot_atom_text(source)}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: failed\r\nStatus: 5.{source.integer(0, 7)}.{source.integer(0, 7)}\r\n"
    ).encode()
    value = ContentType("message", "delivery-status", ())
    head = _Head(source)
    head.add("Content-Type", content_type(source, value), value)
    return Entity(head.bytes() + b"\r\n" + data, Mail(tuple(head.headers), Data(data)))


# -- RFC 2046 5.1 multipart, 5.2 message ----------------------------------------------------


def _section(source: Source) -> bytes:
    """A preamble or an epilogue: lines of ASCII text with CRLF breaks (RFC 2046 5.1.1)."""
    lines = [source.text(string.ascii_letters + " .", 0, 30) for _ in range(source.repeat(0, 2))]
    return "\r\n".join(lines).encode("ascii")


def _padding(source: Source) -> bytes:
    """transport-padding (RFC 2046 5.1.1): white space a gateway may add after a delimiter,
    which a reader must ignore."""
    if source.chance(10):
        source.mark("rfc2046:transport-padding")
        return source.text(" \t", 1, 3).encode("ascii")
    return b""


def boundary(source: Source, chunks: list[bytes]) -> str:
    """boundary (RFC 2046 5.1.1): 1 to 70 bchars, occurring in none of ``chunks``."""
    while True:
        candidate = source.choice(["=_", "----=_Part_", "", "b"]) + source.text(BCHARS, 1, 40)
        candidate = candidate.rstrip(" ")
        dash = b"--" + candidate.encode("ascii")
        if candidate and all(dash not in chunk for chunk in chunks):
            return candidate


@production("rfc2046:multipart")
def multipart(source: Source, depth: int) -> Entity:
    """A multipart (RFC 2046 5.1): mixed, alternative, related, digest (whose parts default
    to message/rfc822, 5.1.5) or report (RFC 6522: a human part, a delivery-status and the
    original message)."""
    subtype = source.choice(MULTIPART_SUBTYPES)
    source.mark(f"rfc2046:multipart-{subtype}")
    parts: list[Entity] = []
    extra: tuple[tuple[str, str], ...] = ()
    if subtype == "digest":
        for _ in range(source.repeat(1, 3)):
            inner = message(source, depth + 1)
            if source.boolean():
                parts.append(Entity(b"\r\n" + inner.data, Mail((), Nested(inner.mail))))
            else:
                parts.append(nested(source, depth, inner))
    elif subtype == "report":
        extra = (("report-type", "delivery-status"),)
        parts.append(text_entity(source))
        parts.append(delivery_status(source))
        parts.append(nested(source, depth, message(source, depth + 1)))
    else:
        parts.extend(entity(source, depth + 1) for _ in range(source.repeat(1, 3)))
    preamble, epilogue = _section(source), _section(source)
    if preamble or epilogue:
        source.mark("rfc2046:preamble-epilogue")
    chunks = [part.data for part in parts]
    chosen = boundary(source, [*chunks, preamble, epilogue])
    value = ContentType("multipart", subtype, (*extra, ("boundary", chosen)))
    head = _Head(source)
    head.add("Content-Type", content_type(source, value), value)
    if source.chance(4):
        head.add("Content-Transfer-Encoding", "7bit", "7bit")
    dash = b"--" + chosen.encode("ascii")
    out = [preamble + b"\r\n" if preamble else b""]
    for index, part in enumerate(chunks):
        out.append((b"\r\n" if index else b"") + dash + _padding(source) + b"\r\n" + part)
    out.append(b"\r\n" + dash + b"--" + _padding(source) + b"\r\n" + epilogue)
    model = Mail(tuple(head.headers), Parts(tuple(p.mail for p in parts), preamble, epilogue))
    return Entity(head.bytes() + b"\r\n" + b"".join(out), model)


@production("rfc2046:message-rfc822")
def nested(source: Source, depth: int, inner: Entity | None = None) -> Entity:
    """message/rfc822 (RFC 2046 5.2.1): a whole message as the body, in 7bit, 8bit or binary
    (never encoded)."""
    if inner is None:
        inner = message(source, depth + 1)
    value = ContentType("message", "rfc822", ())
    head = _Head(source)
    head.add("Content-Type", content_type(source, value), value)
    if source.boolean():
        if transfer.is_line_safe(inner.data, eight_bit=False):
            encoding = source.choice(["7bit", "8bit", "binary"])
        elif transfer.is_line_safe(inner.data, eight_bit=True):
            encoding = source.choice(["8bit", "binary"])
        else:
            encoding = "binary"
        _cte(source, head, encoding)
    return Entity(
        head.bytes() + b"\r\n" + inner.data, Mail(tuple(head.headers), Nested(inner.mail))
    )


@production("rfc2045:entity")
def entity(source: Source, depth: int = 0) -> Entity:
    """A MIME entity: a leaf, or (while the tree is shallow) a multipart or a message."""
    kind = source.integer(0, 6 if depth < 2 else 2)
    if kind <= 1:
        return text_entity(source)
    if kind == 2:
        return data_entity(source)
    if kind <= 5:
        return multipart(source, depth)
    return nested(source, depth)


# -- RFC 5322 3.6 a message -----------------------------------------------------------------


@production("rfc5322:fields")
def top_fields(source: Source, head: _Head) -> None:
    """The RFC 5322 3.6 fields: trace fields first, then From and Date (required) and the
    optional fields in a shuffled order; Sender whenever From names several mailboxes
    (3.6.2 requires it then), and Resent-From and Resent-Date together (3.6.6)."""
    if source.chance(3):
        head.add("Return-Path", "<" + rfc5322.dot_atom_text(source) + "@example.org>")
    for _ in range(source.repeat(0, 2)):
        text = (
            f"from {rfc5322.dot_atom_text(source)} ([192.0.2.{source.integer(1, 254)}]) by "
            f"mx.example.org with ESMTPS id {token(source)}; "
            f"{rfc5322.date_time(source).text}"
        )
        head.add("Received", text)
    authors = rfc5322.mailbox_list(source)
    optional: list[tuple[str, Written[FieldValue]]] = [
        ("From", authors),
        ("Date", rfc5322.date_time(source)),
    ]
    candidates: list[tuple[str, Callable[[Source], Written[FieldValue]]]] = [
        ("To", rfc5322.address_list),
        ("Cc", rfc5322.address_list),
        ("Reply-To", rfc5322.address_list),
        ("Sender", rfc5322.sender),
        ("Subject", rfc5322.unstructured),
        ("Comments", rfc5322.unstructured),
        ("Message-ID", rfc5322.msg_id),
        ("In-Reply-To", rfc5322.msg_id_list),
        ("References", rfc5322.msg_id_list),
        ("Resent-Date", rfc5322.date_time),
        ("Resent-From", rfc5322.mailbox_list),
        ("X-Elsinore-Test", rfc5322.unstructured),
    ]
    for name, grammar in candidates:
        if source.boolean() or (name == "Sender" and len(authors.value) > 1):
            optional.append((name, grammar(source)))
    # 3.6.6: "When resent fields are used, the Resent-From: and Resent-Date: fields MUST be
    # sent."
    chosen = {name for name, _ in optional}
    if "Resent-Date" in chosen and "Resent-From" not in chosen:
        optional.append(("Resent-From", rfc5322.mailbox_list(source)))
    elif "Resent-From" in chosen and "Resent-Date" not in chosen:
        optional.append(("Resent-Date", rfc5322.date_time(source)))
    for index in range(len(optional) - 1, 0, -1):
        other = source.integer(0, index)
        optional[index], optional[other] = optional[other], optional[index]
    for name, written in optional:
        head.add(name, written.text, written.value)


@production("rfc5322:message")
def message(source: Source, depth: int = 0) -> Entity:
    """A whole message: RFC 5322 header fields, MIME-Version and a MIME entity."""
    head = _Head(source)
    top_fields(source, head)
    version = "1.0" if source.integer(0, 3) else "1.0 (produced by Elsinore)"
    head.add("MIME-Version", version)
    body = entity(source, depth)
    data = head.bytes() + body.data
    return Entity(data, Mail((*head.headers, *body.mail.headers), body.mail.body))
