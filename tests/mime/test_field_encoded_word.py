"""RFC 2047 encoded-words in unstructured text and phrases: examples and round trips."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.encoded_word import (
    decode_encoded_words,
    decode_unstructured,
    encode_phrase,
    encode_unstructured,
)

# Text as it reaches the codec: any Unicode scalar value, plus the lone surrogates that
# surrogateescape makes of undeclared 8-bit bytes.
escaped_bytes = st.integers(0x80, 0xFF).map(lambda byte: chr(0xDC00 + byte))
field_text = st.lists(
    st.one_of(
        st.characters(codec="utf-8"), escaped_bytes, st.sampled_from([" ", "  ", "\t", "=?", "?="])
    )
).map("".join)
ENCODED_WORD_SHAPE = re.compile(r"=\?[^?]+\?[qb]\?[^?]*\?=")


def as_field(encoded: str) -> str:
    """The value the lead's parser hands back after ``Subject: `` and unfolding."""
    return " " + encoded


@given(field_text)
@example("=?utf-8?q?a?=")
@example(" leading and trailing ")
@example("a\r\nBcc: victim@example.org")
def test_unstructured_round_trips_every_string(value: str) -> None:
    encoded = encode_unstructured(value)
    assert decode_unstructured(as_field(encoded)) == value
    assert encode_unstructured(decode_unstructured(as_field(encoded))) == encoded


@given(field_text)
def test_encoded_unstructured_is_one_foldable_ascii_line(value: str) -> None:
    encoded = encode_unstructured(value)
    assert "\r" not in encoded
    assert "\n" not in encoded
    assert encoded.isascii()
    for word in encoded.split(" "):
        assert len(word) <= 75


@given(field_text)
def test_phrase_round_trips_through_the_phrase_decoder(value: str) -> None:
    from stack.mime.fields.address import decode_mailbox, encode_mailbox

    mailbox = decode_mailbox(encode_phrase(value) + " <a@example.org>")
    assert mailbox.name == value
    assert encode_mailbox(mailbox) == encode_phrase(value) + " <a@example.org>"


def test_plain_ascii_words_stay_plain() -> None:
    assert encode_unstructured("Meeting at noon, room 4") == "Meeting at noon, room 4"


def test_text_that_looks_like_an_encoded_word_is_encoded() -> None:
    encoded = encode_unstructured("see =?utf-8?q?x?= here")
    assert "=?utf-8?q?x?=" not in encoded.split(" ")
    assert decode_unstructured(encoded) == "see =?utf-8?q?x?= here"


def test_cr_and_lf_never_reach_the_output() -> None:
    encoded = encode_unstructured("hi\r\nBcc: victim@example.org")
    assert "\r" not in encoded
    assert "\n" not in encoded
    assert "Bcc:" not in encoded


def test_multibyte_characters_are_never_split_across_words() -> None:
    value = "€" * 40 + "😀" * 20
    for word in encode_unstructured(value).split(" "):
        assert decode_encoded_words(word, None) is not None


def test_long_plain_word_is_encoded_so_that_it_can_fold() -> None:
    encoded = encode_unstructured("x" * 200)
    assert max(map(len, encoded.split(" "))) <= 75


def test_escaped_8bit_bytes_round_trip_through_unknown_8bit() -> None:
    value = "caf\udce9 ok"
    encoded = encode_unstructured(value)
    assert encoded.startswith("=?unknown-8bit?")
    assert decode_unstructured(encoded) == value


def test_a_surrogate_that_is_not_an_escaped_byte_is_refused() -> None:
    with pytest.raises(EncodeError):
        encode_unstructured("\ud800")


@pytest.mark.parametrize(
    ("encoded", "text"),
    [
        # RFC 2047 §8, the examples as unstructured text.
        ("=?ISO-8859-1?Q?a?=", "a"),
        ("=?ISO-8859-1?Q?a?= b", "a b"),
        ("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"),
        ("=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", "ab"),
        ("=?ISO-8859-1?Q?a?=\t  =?ISO-8859-1?Q?b?=", "ab"),
        ("=?ISO-8859-1?Q?a_b?=", "a b"),
        ("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b"),
        ("=?US-ASCII?Q?Keith_Moore?=", "Keith Moore"),
        ("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "Keld Jørn Simonsen"),
        ("=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard"),
        (
            "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= "
            "=?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
            "If you can read this you understand the example.",
        ),
        ("=?ISO-8859-1?Q?Olle_J=E4rmefors?=", "Olle Järmefors"),
        # RFC 2231 §5: a language suffix on the charset.
        ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
        # Charset aliases Python knows.
        ("=?utf8?q?=C3=A9?=", "é"),
        ("=?latin1?q?=E9?=", "é"),
        # Plain text next to an encoded-word keeps its space; text inside a word is literal.
        ("x =?utf-8?q?y?= z", "x y z"),
        ("(=?ISO-8859-1?Q?a?=)", "(=?ISO-8859-1?Q?a?=)"),
    ],
)
def test_rfc_2047_examples_decode(encoded: str, text: str) -> None:
    assert decode_unstructured(encoded) == text


def test_unknown_charset_leaves_the_word_literal_with_a_defect() -> None:
    defects: list[Defect] = []
    assert decode_unstructured("=?x-unknown?q?abc?= d", defects) == "=?x-unknown?q?abc?= d"
    assert [defect.kind for defect in defects] == ["unknown-charset"]


def test_unknown_charset_is_a_parse_error_in_strict_mode() -> None:
    with pytest.raises(ParseError):
        decode_unstructured("=?x-unknown?q?abc?=")


def test_bytes_to_bytes_codecs_are_not_charsets() -> None:
    defects: list[Defect] = []
    assert decode_unstructured("=?base64?q?abc?=", defects) == "=?base64?q?abc?="
    assert defects[0].kind == "unknown-charset"


def test_invalid_bytes_for_the_charset_are_replaced_and_reported() -> None:
    defects: list[Defect] = []
    assert decode_unstructured("=?utf-8?q?a=FFb?=", defects) == "a\ufffdb"
    assert [defect.kind for defect in defects] == ["invalid-encoded-word-bytes"]


def test_bad_base64_stays_literal_and_missing_padding_is_repaired() -> None:
    defects: list[Defect] = []
    assert decode_unstructured("=?utf-8?b?w6k?=", defects) == "é"
    assert decode_unstructured("=?utf-8?b?!!!!?=", defects) == "=?utf-8?b?!!!!?="
    assert [defect.kind for defect in defects] == ["invalid-base64-padding", "invalid-base64"]


def test_stray_equals_in_q_text_stays_literal() -> None:
    defects: list[Defect] = []
    assert decode_unstructured("=?utf-8?q?a=ZZ=?=", defects) == "a=ZZ="
    assert {defect.kind for defect in defects} == {"invalid-q-escape"}


def test_glued_encoded_words_are_decoded_and_reported() -> None:
    defects: list[Defect] = []
    assert decode_unstructured("=?utf-8?q?a?==?utf-8?q?b?=", defects) == "ab"
    assert [defect.kind for defect in defects] == ["encoded-word-not-delimited"]


def test_defect_offsets_point_into_the_value() -> None:
    defects: list[Defect] = []
    decode_unstructured("  ok =?nope?q?x?=", defects)
    assert defects[0].offset == 5


def test_display_name_encoding_quotes_specials_and_encodes_non_ascii() -> None:
    assert encode_phrase("Joe Public") == "Joe Public"
    assert encode_phrase("Doe, John") == '"Doe, John"'
    assert encode_phrase('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert encode_phrase("evil@example.org") == '"evil@example.org"'
    assert encode_phrase("") == '""'
    assert ENCODED_WORD_SHAPE.fullmatch(encode_phrase("Jörg"))


def test_display_name_with_an_overlong_word_is_encoded_so_that_it_can_fold() -> None:
    encoded = encode_phrase("x" * 100)
    assert max(map(len, encoded.split(" "))) <= 75
    assert encode_phrase("x" * 73) == "x" * 73


def test_control_characters_in_unstructured_text_are_obsolete() -> None:
    defects: list[Defect] = []
    assert decode_unstructured("a\x00b\x7f", defects) == "a\x00b\x7f"
    assert [defect.kind for defect in defects] == ["obs-utext"]
    assert decode_unstructured("a\tb") == "a\tb"
