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
from stack.mime.fields.date import DateTime, decode_date, encode_date
from stack.mime.fields.encoded_word import (
    decode_unstructured,
    encode_phrase,
    encode_unstructured,
)
from stack.mime.fields.message_id import (
    MessageId,
    decode_msg_id,
    decode_msg_id_list,
    encode_msg_id,
    encode_msg_id_list,
)
from stack.mime.fields.params import (
    ContentDisposition,
    ContentType,
    Params,
    decode_content_disposition,
    decode_content_type,
    decode_params,
    decode_transfer_encoding,
    encode_content_disposition,
    encode_content_type,
    encode_params,
    encode_transfer_encoding,
)

__all__ = [
    "Address",
    "ContentDisposition",
    "ContentType",
    "DateTime",
    "Group",
    "Mailbox",
    "MessageId",
    "Params",
    "decode_address_list",
    "decode_content_disposition",
    "decode_content_type",
    "decode_date",
    "decode_mailbox",
    "decode_mailbox_list",
    "decode_msg_id",
    "decode_msg_id_list",
    "decode_params",
    "decode_transfer_encoding",
    "decode_unstructured",
    "encode_address",
    "encode_address_list",
    "encode_content_disposition",
    "encode_content_type",
    "encode_date",
    "encode_mailbox",
    "encode_mailbox_list",
    "encode_msg_id",
    "encode_msg_id_list",
    "encode_params",
    "encode_phrase",
    "encode_transfer_encoding",
    "encode_unstructured",
]
