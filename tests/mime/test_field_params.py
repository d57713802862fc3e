"""Content-Type, Content-Disposition, Content-Transfer-Encoding: RFC 2045/2183/2231."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.params import (
    ContentDisposition,
    ContentType,
    Params,
    decode_content_disposition,
    decode_content_type,
    decode_transfer_encoding,
    encode_content_disposition,
    encode_content_type,
    encode_transfer_encoding,
)

TOKEN_CHARS = "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz{|}~"
ATTRIBUTE_CHARS = TOKEN_CHARS.replace("*", "").replace("'", "").replace("%", "")

tokens = st.text(st.sampled_from(TOKEN_CHARS), min_size=1, max_size=15)
param_names = st.text(st.sampled_from(ATTRIBUTE_CHARS.lower()), min_size=1, max_size=12)
escaped_byte = st.integers(0x80, 0xFF).map(lambda byte: chr(0xDC00 + byte))
param_values = st.one_of(
    tokens,
    st.text(st.characters(codec="utf-8"), max_size=150),
    st.text(st.one_of(st.characters(codec="ascii"), escaped_byte)),
    st.sampled_from(['a "quoted" \\ value', "x" * 61, "€" * 30, "", " "]),
)
params: st.SearchStrategy[Params] = st.dictionaries(param_names, param_values, max_size=4).map(
    lambda found: tuple(found.items())
)
content_types = st.builds(ContentType, tokens, tokens, params)
dispositions = st.builds(ContentDisposition, tokens, params)


def as_field(encoded: str) -> str:
    return " " + encoded


@given(content_types)
def test_content_type_round_trips(value: ContentType) -> None:
    encoded = encode_content_type(value)
    assert decode_content_type(as_field(encoded)) == value
    assert encode_content_type(decode_content_type(encoded)) == encoded


@given(dispositions)
def test_content_disposition_round_trips(value: ContentDisposition) -> None:
    encoded = encode_content_disposition(value)
    assert decode_content_disposition(as_field(encoded)) == value


@given(content_types)
def test_encoded_parameters_are_ascii_and_foldable(value: ContentType) -> None:
    encoded = encode_content_type(value)
    assert encoded.isascii()
    assert "\r" not in encoded
    assert "\n" not in encoded
    for piece in encoded.split("; ")[1:]:
        if "*" in piece.split("=", 1)[0]:
            assert len(piece) <= 76


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RFC 2045 §5.1: these two are equivalent; comments are CFWS.
        (
            'text/plain; charset="us-ascii"',
            ContentType("text", "plain", (("charset", "us-ascii"),)),
        ),
        (
            "text/plain; charset=us-ascii (Plain text)",
            ContentType("text", "plain", (("charset", "us-ascii"),)),
        ),
        ("TEXT/Plain; CHARSET=UTF-8", ContentType("text", "plain", (("charset", "UTF-8"),))),
        # RFC 2231 §3: continuations
        (
            'message/external-body; access-type=URL; URL*0="ftp://";'
            'URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"',
            ContentType(
                "message",
                "external-body",
                (
                    ("access-type", "URL"),
                    ("url", "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"),
                ),
            ),
        ),
        # RFC 2231 §4: charset and language
        (
            "application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
            ContentType("application", "x-stuff", (("title", "This is ***fun***"),)),
        ),
        # RFC 2231 §4.1: both together, plain and encoded sections mixed
        (
            "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20;"
            ' title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn\'t it!"',
            ContentType(
                "application", "x-stuff", (("title", "This is even more ***fun*** isn't it!"),)
            ),
        ),
        ("text/plain; name*=utf-8'en'%E2%82%AC", ContentType("text", "plain", (("name", "€"),))),
        # Folding white space inside a quoted-string is part of the value after unfolding.
        ('text/plain; name="a  \tb"', ContentType("text", "plain", (("name", "a  \tb"),))),
        ('text/plain; name="a\\\\b\\"c"', ContentType("text", "plain", (("name", 'a\\b"c'),))),
        # Unknown types are fine (mrmime users hit an assertion on binary/octet-stream).
        ("binary/octet-stream", ContentType("binary", "octet-stream")),
    ],
)
def test_rfc_examples_decode(text: str, expected: ContentType) -> None:
    assert decode_content_type(text) == expected


def test_language_tag_is_dropped() -> None:
    value = decode_content_type("text/plain; name*=us-ascii'en'abc")
    assert value.params == (("name", "abc"),)


def test_backslash_in_a_parameter_value_is_escaped_on_output() -> None:
    value = ContentType("text", "plain", (("name", "C:\\dir\\x.txt"),))
    assert encode_content_type(value) == 'text/plain; name="C:\\\\dir\\\\x.txt"'
    assert decode_content_type(encode_content_type(value)) == value


def test_long_and_non_ascii_values_use_rfc_2231_sections() -> None:
    encoded = encode_content_disposition(
        ContentDisposition("attachment", (("filename", "Résumé " * 20),))
    )
    assert "filename*0*=utf-8''R%C3%A9sum%C3%A9" in encoded
    for piece in encoded.split("; ")[1:]:
        assert len(piece) <= 76
        # A percent-escape is never cut: every '%' starts a whole escape.
        value = piece.split("=", 1)[1]
        assert all(len(chunk) >= 2 for chunk in value.split("%")[1:])


def test_short_non_ascii_value_is_one_extended_parameter() -> None:
    value = ContentType("text", "plain", (("name", "€"),))
    assert encode_content_type(value) == "text/plain; name*=utf-8''%E2%82%AC"


def test_accessors() -> None:
    value = decode_content_type('multipart/mixed; boundary="AbC"; charset=UTF-8')
    assert value.mime_type == "multipart/mixed"
    assert value.boundary == "AbC"
    assert value.charset == "utf-8"
    assert value.param("BOUNDARY") == "AbC"
    assert value.param("nope") is None
    disposition = decode_content_disposition('Attachment; FileName="a.pdf"')
    assert disposition.kind == "attachment"
    assert disposition.filename == "a.pdf"


def test_hand_built_values_compare_case_insensitively() -> None:
    assert ContentType("Text", "PLAIN", (("Charset", "x"),)) == decode_content_type(
        "text/plain; charset=x"
    )


@pytest.mark.parametrize(
    ("text", "params", "kinds"),
    [
        ("text/plain; a=1; a=2", (("a", "1"),), ["duplicate-parameter"]),
        ("text/plain; n*1=b; n*0=a", (("n", "ab"),), []),
        ("text/plain; n*1=b", (("n", "b"),), ["missing-parameter-section"]),
        ("text/plain; n*0=a; n*2=c", (("n", "ac"),), ["missing-parameter-section"]),
        ("text/plain; name*", (), ["invalid-parameter"]),
        (
            "text/plain; name*=",
            (("name", ""),),
            ["missing-parameter-value", "invalid-rfc2231-value"],
        ),
        ("text/plain;;;; a=b", (("a", "b"),), ["empty-parameter"]),
        ("text/plain; a=b;", (("a", "b"),), ["empty-parameter"]),
        ("text/plain charset=x", (("charset", "x"),), ["missing-semicolon"]),
        (
            "text/plain; name=My File.pdf; x=y",
            (("name", "My File.pdf"), ("x", "y")),
            ["unquoted-parameter-value"],
        ),
        ("text/plain; n*=x-nope''%41", (("n", "A"),), ["unknown-charset"]),
        ("text/plain; n*=utf-8''%FF", (("n", "\ufffd"),), ["invalid-parameter-bytes"]),
        ("text/plain; n*=utf-8''%G1", (("n", "%G1"),), ["invalid-percent-escape"]),
        ("text/plain; n*=\"utf-8''a\"", (("n", "a"),), ["quoted-extended-value"]),
        (
            'text/plain; name="unterminated',
            (("name", "unterminated"),),
            ["unterminated-quoted-string"],
        ),
    ],
)
def test_bad_parameters_are_repaired_and_reported(
    text: str, params: Params, kinds: list[str]
) -> None:
    defects: list[Defect] = []
    assert decode_content_type(text, defects).params == params
    assert sorted({defect.kind for defect in defects}) == sorted(set(kinds))
    if kinds:
        with pytest.raises(ParseError):
            decode_content_type(text)


def test_plain_and_rfc_2231_forms_of_one_parameter_prefer_rfc_2231() -> None:
    defects: list[Defect] = []
    value = decode_content_type("text/plain; filename=\"a\"; filename*=utf-8''%C3%A9", defects)
    assert value.params == (("filename", "é"),)
    assert defects == []


@pytest.mark.parametrize("text", ["", "text", "text/", "/plain", "; charset=x", "(only a comment)"])
def test_value_without_type_and_subtype_is_a_parse_error_in_both_modes(text: str) -> None:
    with pytest.raises(ParseError):
        decode_content_type(text, [])


def test_escaped_bytes_in_a_parameter_round_trip_through_unknown_8bit() -> None:
    value = ContentType("text", "plain", (("name", "caf\udce9.txt"),))
    encoded = encode_content_type(value)
    assert "unknown-8bit''" in encoded
    assert decode_content_type(encoded) == value


@pytest.mark.parametrize(
    "value",
    [
        ContentType("text", "plain", (("a", "1"), ("A", "2"))),
        ContentType("te xt", "plain"),
        ContentType("text", "plain", (("na*me", "x"),)),
        ContentType("text", "plain", (("name", "é\udce9"),)),
    ],
)
def test_unwritable_values_are_refused(value: ContentType) -> None:
    with pytest.raises(EncodeError):
        encode_content_type(value)


def test_transfer_encoding_is_a_lowercased_token() -> None:
    assert decode_transfer_encoding(" Quoted-Printable (comment)") == "quoted-printable"
    assert decode_transfer_encoding("x-uuencode") == "x-uuencode"
    assert encode_transfer_encoding("BASE64") == "base64"
    defects: list[Defect] = []
    assert decode_transfer_encoding("7bit 8bit", defects) == "7bit"
    assert defects[0].kind == "trailing-garbage"
    with pytest.raises(ParseError):
        decode_transfer_encoding("")
    with pytest.raises(EncodeError):
        encode_transfer_encoding("not a token")


def test_token_then_quoted_parameter_decodes() -> None:
    # A first fast path hit a CPython 3.11 re bug here (SystemError: capturing group inside
    # a possessive repeat); 108 SpamAssassin messages have this shape.
    assert decode_content_type(' text/plain; format=flowed; charset="iso-8859-1"').params == (
        ("format", "flowed"),
        ("charset", "iso-8859-1"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "text/plain; a=b; a=c",
        "text/plain; a=b;",
        'text/plain; a="x\\"y"',
        "text/plain; a*=utf-8''x",
        "text/plain; a=b (comment)",
    ],
)
def test_fast_and_general_paths_agree(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from stack.mime.fields import params

    fast = params.decode_content_type(text, [])
    monkeypatch.setattr(params, "_fast_params", lambda text, pos: None)
    assert params.decode_content_type(text, []) == fast


@pytest.mark.parametrize(
    "text",
    [
        "applicätion/pdf",  # RFC 6532 widens atext, not MIME tokens
        "text/plain; a%b=c",  # not an RFC 2231 attribute
        "text/plain; n'x=c",
        'text/plain; name="a\x06b"',  # obs-qtext
    ],
)
def test_strict_mode_refuses_what_the_encoder_could_not_write(text: str) -> None:
    with pytest.raises(ParseError):
        decode_content_type(text)


# Outlook writes non-ASCII file names as an RFC 2047 encoded-word inside a quoted value, which
# RFC 2047 section 5 forbids; Thunderbird, Apple Mail, CPython's email, mailparse (Rust) and
# postal-mime (JavaScript) all decode it, so lenient mode does too, and says so.
@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        (
            'application/octet-stream; name="=?iso-8859-1?Q?HasenundFr=F6sche=2Etxt?="',
            "name",
            "HasenundFrösche.txt",
        ),
        (
            'attachment; filename="=?utf-8?B?w4TDpHBmZWw=?= =?utf-8?Q?=2Epdf?="',
            "filename",
            "Ääpfel.pdf",
        ),
        (
            'attachment; filename="Report =?utf-8?Q?f=C3=BCr?= May.txt"',
            "filename",
            "Report für May.txt",
        ),
        # SpamAssassin hard_ham/00039, as CPython's policy.default reads it.
        (
            'attachment; filename="=?iso-2022-jp?B?GyRCJV4lJCVrJTklSCE8JXNJPTwoGyhCLmJtcA==?="',
            "filename",
            "マイルストーン表示.bmp",
        ),
        # The fast path reads these quoted values too; a later parameter is unaffected.
        ('inline; filename="=?utf-8?q?=C3=A9t=C3=A9?="; size=3', "filename", "été"),
    ],
)
def test_encoded_word_in_a_quoted_value_is_decoded_leniently(
    text: str, name: str, expected: str
) -> None:
    disposition = text.startswith(("attachment", "inline"))
    defects: list[Defect] = []
    if disposition:
        value: ContentType | ContentDisposition = decode_content_disposition(text, defects)
    else:
        value = decode_content_type(text, defects)
    assert value.param(name) == expected
    assert [defect.kind for defect in defects] == ["encoded-word-in-parameter"]
    assert defects[0].offset == text.index(f"{name}=")
    with pytest.raises(ParseError, match="RFC 2047"):
        (decode_content_disposition if disposition else decode_content_type)(text)


def test_a_decoded_parameter_round_trips_through_rfc_2231() -> None:
    value = decode_content_type(
        'application/octet-stream; name="=?iso-8859-1?Q?HasenundFr=F6sche=2Etxt?="', []
    )
    encoded = encode_content_type(value)
    assert "name*=utf-8''HasenundFr%C3%B6sche.txt" in encoded
    assert decode_content_type(encoded) == value


def test_a_value_that_reads_as_an_encoded_word_is_written_in_rfc_2231_form() -> None:
    # Written quoted, it would decode (leniently) to "x": not the value that was written.
    value = ContentType("text", "plain", (("name", "=?utf-8?q?x?="),))
    encoded = encode_content_type(value)
    assert '"' not in encoded
    assert decode_content_type(encoded) == value


@pytest.mark.parametrize(
    "text",
    [
        'text/plain; name="a=?b.txt"',  # no encoded-word, just the two characters
        "text/plain; name*=utf-8''%3D%3Futf-8%3Fq%3Fx%3F%3D",  # RFC 2231 values are literal
    ],
)
def test_values_that_are_not_encoded_words_are_kept(text: str) -> None:
    defects: list[Defect] = []
    value = decode_content_type(text, defects)
    assert defects == []
    assert value.param("name") in ("a=?b.txt", "=?utf-8?q?x?=")
