"""Header fields of the lossless layer: where the header ends, how a field reads, how one is
found by name, and that finding it sees every edit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.lossless import Field, parse

# Pieces of header lines: names, colons, obs-fname white space, folds, bare CRs, 8-bit bytes
# and empty lines, so that generated headers hit every branch of the field scanner.
_HEADER_PIECES = st.sampled_from(
    [
        b"Subject", b"content-TYPE", b"X-A", b"From ", b":", b" :", b": ", b" ", b"\t", b"x",
        b"\n", b"\r\n", b"\r", b"\n ", b"\r\n\t", b"\n\n", b"\n\r\n", b"\xff", b"=?utf-8?q?x?=",
    ]
)  # fmt: skip
HEADERS = st.lists(_HEADER_PIECES, max_size=30).map(b"".join)


def _reading(field: Field) -> tuple[bytes, int, str, bool, bytes, str]:
    return (
        field.raw,
        field.offset,
        field.name,
        field.is_field,
        field.raw_value,
        field.unfolded(),
    )


@given(HEADERS)
def test_a_parsed_field_reads_as_the_field_built_from_its_bytes(data: bytes) -> None:
    for node in parse(data).walk():
        for field in node.fields:
            assert _reading(field) == _reading(Field(field.raw, field.offset)), field


@given(HEADERS)
def test_fields_tile_the_header_from_the_first_byte(data: bytes) -> None:
    message = parse(data)
    position = 0
    for field in message.fields:
        assert field.offset == position
        assert data[position : position + len(field.raw)] == field.raw
        position += len(field.raw)
    assert message.body_offset == position + len(message.separator)


@pytest.mark.parametrize(
    ("data", "separator", "body"),
    [
        (b"A: 1\n\r\nB: 2\n\nbody", b"\r\n", b"B: 2\n\nbody"),
        (b"A: 1\r\n\nB: 2\r\n\r\nbody", b"\n", b"B: 2\r\n\r\nbody"),
        (b"A: 1\r\n\r\nB: 2\n\nbody", b"\r\n", b"B: 2\n\nbody"),
        (b"A: 1\n\nB: 2\r\n\r\nbody", b"\n", b"B: 2\r\n\r\nbody"),
    ],
)
def test_the_header_ends_at_its_first_empty_line_whatever_its_line_ending(
    data: bytes, separator: bytes, body: bytes
) -> None:
    message = parse(data)
    assert [field.name for field in message.fields] == ["A"]
    assert (message.separator, message.body) == (separator, body)
    assert message.defects == []


def test_a_line_of_a_cr_and_a_space_is_not_the_empty_line() -> None:
    message = parse(b"A: 1\r\n\r \nB: 2\r\n\r\nbody")
    assert [field.name for field in message.fields] == ["A"]
    assert (message.separator, message.body) == (b"", b"\r \nB: 2\r\n\r\nbody")
    assert [defect.kind for defect in message.defects] == ["missing-header-separator"]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"Subject: x\r\n", b" x"),
        (b"Subject: x\n", b" x"),
        (b"Subject: x", b" x"),
        (b"Subject: x\r", b" x\r"),
        (b"Subject: x\r\r\n", b" x\r"),
        (b"Subject:\r\n", b""),
        (b"Subject:", b""),
        (b"Subject: a\r\n b\r\n", b" a\r\n b"),
        (b"Subject  : a\n", b" a"),
        (b"From x Thu Aug 22 12:36:23 2002\n", b"From x Thu Aug 22 12:36:23 2002"),
        (b"  : x\n", b" x"),
        (b"\r\n", b""),
        (b"", b""),
    ],
)
def test_raw_value_is_what_follows_the_colon_without_the_final_line_break(
    raw: bytes, value: bytes
) -> None:
    field = Field(raw)
    assert field.raw_value == value
    assert field.raw_value == value  # read twice: the same
    assert bytes(field) == raw


def test_unfolding_removes_lf_and_crlf_folds_alike() -> None:
    assert Field(b"Subject: a\r\n b\n\tc\r\n").unfolded() == " a b\tc"
    assert Field(b"Subject: a\rb\n").unfolded() == " a\rb"


def test_get_finds_the_first_field_of_a_name_in_any_case() -> None:
    message = parse(b"Content-Typo: a\nCONTENT-type: b\nContent-Type: c\nX: d\n\n")
    first = message.get("content-type")
    assert first is not None
    assert first.raw == b"CONTENT-type: b\n"
    assert message.get("Content-TYPE") is first
    assert message.get("content") is None
    assert message.get("content-types") is None
    assert [field.raw_value for field in message.get_all("CONTENT-TYPE")] == [b" b", b" c"]


def test_get_does_not_find_the_mbox_from_line() -> None:
    message = parse(b"From x Thu Aug 22 12:36:23 2002\nSubject: s\n\n")
    assert message.get("from") is None
    assert message.get("From ") is None


def test_get_sees_prepend_replace_and_remove() -> None:
    message = parse(b"Subject: old\r\nContent-Type: text/plain\r\n\r\nbody")
    assert message.mime_type == "text/plain"
    message.prepend("Content-Type", "text/html")
    assert message.mime_type == "text/html"
    message.replace("content-type", "multipart/mixed; boundary=b")
    assert message.mime_type == "multipart/mixed"
    assert len(message.get_all("content-type")) == 1
    assert message.remove("Content-Type") == 1
    assert message.get("content-type") is None
    assert message.mime_type == "text/plain"
    subject = message.get("subject")
    assert subject is not None
    assert subject.raw_value == b" old"


def test_get_sees_the_field_list_edited_directly() -> None:
    # Some callers edit ``fields`` themselves (Authentication-Results drops forged copies).
    message = parse(b"A: 1\nB: 2\n\n")
    b = message.get("b")
    assert b is not None
    message.fields[:] = [field for field in message.fields if field is not b]
    assert message.get("b") is None
    message.fields.insert(0, Field(b"b: 3\n"))
    found = message.get("B")
    assert found is not None
    assert found.raw_value == b" 3"


def test_transfer_encoding_and_type_read_past_a_comment() -> None:
    data = b"Content-Type: (c) text / html\nContent-Transfer-Encoding: (c) Base64\n\naGk=\n"
    message = parse(data)
    assert message.mime_type == "text/html"
    assert message.transfer_encoding == "base64"
