"""Transfer encodings: exact inverses, line limits, and the QP decisions made once."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime import transfer

# Bytes rich in the characters quoted-printable treats specially.
QP_BYTES = st.lists(
    st.one_of(st.sampled_from([b" ", b"\t", b"=", b"\r\n", b"\r", b"\n", b".", b"From "]),
              st.binary(max_size=90)),
    max_size=30,
).map(b"".join)  # fmt: skip


@given(QP_BYTES)
def test_quoted_printable_round_trips(data: bytes) -> None:
    encoded = transfer.encode_quoted_printable(data)
    assert transfer.decode_quoted_printable(encoded) == data


@given(QP_BYTES)
def test_quoted_printable_lines_are_short_ascii_and_end_in_crlf(data: bytes) -> None:
    encoded = transfer.encode_quoted_printable(data)
    assert encoded.isascii()
    assert encoded == b"" or encoded.endswith(b"\r\n")
    for line in encoded.split(b"\r\n"):
        assert len(line) <= transfer.QP_LINE
        assert not line.endswith((b" ", b"\t"))
        assert b"\r" not in line and b"\n" not in line


def test_quoted_printable_final_line_without_newline_ends_in_a_soft_break() -> None:
    assert transfer.encode_quoted_printable(b"abc") == b"abc=\r\n"
    assert transfer.encode_quoted_printable(b"abc\r\n") == b"abc\r\n"
    assert transfer.decode_quoted_printable(b"abc=\r\n") == b"abc"


def test_quoted_printable_decoder_strips_transport_padding() -> None:
    assert transfer.decode_quoted_printable(b"a  \r\nb=  \r\nc\t") == b"a\r\nbc"


def _strip_line_ends(data: bytes) -> bytes:
    """RFC 2045 6.7 rule 3 the obvious way, line by line: blanks before LF, CRLF or the end."""
    lines = data.split(b"\n")
    out = []
    for index, line in enumerate(lines):
        if index < len(lines) - 1 and line.endswith(b"\r"):
            out.append(line[:-1].rstrip(b" \t") + b"\r")
        else:
            out.append(line.rstrip(b" \t"))
    return b"\n".join(out)


@given(QP_BYTES)
def test_quoted_printable_strips_blanks_exactly_where_lines_end(data: bytes) -> None:
    # The decoder does this with one linear pattern (issue 13); the loop is the reference.
    assert transfer._QP_TRAILING_WSP.sub(b"", data) == _strip_line_ends(data)


def test_quoted_printable_soft_break_followed_by_space() -> None:
    # mrmime's generator found this one: the space after a soft break is data.
    assert transfer.decode_quoted_printable(b"a=\r\n b\r\n") == b"a b\r\n"
    assert transfer.decode_quoted_printable(
        transfer.encode_quoted_printable(b"a" * 75 + b" b")
    ) == (b"a" * 75 + b" b")


def test_quoted_printable_lf_only_input_is_read() -> None:
    assert transfer.decode_quoted_printable(b"caf=C3=A9\nx=\ny\n") == b"caf\xc3\xa9\r\nxy\r\n"


def test_quoted_printable_invalid_escape_is_kept_and_reported() -> None:
    defects: list[transfer.Defect] = []
    assert transfer.decode_quoted_printable(b"100=%\r\n", defects) == b"100=%\r\n"
    assert [d.kind for d in defects] == ["invalid-qp-escape"]


@given(st.binary(max_size=2000))
def test_base64_round_trips_in_76_character_lines(data: bytes) -> None:
    encoded = transfer.encode_base64(data)
    assert transfer.decode_base64(encoded) == data
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert encoded == base64.encodebytes(data).replace(b"\n", b"\r\n")


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        (b"aGVsbG8=", b"hello"),
        (b"aGVsbG8", b"hello"),  # missing padding
        (b"aGVs\r\nbG8=\r\n", b"hello"),
        (b"aGVs bG8=!!", b"hello"),  # characters outside the alphabet are ignored
        (b"aGVsbG8=aGk=", b"hello"),  # padding in the middle: Python stops at it
    ],
)
def test_base64_decoder_is_lenient(encoded: bytes, decoded: bytes) -> None:
    assert transfer.decode_base64(encoded) == decoded


def test_base64_repair_is_reported() -> None:
    defects: list[transfer.Defect] = []
    assert transfer.decode_base64(b"aGVsbG8", defects) == b"hello"
    assert [d.kind for d in defects] == ["invalid-base64"]


@pytest.mark.parametrize(
    ("data", "text", "expected"),
    [
        (b"plain ascii\r\n", True, "7bit"),
        ("caf\u00e9\r\n".encode(), True, "8bit"),
        (b"x" * 999, True, "quoted-printable"),
        (b"nul\0byte", True, "quoted-printable"),
        ("\u00e9".encode() * 600, True, "base64"),  # one line too long for 8bit
        (b"\x89PNG\r\n\x1a\n", False, "base64"),
        (b"bare\rcr", True, "quoted-printable"),
    ],
)
def test_choose_picks_the_lightest_valid_encoding(data: bytes, text: bool, expected: str) -> None:
    assert transfer.choose(data, text=text) == expected


@given(st.binary(max_size=300), st.booleans())
def test_chosen_encoding_round_trips(data: bytes, text: bool) -> None:
    encoding = transfer.choose(data, text=text)
    assert transfer.decode(transfer.encode(data, encoding), encoding) == data


@given(st.binary().map(lambda data: data.translate(_BLANKS_AND_BREAKS)))
def test_trailing_blanks_of_each_line_are_found_as_the_first_pattern_found_them(
    data: bytes,
) -> None:
    # The pattern of issue 13 (the run's start by a lookbehind), written the way the regex
    # engine scans faster; both must strip the same blanks of every input.
    first = re.compile(rb"(?<![ \t])[ \t]++(?=\r?\n|\Z)")
    assert transfer._QP_TRAILING_WSP.sub(b"", data) == first.sub(b"", data)


# Bytes mapped onto blanks, line breaks and two letters, where the patterns can differ.
_BLANKS_AND_BREAKS = bytes((b" \t\r\nab")[i % 6] for i in range(256))
