"""The encoded-word codec's contract, point by point: where each defect points and what it
says, which white space RFC 2047 §6.2 keeps, and how long the encoder's words and plain words
may be.

Written for issue 18 from the mutants of stack/mime/fields/encoded_word.py that no test noticed.
"""

from __future__ import annotations

import pytest
from field_reasons import states
from hypothesis import given

from harness.strategies import phrase_wire, unstructured_wire
from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.address import Mailbox, decode_mailbox
from stack.mime.fields.encoded_word import (
    decode_unstructured,
    encode_phrase,
    encode_unstructured,
    encode_words,
)

MAX_WORD = 75  # RFC 2047 §2: an encoded-word is at most 75 characters


@given(unstructured_wire())
def test_every_wire_form_of_unstructured_text_reads_as_its_value(wire: tuple[str, str]) -> None:
    text, value = wire
    assert decode_unstructured(text, []) == value


@given(phrase_wire())
def test_every_wire_form_of_a_display_name_reads_as_its_value(wire: tuple[str, str]) -> None:
    text, name = wire
    assert decode_mailbox(f"{text} <a@b>", []) == Mailbox(name, "a", "b")


# (text, kind, the text the defect is about, a phrase of its detail)
DEFECTS = [
    (" x =?utf-8?q?a=4?= y", "invalid-q-escape", "=?utf-8?q?a=4", "two hex digits"),
    ("  =?utf-8?b?YWJjZ?=", "invalid-base64", "=?utf-8?b?YWJjZ", "not valid base64"),
    ("x\t=?utf-8?b?YQ?=", "invalid-base64-padding", "=?utf-8?b?YQ", "wrong padding"),
    ("x =?utf-8?b?YQ===?=", "invalid-base64-padding", "=?utf-8?b?YQ=", "wrong padding"),
    (" a =?x-nope?q?b?=", "unknown-charset", "=?x-nope", "unknown charset 'x-nope'"),
    (" =?utf-8?q?=FF?=", "invalid-encoded-word-bytes", "=?utf-8?q?=FF", "invalid for 'utf-8'"),
    (" a =?utf-8?q?b?==?x?q?c?=", "encoded-word-not-delimited", "=?utf-8?q?b", "white space"),
    (" a =?utf-8?q?b?==?x?q?c?=", "unknown-charset", "=?x?q?c", "unknown charset 'x'"),
    (" a =?utf-8?q?b?==?utf-8?b?Y?=", "invalid-base64", "=?utf-8?b?Y", "not valid base64"),
    ("  a\x01b", "obs-utext", "\x01", "control character"),
    ("  a\udcffb", "invalid-utf8", "\udcff", "not UTF-8"),
]


@pytest.mark.parametrize(("text", "kind", "at", "says"), DEFECTS)
def test_a_defect_points_at_its_text_and_says_what_is_wrong(
    text: str, kind: str, at: str, says: str
) -> None:
    defects: list[Defect] = []
    decode_unstructured(text, defects)
    found = [defect for defect in defects if defect.kind == kind]
    assert len(found) == 1, defects
    assert found[0].offset == text.index(at)
    assert states(found[0].detail, says), found[0]
    # Strict mode is lenient mode refusing to record: it stops at the first defect.
    with pytest.raises(ParseError) as error:
        decode_unstructured(text)
    assert (error.value.offset, error.value.reason) == (defects[0].offset, defects[0].detail)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("=?utf-8?B?YWJj?=", "abc"),
        ("=?utf-8?b?YWI=?=", "ab"),
        ("=?utf-8?Q?a_b=3d=3D?=", "a b=="),
        ("=?utf-8*de?q?a?=", "a"),
        ("=?utf-8?q??=", ""),
        # A glued run stays literal unless every part of it is an encoded-word.
        ("=?utf-8?q?a?=x=?utf-8?q?b?=", "=?utf-8?q?a?=x=?utf-8?q?b?="),
        ("=?utf-8?q?a?==?utf-8?q?b?=x", "=?utf-8?q?a?==?utf-8?q?b?=x"),
        ("x=?utf-8?q?a?==?utf-8?q?b?=", "x=?utf-8?q?a?==?utf-8?q?b?="),
        ("=?utf-8?q?a?==?x-nope?q?b?=", "=?utf-8?q?a?==?x-nope?q?b?="),
        ("=?utf-8?q?a?= =?utf-8?x?b?=", "a =?utf-8?x?b?="),
    ],
)
def test_only_whole_encoded_words_are_decoded(text: str, value: str) -> None:
    assert decode_unstructured(text, []) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("=?utf-8?q?a?= \t =?utf-8?q?b?= c  =?utf-8?q?d?=", "ab c  d"),
        ("x  =?utf-8?q?a?=\t=?utf-8?q?b?=  y", "x  ab  y"),
        ("=?utf-8?q?a?= =?x-nope?q?b?= =?utf-8?q?c?=", "a =?x-nope?q?b?= c"),
        ("a  b\t c", "a  b\t c"),
        ("=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c"),
    ],
)
def test_only_white_space_between_two_encoded_words_goes(text: str, value: str) -> None:
    assert decode_unstructured(text, []) == value


def test_a_long_run_fills_each_encoded_word_to_the_limit() -> None:
    # Single-byte pieces fit exactly, in Q (ASCII that must be encoded) as in B (8-bit bytes):
    # every word but the last is as long as RFC 2047 §2 allows.
    for text in ("x" * 200, "\udce9" * 200):
        words = encode_words(text)
        assert {len(word) for word in words[:-1]} == {MAX_WORD}
        assert decode_unstructured(" ".join(words)) == text


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("Gruesse aus Köln", "?q?"),
        ("日本語のテキスト", "?b?"),
        ("\udce9\udce8", "?b?"),
        ("a\udce9bcdef", "?q?"),
        # A tie goes to Q, which a person can still read.
        ("a=", "?q?"),
    ],
)
def test_each_word_is_in_the_shorter_of_q_and_b(text: str, form: str) -> None:
    (word,) = encode_words(text)
    assert form in word
    assert decode_unstructured(word) == text


def test_a_plain_word_is_written_as_it_is_up_to_the_longest_word_that_can_fold() -> None:
    assert encode_unstructured("x" * MAX_WORD) == "x" * MAX_WORD
    assert encode_unstructured("x" * (MAX_WORD + 1)).startswith("=?utf-8?q?")
    # A word of a display name may have to be quoted, two characters more.
    assert encode_phrase("x" * (MAX_WORD - 2)) == "x" * (MAX_WORD - 2)
    assert encode_phrase("x" * (MAX_WORD - 1)).startswith("=?utf-8?q?")
    assert encode_phrase(f"a {'x' * (MAX_WORD - 3)},") == f'"a {"x" * (MAX_WORD - 3)},"'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("a  b", "a =?utf-8?q?_b?="),
        (" a", "=?utf-8?q?_a?="),
        ("a ", "=?utf-8?q?a_?="),
        ("", ""),
        ("a b", "a b"),
    ],
)
def test_spaces_that_belong_to_the_value_go_inside_an_encoded_word(
    value: str, written: str
) -> None:
    assert decode_unstructured(encode_unstructured(value)) == value
    assert encode_unstructured(value) == written


def test_a_surrogate_that_is_no_escaped_byte_is_named_in_the_refusal() -> None:
    with pytest.raises(EncodeError, match=r"U\+D800 is not text"):
        encode_unstructured("ab\ud800")
    with pytest.raises(EncodeError, match=r"U\+DBFF is not text"):
        encode_words("é\udce9\udbff")


@pytest.mark.parametrize("text", ["\u00a0a\u00a0", "Xa X", "\x0ba\x0b"])
def test_only_space_and_tab_around_unstructured_text_are_syntax(text: str) -> None:
    # The FWS after the colon and before the line end (RFC 5322 §3.2.2) goes; any other
    # character, white space in Unicode's sense or not, is text.
    assert decode_unstructured(f" \t{text} ", []) == text
