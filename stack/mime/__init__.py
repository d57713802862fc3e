"""stack.mime: a lossless, strict and fast RFC 5322/MIME codec.

Three entry points:

- :func:`parse` (lossless, lazy): a concrete syntax tree that keeps every byte and never
  fails; ``bytes(parse(b)) == b``.  Hops edit messages through it.
- :func:`decode` (eager): every header field typed, every body decoded; strict mode raises
  :class:`ParseError`, lenient mode records defects.
- :func:`encode` (canonical): the model back to wire form; ``decode(encode(m)) == m``.

RFCs: 5322 (with its obsolete syntax), 2045, 2046, 2047, 2049, 2183, 2231 and 6532.
"""

from stack.mime.decode import decode, decode_field
from stack.mime.encode import encode, encode_field
from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields import (
    Address,
    ContentDisposition,
    ContentType,
    DateTime,
    Group,
    Mailbox,
    MessageId,
)
from stack.mime.lossless import Field, Message, parse
from stack.mime.model import Data, Header, Mail, Malformed, Nested, Parts, Text

__all__ = [
    "Address",
    "ContentDisposition",
    "ContentType",
    "Data",
    "DateTime",
    "Defect",
    "EncodeError",
    "Field",
    "Group",
    "Header",
    "Mail",
    "Mailbox",
    "Malformed",
    "Message",
    "MessageId",
    "Nested",
    "ParseError",
    "Parts",
    "Text",
    "decode",
    "decode_field",
    "encode",
    "encode_field",
    "parse",
]
