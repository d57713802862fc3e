"""``encode``: the structured model to canonical wire form.

Canonical means: CRLF line breaks; fields folded by :mod:`stack.mime.folding` (78 characters
preferred, 998 never exceeded but by a :class:`~stack.mime.model.Malformed` field, which is
written back as it was read); encoded-words and RFC 2231 parameters only where a value needs
them (the field codecs decide); bodies written in the transfer encoding their header declares;
multipart boundaries that occur in none of the bytes they delimit.  ``encode`` is a pure
function: the same model always gives the same bytes, so
``encode(decode(encode(m))) == encode(m)``.

A model the encoder cannot write faithfully raises :class:`~stack.mime.errors.EncodeError`:
a CR or LF in a value that has no encoded form (header injection, CVE-2024-6923), a field name
outside RFC 5322's grammar, a value of the wrong type for its field, text that its declared
charset cannot represent, a word (a run without white space) too long for a line of 998
octets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from stack.mime import transfer
from stack.mime.errors import EncodeError
from stack.mime.fields import (
    ContentDisposition,
    ContentType,
    DateTime,
    MessageId,
    encode_address_list,
    encode_content_disposition,
    encode_content_type,
    encode_date,
    encode_msg_id,
    encode_msg_id_list,
    encode_transfer_encoding,
    encode_unstructured,
)
from stack.mime.folding import fold
from stack.mime.lossless import Field
from stack.mime.model import (
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
)

CRLF = b"\r\n"


def _is_addresses(value: object) -> bool:
    return isinstance(value, tuple) and not any(isinstance(item, MessageId) for item in value)


def _is_message_ids(value: object) -> bool:
    return isinstance(value, tuple) and all(isinstance(item, MessageId) for item in value)


_ENCODERS: dict[Kind, tuple[Callable[[object], bool], Callable[[Any], str]]] = {
    Kind.ADDRESSES: (_is_addresses, encode_address_list),
    Kind.DATE: (lambda v: isinstance(v, DateTime), encode_date),
    Kind.MESSAGE_ID: (lambda v: isinstance(v, MessageId), encode_msg_id),
    Kind.MESSAGE_IDS: (_is_message_ids, encode_msg_id_list),
    Kind.CONTENT_TYPE: (lambda v: isinstance(v, ContentType), encode_content_type),
    Kind.CONTENT_DISPOSITION: (
        lambda v: isinstance(v, ContentDisposition),
        encode_content_disposition,
    ),
    Kind.TRANSFER_ENCODING: (lambda v: isinstance(v, str), encode_transfer_encoding),
    Kind.UNSTRUCTURED: (lambda v: isinstance(v, str), encode_unstructured),
    Kind.RAW: (lambda v: isinstance(v, str), str),
}


def encode(mail: Mail) -> bytes:
    """The canonical wire form of ``mail``."""
    return _entity(mail)


def encode_header(header: Header) -> bytes:
    """One field, folded, with its CRLF."""
    return encode_field(header.name, header.value)


def encode_field(name: str, value: FieldValue) -> bytes:
    if not Field.valid_name(name):
        raise EncodeError(f"invalid field name {name!r}")
    if isinstance(value, Malformed):
        # Kept as it was written, a line its sender made too long included: the decoder keeps
        # a field this way only when no conformant form of it exists.
        return fold(name, value.text, limit=None).encode("utf-8", "surrogateescape") + CRLF
    kind = Header(name, value).kind
    accepts, encoder = _ENCODERS[kind]
    if not accepts(value):
        raise EncodeError(f"{name} field expects a {kind.value} value, not {value!r:.80}")
    return fold(name, encoder(value)).encode("utf-8", "surrogateescape") + CRLF


def _entity(mail: Mail) -> bytes:
    headers = mail.headers
    body = mail.body
    if isinstance(body, Parts):
        content_type = mail.content_type
        if content_type.maintype != "multipart":
            raise EncodeError(f"a multipart body under Content-Type {content_type.mime_type}")
        encoded_parts = [_entity(part) for part in body.parts]
        boundary = _boundary(content_type.boundary, encoded_parts, body.preamble, body.epilogue)
        if boundary != content_type.boundary:
            headers = _with_boundary(headers, content_type, boundary)
        payload = _join_parts(encoded_parts, boundary.encode("ascii"), body)
    else:
        payload = transfer.encode(_content(mail), mail.transfer_encoding)
    return b"".join(encode_header(header) for header in headers) + CRLF + payload


def _content(mail: Mail) -> bytes:
    """The body's bytes before transfer encoding (CRLF line breaks for text)."""
    body = mail.body
    if isinstance(body, Text):
        charset = mail.content_type.param("charset")
        codec = _body_codec(charset)
        text = body.text.replace("\n", "\r\n")
        try:
            return text.encode(codec, "surrogateescape")
        except UnicodeEncodeError as error:
            raise EncodeError(
                f"text body cannot be written in charset {charset}: {error.reason} "
                f"at character {error.start}"
            ) from None
    if isinstance(body, Data):
        return body.data
    if isinstance(body, Nested):
        return _entity(body.mail)
    # Parts never get here (_entity writes them): this is a value that is no body at all.
    raise EncodeError(f"a body of type {type(body).__name__} is none of Text, Data, Parts, Nested")


def _body_codec(charset: str | None) -> str:
    codec = body_codec(charset)  # one rule for reading and writing charsets
    if codec is None:
        raise EncodeError(f"unknown charset {charset!r} for a text body")
    return codec


def _join_parts(parts: list[bytes], boundary: bytes, body: Parts) -> bytes:
    dash = b"--" + boundary
    chunks = [body.preamble + CRLF if body.preamble else b""]
    for index, part in enumerate(parts):
        chunks.append((CRLF if index else b"") + dash + CRLF)
        chunks.append(part)
    chunks.append((CRLF if parts else b"") + dash + b"--" + CRLF)
    chunks.append(body.epilogue)
    return b"".join(chunks)


def _boundary(wanted: str | None, parts: list[bytes], preamble: bytes, epilogue: bytes) -> str:
    """The model's boundary if it delimits safely, else one derived from the content.

    RFC 2046 5.1.1: the boundary must not appear in the encapsulated parts.  Checking for
    ``--boundary`` anywhere (not only at line starts) is stricter than needed and simple.
    """
    chunks = [*parts, preamble, epilogue]

    def safe(candidate: str) -> bool:
        dash = b"--" + candidate.encode("ascii")
        return all(dash not in chunk for chunk in chunks)

    if wanted and wanted.isascii() and len(wanted) <= 70 and safe(wanted):
        return wanted
    digest = hashlib.sha256(b"\0".join(chunks)).hexdigest()
    for attempt in range(1000):
        candidate = f"=_{digest[:24]}{attempt or ''}"
        if safe(candidate):
            return candidate
    raise EncodeError("no boundary found that the parts do not contain")  # pragma: no cover


def _with_boundary(
    headers: tuple[Header, ...], content_type: ContentType, boundary: str
) -> tuple[Header, ...]:
    """``headers`` with ``boundary`` in the first Content-Type field: the one
    :attr:`~stack.mime.model.Mail.content_type` read ``content_type`` from, which a multipart
    body always has (without it the body is refused before a boundary is chosen)."""
    params = [(name, value) for name, value in content_type.params if name != "boundary"]
    params.append(("boundary", boundary))
    updated = ContentType(content_type.maintype, content_type.subtype, tuple(params))
    index = next(i for i, header in enumerate(headers) if header.name.lower() == "content-type")
    return (*headers[:index], Header(headers[index].name, updated), *headers[index + 1 :])
