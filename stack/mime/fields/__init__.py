"""Field-kind codecs: one module per kind of header field, decoder and encoder side by side.

Every decoder takes the unfolded field value as ``str`` (leading white space included) and an
optional ``defects`` list: with a list, recoverable problems are recorded there and decoding
goes on; without one, decoding is strict and the first problem raises :class:`ParseError`.
Every encoder returns one line without CR or LF, with a space wherever a fold is allowed, and
is the exact inverse of its decoder: ``decode(encode(v)) == v``.

Cross-cutting decisions:

* Undecodable 8-bit bytes arrive as lone surrogates (``surrogateescape``).  Every decoder
  reports them (``invalid-utf8``; strict mode refuses them) and lenient mode keeps them.
  Unstructured text, display names and parameter values write them back in ``unknown-8bit``
  encoded-words or RFC 2231 values; a local-part, domain or msg-id holding them cannot be
  written (:class:`EncodeError`), since only UTF-8 may appear raw (RFC 6532).
* ASCII controls other than TAB are obs- syntax wherever they appear (obs-qtext, obs-ctext,
  obs-dtext, obs-qp, obs-utext): reported, kept by lenient mode.
* So strict mode accepts only values the encoder can write, and lenient values round-trip
  through the encoder (read back leniently) or are refused with :class:`EncodeError`.
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
