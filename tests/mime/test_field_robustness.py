"""Arbitrary field values through every decoder: the three promises that hold for any input.

1. Only :class:`ParseError` ever escapes, in either mode.
2. What strict mode accepts, lenient mode reads as the same value without a defect.
3. A value strict mode accepts is written by the encoder (never refused: strict mode reports
   whatever the encoder could not write) and read back, strictly, as the same value.
4. A value lenient mode reads is likewise written and read back, leniently, as itself: what
   ``elsinore mime check`` asks of every real message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields import (
    decode_address_list,
    decode_content_disposition,
    decode_content_type,
    decode_date,
    decode_mailbox,
    decode_mailbox_list,
    decode_msg_id,
    decode_msg_id_list,
    decode_transfer_encoding,
    decode_unstructured,
    encode_address_list,
    encode_content_disposition,
    encode_content_type,
    encode_date,
    encode_mailbox,
    encode_mailbox_list,
    encode_msg_id,
    encode_msg_id_list,
    encode_transfer_encoding,
    encode_unstructured,
)

CODECS: dict[str, tuple[Callable[[str, list[Defect] | None], Any], Callable[[Any], str]]] = {
    "address-list": (decode_address_list, encode_address_list),
    "mailbox-list": (decode_mailbox_list, encode_mailbox_list),
    "mailbox": (decode_mailbox, encode_mailbox),
    "unstructured": (decode_unstructured, encode_unstructured),
    "date": (decode_date, encode_date),
    "msg-id": (decode_msg_id, encode_msg_id),
    "msg-id-list": (decode_msg_id_list, encode_msg_id_list),
    "content-type": (decode_content_type, encode_content_type),
    "content-disposition": (decode_content_disposition, encode_content_disposition),
    "transfer-encoding": (decode_transfer_encoding, encode_transfer_encoding),
}

# Pieces that reach the interesting corners of every grammar at once.
PIECES = [
    *"aZ09 \t()<>@,;:\\\".[]=?*%'_-/+é\udce9\x00\r\n",
    "=?utf-8?q?a?=",
    "=?utf-8?b?w6k=?=",
    "=?x?q?",
    "?=",
    "a@b",
    "<a@b>",
    '"x y"',
    "Joe ",
    "g:",
    "text/plain",
    "; a=",
    "*0*=utf-8''%41",
    "*1=",
    "Tue, ",
    " 1 Jul 2003 ",
    "10:52",
    ":37",
    " +0200",
    " PDT",
    "(c)",
]
field_values = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)


@pytest.mark.parametrize("kind", sorted(CODECS))
@given(text=field_values)
def test_decoders_keep_their_three_promises(kind: str, text: str) -> None:
    decode, encode = CODECS[kind]
    defects: list[Defect] = []
    try:
        lenient = decode(text, defects)
    except ParseError:
        lenient = None
    try:
        strict = decode(text, None)
    except ParseError:
        return
    assert lenient == strict
    assert defects == []
    wire = encode(strict)
    assert "\r" not in wire
    assert "\n" not in wire
    assert decode(" " + wire, None) == strict


@pytest.mark.parametrize("kind", sorted(CODECS))
@given(text=field_values)
def test_lenient_values_are_written_back_as_themselves(kind: str, text: str) -> None:
    decode, encode = CODECS[kind]
    try:
        value = decode(text, [])
    except ParseError:
        return
    try:
        wire = encode(value)
    except EncodeError:
        return
    assert "\r" not in wire
    assert "\n" not in wire
    assert decode(" " + wire, []) == value


@pytest.mark.parametrize("kind", sorted(CODECS))
def test_undecodable_bytes_are_a_defect_in_every_field(kind: str) -> None:
    decode, _ = CODECS[kind]
    samples = {
        "address-list": "caf\udce9@example.org",
        "mailbox-list": "caf\udce9@example.org",
        "mailbox": "caf\udce9 <a@example.org>",
        "unstructured": "caf\udce9",
        "date": "Tue, 1 Jul 2003 10:52:37 +0200 (caf\udce9)",
        "msg-id": "<caf\udce9@example.org>",
        "msg-id-list": "<caf\udce9@example.org>",
        "content-type": 'text/plain; name="caf\udce9"',
        "content-disposition": 'attachment; filename="caf\udce9"',
        "transfer-encoding": "7bit (caf\udce9)",
    }
    defects: list[Defect] = []
    decode(samples[kind], defects)
    assert "invalid-utf8" in {defect.kind for defect in defects}
    with pytest.raises(ParseError):
        decode(samples[kind], None)
