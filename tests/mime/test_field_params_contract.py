"""The parameter codecs' contract, point by point: where each defect and error points and
what it says, how RFC 2231 sections are joined, and when the encoder leaves a value plain.

Written for issue 18 from the mutants of stack/mime/fields/params.py that no test noticed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from field_reasons import check_defect, states
from hypothesis import given

from harness.strategies import content_disposition_wire, content_type_wire
from stack.mime.errors import Defect, EncodeError, ParseError
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

Decoder = Callable[[str, list[Defect] | None], object]


@given(content_type_wire())
def test_every_wire_form_of_a_content_type_reads_as_its_value(
    wire: tuple[str, ContentType],
) -> None:
    text, value = wire
    assert decode_content_type(text, []) == value


@given(content_disposition_wire())
def test_every_wire_form_of_a_disposition_reads_as_its_value(
    wire: tuple[str, ContentDisposition],
) -> None:
    text, value = wire
    assert decode_content_disposition(text, []) == value


# (text after "text/plain", kind, the text the defect is about, a phrase of its detail)
DEFECTS = [
    ("; n'x=1", "invalid-parameter-name", "n'x", 'bad parameter name "n\'x"'),
    ("; n%x=1", "invalid-parameter-name", "n%x", "bad parameter name 'n%x'"),
    ("; n*01=a", "invalid-parameter-section", "n*01", "has zeros"),
    ('; n*="a"', "quoted-extended-value", '"a"', "RFC 2231 values are never quoted"),
    ("; n= ", "missing-parameter-value", 16, "'n' is empty"),
    ("; n=My File; m=2", "unquoted-parameter-value", " File", "needs quotes"),
    ("; n*=abc", "invalid-rfc2231-value", "n*=", "charset'language'"),
    ("; n*=utf-8''%4", "invalid-percent-escape", "n*=", "two hex digits"),
    ("; n*=x-nope''a", "unknown-charset", "n*=", "unknown charset 'x-nope'"),
    ("; n*=utf-8''%FF", "invalid-parameter-bytes", "n*=", "invalid for 'utf-8'"),
    ("; n*0=a; n*0=b", "duplicate-parameter", "n*0=b", "n*0 again"),
    ("; n*0=b; n*0=a", "duplicate-parameter", "n*0=a", "n*0 again"),
    ("; n*0*=utf-8''a; n*1*=%4", "invalid-percent-escape", "n*1*", "two hex digits"),
    # Sections without a charset are UTF-8, and the defect says so (it said 'None').
    ("; n*0=a; n*1*=%FF", "invalid-parameter-bytes", "n*0", "invalid for 'utf-8'"),
    ("; n*1=a", "missing-parameter-section", "n*1", "n*0 missing"),
    ("; n*0=a; n*2=b", "missing-parameter-section", "n*0", "gap"),
    ("; n=a; m=1; n=b", "duplicate-parameter", "n=b", "n again"),
    ("; n*=utf-8''a; n*=utf-8''b", "duplicate-parameter", "n*=utf-8''b", "n again"),
    ("; n*=utf-8''a; n*0=b", "duplicate-parameter", "n*0", "n again"),
    ('; n="=?utf-8?q?a?="', "encoded-word-in-parameter", "n=", "RFC 2047 §5"),
    # A defect of an encoded-word points at the word in the field, wherever it stands in the
    # value: after other words, after quoted-pairs, after the closing quote.
    ('; n="=?x-nope?q?a?="', "unknown-charset", "=?x-nope", "unknown charset 'x-nope'"),
    ('; n="x =?x-nope?q?a?= y"', "unknown-charset", "=?x-nope", "unknown charset 'x-nope'"),
    ('; n="x =?utf-8?q?a=4?="', "invalid-q-escape", "=?utf-8", "two hex digits"),
    ('; n="\\"x\\" =?x-nope?q?a?="', "unknown-charset", "=?x-nope", "unknown charset"),
    ('; n="a\\\\b" c =?x-nope?q?a?=', "unknown-charset", "=?x-nope", "unknown charset"),
    ('; n="x =?x-nope?q?a?=" y', "unknown-charset", "=?x-nope", "unknown charset"),
    ('; n="a" =?x-nope?q?a?= \\b', "unknown-charset", "=?x-nope", "unknown charset"),
    ("; n=a b =?x-nope?q?a?=; m=1", "unknown-charset", "=?x-nope", "unknown charset"),
    # obs-qp (RFC 5322 §4.1) quotes any character, a line feed too.
    ('; n="\\\n =?x-nope?q?a?="', "unknown-charset", "=?x-nope", "unknown charset"),
    ("a=1", "missing-semicolon", "a=1", "separated by ';'"),
    ("; a=1;  ; b=2", "empty-parameter", "; b", "empty parameter"),
    ("; a=1;", "empty-parameter", 17, "empty parameter"),
    ("; =1; b=2", "invalid-parameter", "=1", "expected a parameter name, found '='"),
    ("; a; b=2", "invalid-parameter", "; b", "has no '=' and no value"),
    ("; a=\udcff", "invalid-utf8", "\udcff", "not UTF-8"),
    # A comment keeps its defect wherever CFWS may stand in a parameter.
    ("; n (\x01)=a", "obs-ctext", "\x01", "control character"),
    ("; n= (\x01)a", "obs-ctext", "\x01", "control character"),
    ("; n=a (\x01)", "obs-ctext", "\x01", "control character"),
    ("(\x01); n=a", "obs-ctext", "\x01", "control character"),
    ("; (\x01)n=a", "obs-ctext", "\x01", "control character"),
]


@pytest.mark.parametrize(("params", "kind", "at", "says"), DEFECTS)
def test_a_defect_points_at_its_text_and_says_what_is_wrong(
    params: str, kind: str, at: str | int, says: str
) -> None:
    check_defect(decode_content_type, "text/plain " + params, kind, at, says)


@pytest.mark.parametrize(
    ("decode", "text", "at", "says"),
    [
        (decode_content_type, "", 0, "expected a media type, found the end"),
        (decode_content_type, " /plain", 1, "expected a media type, found '/'"),
        (decode_content_type, "text plain", 5, "expected '/' between type and subtype"),
        (decode_content_type, "text/ ", 6, "expected a media subtype, found the end"),
        (decode_content_type, "text/;", 5, "expected a media subtype, found ';'"),
        (decode_content_disposition, " ;x=y", 1, "expected a disposition type"),
        (decode_transfer_encoding, "(c)", 3, "expected a transfer encoding"),
    ],
)
def test_a_value_without_its_type_says_where_and_why_in_both_modes(
    decode: Decoder, text: str, at: int, says: str
) -> None:
    for defects in (None, []):
        with pytest.raises(ParseError) as error:
            decode(text, defects)
        assert error.value.offset == at
        assert states(error.value.reason, says), error.value


def test_trailing_text_after_a_transfer_encoding_is_named() -> None:
    defects: list[Defect] = []
    assert decode_transfer_encoding(" base64 (b) x", defects) == "base64"
    assert [(d.kind, d.offset) for d in defects] == [("trailing-garbage", 12)]
    assert states(defects[0].detail, "unexpected 'x' after the encoding")


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("; n*0*=utf-8''%C3; n*1*=%A9; n*2=x", (("n", "éx"),)),
        ("; n*2=c; n*0=a; n*1=b", (("n", "abc"),)),
        # A repeated section keeps the first one, as any repeated parameter does.
        ("; n*0=b; n*0=a; n*1=c", (("n", "bc"),)),
        ("; n*0*=iso-8859-1'en'%E9; n*1*=%E9", (("n", "éé"),)),
        ("; n*0=%41; n*1*=%42", (("n", "%41B"),)),
        ("; n*=''%41", (("n", "A"),)),
        # An unknown charset reads as UTF-8, undecodable bytes kept as surrogates.
        ("; n*=x-nope''%C3%A9%FF", (("n", "é\udcff"),)),
        # Only the first two apostrophes end the charset and the language.
        ("; n*=utf-8''it's", (("n", "it's"),)),
        ("; n*=utf-8'de'%C3%A9%20x", (("n", "é x"),)),
        ("; N*0=a; n*1=b; M=1", (("n", "ab"), ("m", "1"))),
        ("; n=plain; n*=utf-8''%C3%A9", (("n", "é"),)),
        ("; n=plain; n*0*=utf-8''%C3; n*1*=%A9", (("n", "é"),)),
        ('; n="=?utf-8?q?=C3=A9?= x"', (("n", "é x"),)),
        # Quoted white space is text (RFC 5322 §3.2.4), before and after an encoded-word too.
        ('; n="=?utf-8?q?=C3=A9?= x "', (("n", "é x "),)),
        ('; n=" =?utf-8?q?a?=\t"', (("n", " a\t"),)),
        ('; n="a \\"b\\" c"; m=x', (("n", 'a "b" c'), ("m", "x"))),
        ("; n = a (c) ; m=b", (("n", "a"), ("m", "b"))),
        # A bad name is kept as written, and its value read plainly.
        ("; n'x=%41", (("n'x", "%41"),)),
        # An unquoted value with specials runs to the next ';', less its trailing WSP.
        ("; n=My File X \t; m=2", (("n", "My File X"), ("m", "2"))),
        ("; n=a b\u00a0; m=2", (("n", "a b\u00a0"), ("m", "2"))),
        # An unreadable parameter costs only itself (a quoted name is skipped whole).
        ('; "a;b"=1; c=2', (("c", "2"),)),
        ("; =; b=2", (("b", "2"),)),
        ("; =X=1; b=2", (("b", "2"),)),
        ("; a=1; ; X=2", (("a", "1"), ("x", "2"))),
    ],
)
def test_parameters_are_read_as_rfc_2045_and_2231_write_them(text: str, params: Params) -> None:
    assert decode_content_type("text/plain" + text, []).params == params
    assert decode_params("x" + text, 1, []) == params


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ((("", "x"),), "parameter name ''"),
        ((("na me", "x"),), "not an RFC 2231 attribute"),
        ((("n", "x"), ("n", "y")), "repeated parameter names"),
        ((("n", "é\udce9"),), "undecodable bytes with non-ASCII text"),
        ((("n", "\ud800"),), "not text"),
    ],
)
def test_the_encoder_says_why_it_refuses_parameters(params: Params, says: str) -> None:
    with pytest.raises(EncodeError) as error:
        encode_params(params)
    assert states(str(error.value), says), error.value


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (ContentType("té", "plain"), "media type 'té'"),
        (ContentType("text", "pl ain"), "media subtype 'pl ain'"),
    ],
)
def test_the_encoder_names_a_type_that_is_no_token(value: ContentType, says: str) -> None:
    with pytest.raises(EncodeError, match=says):
        encode_content_type(value)


def test_the_encoder_names_a_disposition_or_encoding_that_is_no_token() -> None:
    with pytest.raises(EncodeError, match="disposition type 'in line'"):
        encode_content_disposition(ContentDisposition("in line"))
    with pytest.raises(EncodeError, match="transfer encoding 'quoted printable'"):
        encode_transfer_encoding("Quoted Printable")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("x" * 60, "; n=" + "x" * 60),
        ("a b" + "x" * 57, '; n="a b' + "x" * 57 + '"'),
        ("a\tb", "; n*=utf-8''a%09b"),
        ("=?x?q?y?=", "; n*=utf-8''%3D%3Fx%3Fq%3Fy%3F%3D"),
        ("é", "; n*=utf-8''%C3%A9"),
        ("", '; n=""'),
    ],
)
def test_a_value_is_plain_when_short_printable_ascii_and_not_encoded_word_like(
    value: str, written: str
) -> None:
    assert encode_params((("n", value),)) == written
    assert decode_params("x" + written, 1) == (("n", value),)


def test_a_long_value_is_cut_into_sections_that_fold_and_never_split_an_escape() -> None:
    for value in ("x" * 61, "é" * 40, "x" * 200, "a%é" * 30):
        written = encode_params((("name", value),))
        pieces = written.split("; ")[1:]
        assert len(pieces) > 1
        for index, piece in enumerate(pieces):
            name, section = piece.split("=", 1)
            assert name == f"name*{index}*"
            # RFC 2231 sections short enough to fold within the 78-character line
            assert len(section) <= 60
            assert "%" not in section[-2:]
        assert decode_params("x" + written, 1) == (("name", value),)


def test_type_names_are_lowercased_but_boundaries_are_kept_as_written() -> None:
    value = decode_content_type('Multipart/MIXED; Boundary="AbC"; CHARSET=UTF-8')
    assert (value.mime_type, value.boundary, value.charset) == ("multipart/mixed", "AbC", "utf-8")
    assert value.param("boundary") == "AbC"
    assert value.param("nothing") is None
    assert ContentType("text", "plain").charset is None
    disposition = decode_content_disposition('ATTACHMENT; FileName="A.txt"')
    assert (disposition.kind, disposition.filename) == ("attachment", "A.txt")
    assert disposition.param("FILENAME") == "A.txt"


def test_undecodable_bytes_in_parameters_are_a_defect_and_kept() -> None:
    defects: list[Defect] = []
    assert decode_params('text/plain; a="b\udcff"', 10, defects) == (("a", "b\udcff"),)
    assert [defect.kind for defect in defects] == ["invalid-utf8"]


@pytest.mark.parametrize(
    ("params", "kinds"),
    [
        ("; n*0*=utf-8''a; n*1=\"\udcff\"", ["invalid-parameter-bytes"]),
        ("; n*=utf-8''a\udcff", ["unquoted-parameter-value", "invalid-parameter-bytes"]),
    ],
)
def test_undecodable_bytes_in_an_rfc_2231_value_read_as_a_replacement_with_a_defect(
    params: str, kinds: list[str]
) -> None:
    defects: list[Defect] = []
    assert decode_params("x" + params, 1, defects) == (("n", "a\ufffd"),)
    assert [defect.kind for defect in defects] == ["invalid-utf8", *kinds]


@pytest.mark.parametrize(
    ("decode", "text"),
    [
        (decode_content_type, "(\x01) text/plain"),
        (decode_content_type, "text (\x01)/plain"),
        (decode_content_type, "text/ (\x01)plain"),
        (decode_content_disposition, "(\x01) inline"),
        (decode_transfer_encoding, "(\x01) base64"),
        (decode_transfer_encoding, "base64 (\x01)"),
    ],
)
def test_a_comment_around_a_type_disposition_or_encoding_keeps_its_defect(
    decode: Decoder, text: str
) -> None:
    check_defect(decode, text, "obs-ctext", "\x01", "control character")


@pytest.mark.parametrize(
    ("text", "pos"),
    [("; a=1; b=2", 5), ('; a="; b=c"', 5), ("text/plain; b=2", 10)],
)
def test_what_comes_before_the_parameters_does_not_change_them(text: str, pos: int) -> None:
    defects: list[Defect] = []
    assert decode_params(text, pos, defects) == decode_params(text[pos:], 0, [])
