"""Field-kind codecs: one module per kind of header field, decoder and encoder side by side.

Every decoder takes the unfolded field value as ``str`` (leading white space included) and an
optional ``defects`` list: with a list, recoverable problems are recorded there and decoding
goes on; without one, decoding is strict and the first problem raises :class:`ParseError`.
Every encoder returns one line without CR or LF, with a space wherever a fold is allowed, and
is the exact inverse of its decoder: ``decode(encode(v)) == v``.
"""

from stack.mime.fields.address import (
    Address,
    Group,
    Mailbox,
    decode_address_list,
    decode_mailbox,
    decode_mailbox_list,
    encode_address,
    encode_address_list,
    encode_mailbox,
    encode_mailbox_list,
)
from stack.mime.fields.encoded_word import (
    decode_unstructured,
    encode_phrase,
    encode_unstructured,
)

__all__ = [
    "Address",
    "Group",
    "Mailbox",
    "decode_address_list",
    "decode_mailbox",
    "decode_mailbox_list",
    "decode_unstructured",
    "encode_address",
    "encode_address_list",
    "encode_mailbox",
    "encode_mailbox_list",
    "encode_phrase",
    "encode_unstructured",
]
