"""A field with a word too long for one line: what the codec promises.

Folding breaks a line only before white space, so a word (a run without white space) longer
than a line can hold cannot be written within RFC 5322's 998 octets (2.1.1) by any writer.

- A value written within the limit is written back within it: the encoder breaks the line
  right after the colon when the first word would not fit otherwise.
- A field read from a line already too long for its word is kept as it was written
  (``Malformed``, with an ``unwritable-field`` defect) and written back unchanged, so
  ``elsinore mime check`` passes it in lenient mode; strict mode refuses the line.
- A value a program builds with such a word is refused with :class:`EncodeError`.

Found by the mime_check fuzzer: ``References:`` with one msg-id of 1,151 octets
(fuzz/crashes/mime_check/references-msg-id-longer-than-a-line).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime import EncodeError, Header, Mail, Malformed, MessageId, Text, decode, encode
from stack.mime.check import check

LONG = "a" * 1151
FROM_AND_DATE = b"From: a@b.example\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n"

#: One field per kind the encoder writes, each holding a word no line can hold.
TOO_LONG = {
    "references": f"References: <{LONG}@b.example>",
    "in-reply-to": f"In-Reply-To: <x@y> <{LONG}@b.example>",
    "message-id": f"Message-ID: <{LONG}@b.example>",
    "content-id": f"Content-ID: <{LONG}@b.example>",
    "address local-part": f"To: {LONG}@b.example",
    "address domain": f"To: a@{LONG}.example",
    "quoted local-part": f'To: Joe <"{LONG}"@b.example>',
    "parameter name": f"Content-Type: text/plain; {LONG}=1",
    "media subtype": f"Content-Type: text/{LONG}",
    "disposition type": f"Content-Disposition: {LONG}; filename=a.txt",
    "transfer encoding": f"Content-Transfer-Encoding: {LONG}",
    "raw trace field": f"Received: from {LONG} by b.example",
    "unreadable date": f"Date: {LONG}",
    "field name": f"X-{LONG}: yes",
}


@pytest.mark.parametrize("line", TOO_LONG.values(), ids=TOO_LONG.keys())
def test_a_word_longer_than_a_line_is_kept_as_written_and_checks(line: str) -> None:
    data = FROM_AND_DATE + line.encode() + b"\r\n\r\nhi\r\n"
    result = check(data)
    assert result.passed, result.failures
    mail = decode(data)
    name = line.split(":", 1)[0]
    assert isinstance(mail.get_all(name)[-1], Malformed)
    unfolded = re.sub(rb"\r\n(?=[ \t])", b"", encode(mail))
    assert line.encode() + b"\r\n" in unfolded


def test_a_msg_id_longer_than_a_line_is_malformed_with_a_defect() -> None:
    mail = decode(b"References: <" + LONG.encode() + b"@b.example>\r\n\r\n")
    assert mail.get("references") == Malformed(f"<{LONG}@b.example>")
    assert "unwritable-field" in [d.kind for d in mail.defects if d.field == "References"]


# Each continuation line below is exactly 998 octets: the input is strictly valid.
FITS_AFTER_THE_COLON = {
    "references": "References:\r\n <{}@b.example>",
    "message-id": "Message-ID:\r\n <{}@b.example>",
    "content-id": "Content-ID:\r\n <{}@b.example>",
    "reply-to": "Reply-To:\r\n {}@b.example",
    "received": "Received:\r\n {}",
}


@pytest.mark.parametrize("template", FITS_AFTER_THE_COLON.values(), ids=FITS_AFTER_THE_COLON.keys())
def test_a_word_that_fits_after_the_colon_is_written_there(template: str) -> None:
    line = template.format("")
    word = "a" * (998 - len(line.split("\r\n")[1]))
    data = FROM_AND_DATE + template.format(word).encode() + b"\r\n\r\nhi\r\n"
    assert check(data, strict=True).passed, check(data, strict=True).failures
    wire = encode(decode(data, strict=True))
    assert max(len(row) for row in wire.split(b"\r\n")) == 998
    assert decode(wire, strict=True) == decode(data)


def test_a_built_value_with_a_word_longer_than_a_line_is_refused() -> None:
    mail = Mail((Header("Message-ID", MessageId(LONG, "b.example")),), Text("hi\n"))
    with pytest.raises(EncodeError, match="998 octets"):
        encode(mail)


#: A word in each field kind, after the separator (a space or a fold) the input puts there.
WORD_IN = (
    "References:{}<{}@b.example>",
    "Message-ID:{}<{}@b.example>",
    "To:{}Joe <{}@b.example>",
    "To:{}{}@b.example",
    "Content-Type: text/plain;{}{}=1",
    "Content-Type:{}text/{}",
    "Content-Disposition:{}{}",
    "Received:{}{}",
    "Keywords:{}{}",
)


@given(
    st.sampled_from(WORD_IN),
    st.sampled_from([" ", "\r\n "]),
    st.integers(min_value=970, max_value=1010),
)
def test_a_field_within_the_limit_is_written_within_it_and_any_other_as_it_was(
    template: str, separator: str, length: int
) -> None:
    data = FROM_AND_DATE + template.format(separator, "a" * length).encode() + b"\r\n\r\nhi\r\n"
    result = check(data)
    assert result.passed, result.failures
    wire = encode(decode(data))
    if max(len(line) for line in data.split(b"\r\n")) <= 998:
        assert max(len(line) for line in wire.split(b"\r\n")) <= 998
