"""What stack.mime.transfer promises beyond the round trips of test_transfer.py: how the
quoted-printable decoder reads what transport did to the encoded form, the defects a damaged
body gets, and why choose() picks what it picks."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime import transfer
from stack.mime.transfer import Defect

# Bytes rich in what quoted-printable treats specially (as in test_transfer.py).
QP_BYTES = st.lists(
    st.one_of(st.sampled_from([b" ", b"\t", b"=", b"\r\n", b"\r", b"\n", b".", b"From "]),
              st.binary(max_size=40)),
    max_size=20,
).map(b"".join)  # fmt: skip
PADDING = st.text(" \t", max_size=3).map(str.encode)


@st.composite
def transported(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """Data, and its quoted-printable form as transport may deliver it: every line break CRLF
    or LF, and blanks added at the end of any line (RFC 2045 6.7 rule 3)."""
    data = draw(QP_BYTES)
    lines = transfer.encode_quoted_printable(data).split(b"\r\n")
    out = []
    for line in lines[:-1]:
        out.append(line + draw(PADDING) + draw(st.sampled_from([b"\r\n", b"\n"])))
    out.append(lines[-1] + draw(PADDING))
    return data, b"".join(out)


@given(transported())
def test_line_breaks_and_transport_padding_do_not_change_what_is_decoded(
    case: tuple[bytes, bytes],
) -> None:
    data, delivered = case
    assert transfer.decode_quoted_printable(delivered) == data


@given(QP_BYTES)
def test_the_encoder_writes_escapes_in_uppercase_hex(data: bytes) -> None:
    # RFC 2045 6.7 rule 1: "Uppercase letters must be used"; an '=' is otherwise a soft break.
    encoded = transfer.encode_quoted_printable(data + b"\xab\xcd\xef")
    assert re.fullmatch(rb"(?:[^=]|=[0-9A-F]{2}|=\r\n)*", encoded)


@pytest.mark.parametrize(
    ("data", "encoded"),
    [
        # Rule 3: a blank may not end a line, so the last one is escaped.
        (b"tab\t\r\nspace \r\n", b"tab=09\r\nspace=20\r\n"),
        (b"mid\tline text\r\n", b"mid\tline text\r\n"),
        # mbox writers mangle "From " at the start of a line, and SMTP a leading '.': the
        # first character of such a line is escaped, so the text arrives as it was sent.
        (b"From me\r\n.\r\n..x\r\n", b"=46rom me\r\n=2E\r\n=2E.x\r\n"),
        (b"Sent From me. From x\r\n", b"Sent From me. From x\r\n"),
        (b"From: a header-like line\r\n", b"From: a header-like line\r\n"),
    ],
)
def test_the_encoder_escapes_what_transport_would_change(data: bytes, encoded: bytes) -> None:
    assert transfer.encode_quoted_printable(data) == encoded
    assert transfer.decode_quoted_printable(encoded) == data


def test_quoted_printable_lines_are_filled_to_76_characters() -> None:
    # RFC 2045 6.7 rule 5: 76 characters a line at most, the '=' of a soft break included;
    # the encoder breaks only where the next unit would not fit.
    lines = transfer.encode_quoted_printable(b"a" * 200 + b"\r\n").split(b"\r\n")
    assert [len(line) for line in lines] == [76, 76, 50, 0]
    escaped = transfer.encode_quoted_printable(b"\xff" * 30 + b"\r\n").split(b"\r\n")
    assert [len(line) for line in escaped] == [76, 15, 0]  # 25 escapes of 3, then the "="


@pytest.mark.parametrize(
    ("delivered", "decoded"),
    [
        (b"plain\nlines\n", b"plain\r\nlines\r\n"),  # a bare LF is a line break: CRLF
        (b"one \ntwo\t\nthree", b"one\r\ntwo\r\nthree"),
        (b"space \nonly", b"space\r\nonly"),
        (b"tab\t\nonly", b"tab\r\nonly"),
        (b"one \r\ntwo\t\r\nthree", b"one\r\ntwo\r\nthree"),
        (b"tab\t\r\nonly", b"tab\r\nonly"),
        (b"space \r\nonly", b"space\r\nonly"),
        (b"last line ", b"last line"),
        (b"last line\t", b"last line"),
        (b"UNIX \t", b"UNIX"),  # only the blanks go, not the letters before them
        (b"  indented and padded  ", b"  indented and padded"),
        (b"a=3D \t", b"a="),
        (b"soft=  \nbreak", b"softbreak"),
    ],
)
def test_the_decoder_removes_blanks_only_where_a_line_ends(
    delivered: bytes, decoded: bytes
) -> None:
    assert transfer.decode_quoted_printable(delivered) == decoded


@pytest.mark.parametrize(
    ("delivered", "offset"),
    [
        (b"100=%\r\n", 3),
        (b"padded  \r\n=zz", 10),  # padding before the '=' does not move it
        (b"a=\tb", 1),
    ],
)
def test_an_invalid_escape_is_reported_where_its_equals_sign_is(
    delivered: bytes, offset: int
) -> None:
    defects: list[Defect] = []
    transfer.decode_quoted_printable(delivered, defects)
    assert [(d.kind, d.offset) for d in defects] == [("invalid-qp-escape", offset)]
    assert delivered[offset : offset + 1] == b"="
    # The reason leads with the character at fault.
    assert defects[0].detail.startswith("'=' not followed by hex")


def test_an_invalid_escape_is_kept_without_a_defect_list_too() -> None:
    assert transfer.decode_quoted_printable(b"100=%\r\n") == b"100=%\r\n"


@given(QP_BYTES)
def test_what_the_encoder_writes_reads_without_a_defect(data: bytes) -> None:
    defects: list[Defect] = []
    encoded = transfer.encode(data, "quoted-printable")
    assert transfer.decode(encoded, "quoted-printable", defects) == data
    assert defects == []


def test_base64_is_written_in_full_lines_of_76_characters() -> None:
    # RFC 2045 6.8 allows up to 76 characters a line; the encoder fills each one.
    lines = transfer.encode_base64(bytes(range(256)) * 3).split(b"\r\n")
    assert lines[-1] == b""
    assert {len(line) for line in lines[:-2]} == {76}
    assert 0 < len(lines[-2]) <= 76


@pytest.mark.parametrize(
    ("encoded", "decoded", "stray"),
    [
        (b"aGVsbG8", b"hello", 3),  # one pad missing
        (b"aGk", b"hi", 3),
        (b"aA", b"h", 2),  # two pads missing
        (b"aGVsbG8gd29ybGQ", b"hello world", 3),
        (b"aGVs\r\nbG8", b"hello", 3),  # line breaks are not counted
        (b"aGVsb", b"hel", 1),  # one character cannot hold a byte: dropped
    ],
)
def test_base64_with_missing_padding_keeps_every_whole_byte_and_counts_the_rest(
    encoded: bytes, decoded: bytes, stray: int
) -> None:
    defects: list[Defect] = []
    assert transfer.decode_base64(encoded, defects) == decoded
    assert transfer.decode_base64(encoded) == decoded
    assert [(d.kind, d.offset) for d in defects] == [("invalid-base64", 0)]
    # The reason leads with how many characters were left over after the last whole quantum.
    assert defects[0].detail.split()[0] == str(stray)


def test_valid_base64_reads_without_a_defect() -> None:
    defects: list[Defect] = []
    assert transfer.decode(b"aGVsbG8=\r\n", "base64", defects) == b"hello"
    assert defects == []


@pytest.mark.parametrize("encoding", ["7bit", "8bit", "binary"])
def test_identity_encodings_read_without_a_defect(encoding: str) -> None:
    defects: list[Defect] = []
    assert transfer.decode(b"caf\xc3\xa9=3D\r\n", encoding, defects) == b"caf\xc3\xa9=3D\r\n"
    assert transfer.encode(b"caf\xc3\xa9=3D\r\n", encoding) == b"caf\xc3\xa9=3D\r\n"
    assert defects == []


def test_an_unknown_encoding_is_an_identity_with_a_defect_that_names_it() -> None:
    # RFC 2045 6.4: an unrecognised Content-Transfer-Encoding is treated as opaque data.
    defects: list[Defect] = []
    assert transfer.decode(b"x-uuencode body", "x-uuencode", defects) == b"x-uuencode body"
    assert transfer.decode(b"x-uuencode body", "x-uuencode") == b"x-uuencode body"
    assert [(d.kind, d.offset, d.detail) for d in defects] == [
        ("unknown-transfer-encoding", 0, "x-uuencode")
    ]


def test_decode_passes_its_defect_list_to_the_decoder() -> None:
    defects: list[Defect] = []
    transfer.decode(b"aGk", "base64", defects)
    transfer.decode(b"=zz", "quoted-printable", defects)
    assert [d.kind for d in defects] == ["invalid-base64", "invalid-qp-escape"]


@pytest.mark.parametrize(
    ("data", "eight_bit", "safe"),
    [
        (b"x" * transfer.MAX_LINE + b"\r\n" + b"y" * transfer.MAX_LINE, False, True),
        (b"x" * (transfer.MAX_LINE + 1), True, False),
        (b"bare\rcr", True, False),
        (b"bare\nlf", True, False),
        (b"cr lf\r\n", False, True),
        (b"nul\0", True, False),
        (b"caf\xc3\xa9", False, False),
        (b"caf\xc3\xa9", True, True),
    ],
)
def test_line_safety_follows_rfc_2045_section_2(data: bytes, eight_bit: bool, safe: bool) -> None:
    # 2.7/2.8: lines of at most 998 octets between CRLFs, no NUL, no bare CR or LF, and
    # 7bit only for US-ASCII.
    assert transfer.is_line_safe(data, eight_bit=eight_bit) is safe


@pytest.mark.parametrize(
    ("data", "text", "expected"),
    [
        (b"x" * 998 + b"\r\n", True, "7bit"),
        (b"x" * 998 + b"\r\n", False, "7bit"),
        ("caf\u00e9\r\n".encode(), False, "base64"),  # 8bit is for text only
        # The tilde is plain ASCII that quoted-printable writes as itself.
        (b"~" * 600 + b"\r", True, "quoted-printable"),
        # DEL is written =7F like an 8-bit byte: text made of it is lighter in base64.
        (b"\x7f" * 600 + b"\r", True, "base64"),
    ],
)
def test_choose_picks_the_lightest_valid_encoding(data: bytes, text: bool, expected: str) -> None:
    assert transfer.choose(data, text=text) == expected


@pytest.mark.parametrize(
    ("escaped", "plain", "expected"),
    [
        # Each escaped byte costs three characters: with one in seven, quoted-printable is
        # 9/7 of the data and base64's 4/3 is heavier.
        (100, 600, "quoted-printable"),
        # One in six: both are 4/3 of the data; base64 is chosen, as it survives any transport.
        (100, 500, "base64"),
    ],
)
def test_quoted_printable_is_chosen_only_when_lighter_than_base64(
    escaped: int, plain: int, expected: str
) -> None:
    data = b"\xe9" * escaped + b"a" * (plain - 1) + b"\r"  # the bare CR rules out 7bit and 8bit
    assert transfer.choose(data, text=True) == expected
