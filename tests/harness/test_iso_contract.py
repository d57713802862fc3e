"""What harness.iso promises when a property does not hold: the failure names the property, says
where the two sides differ, and carries the example and its bytes, one per line, so that a
failing test is a bug report.  The examples are models the grammar never writes (a ``Data``
body in a text part), which is exactly how a codec bug would look to the properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import iso
from stack.mime import ContentType, Header, Mail, Nested, Text, decode, encode
from stack.mime.model import Data

#: Bytes in a part that says nothing of its type: a reader takes them for text (RFC 2045 5.2).
UNTYPED_DATA = Mail((Header("Subject", "raw"),), Data(b"\x00\xff"))
#: A bare LF in a text part: read back as a line break, written again as CRLF.
BARE_LF = Mail((Header("Content-Type", ContentType("text", "plain", ())),), Data(b"ab\n"))


def _report(failure: pytest.ExceptionInfo[iso.PropertyFailure]) -> list[str]:
    return str(failure.value).split("\n")


def test_decode_inverts_encode_reports_where_and_the_example_with_its_bytes() -> None:
    with pytest.raises(iso.PropertyFailure) as failure:
        iso.decode_inverts_encode(UNTYPED_DATA)
    what, example, data = _report(failure)
    assert what.startswith("decode(encode(m)) != m: ")
    assert "Data became Text" in what
    assert example == f"example: {UNTYPED_DATA!r}"
    assert data == f"bytes: {encode(UNTYPED_DATA)!r}"


def test_encode_is_canonical_reports_the_first_byte_that_differs() -> None:
    wire = encode(BARE_LF)
    again = encode(decode(wire))
    with pytest.raises(iso.PropertyFailure) as failure:
        iso.encode_is_canonical(BARE_LF)
    what, example, data = _report(failure)
    assert what.startswith("encode(decode(encode(m))) != encode(m) at byte ")
    at = int(what.rsplit(" ", 1)[1])
    assert wire[:at] == again[:at] and wire[at] != again[at]
    assert example == f"example: {BARE_LF!r}"
    assert data == f"bytes: {wire!r}"


@pytest.mark.parametrize(
    ("a", "b", "at"),
    [
        (b"abc", b"abd", 2),
        (b"abc", b"abcd", 3),  # a prefix of the other: the shorter one's length
        (b"abcd", b"ab", 2),
        (b"", b"x", 0),
        (b"same", b"same", 4),
    ],
)
def test_first_byte_difference_names_the_offset(a: bytes, b: bytes, at: int) -> None:
    assert iso.first_byte_difference(a, b) == at


@given(st.binary(), st.binary())
def test_first_byte_difference_is_the_length_of_the_common_prefix(a: bytes, b: bytes) -> None:
    at = iso.first_byte_difference(a, b)
    assert a[:at] == b[:at]
    assert at == min(len(a), len(b)) or a[at] != b[at]


def test_decode_reads_what_was_written_reports_the_model_expected() -> None:
    expected = Mail((Header("Subject", "x"),), Text("body\n"))
    with pytest.raises(iso.PropertyFailure) as failure:
        iso.decode_reads_what_was_written(b"Subject: y\r\n\r\nbody\r\n", expected)
    what, example, data = _report(failure)
    assert what.startswith("decode(b) is not the model written: ") and "Subject" in what
    assert example == f"example: {expected!r}"
    assert data == "bytes: b'Subject: y\\r\\n\\r\\nbody\\r\\n'"


def _rfc822(subject: str) -> Mail:
    inner = Mail((Header("Subject", subject),), Text("inner\n"))
    content_type = ContentType("message", "rfc822", ())
    return Mail((Header("Content-Type", content_type),), Nested(inner))


def test_an_encapsulated_message_is_compared_all_the_way_down() -> None:
    # The defects allowance walks into message/rfc822 bodies; it must not drop them.
    assert iso.equivalent(_rfc822("same"), _rfc822("same"))
    assert not iso.equivalent(_rfc822("one"), _rfc822("two"))
    found = iso.difference(_rfc822("one"), _rfc822("two"))
    assert found is not None and "rfc822" in found and "Subject" in found
