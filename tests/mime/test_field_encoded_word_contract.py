"""The encoded-word codec's contract, point by point: where each defect points and what it
says, which white space RFC 2047 §6.2 keeps, and how long the encoder's words and plain words
may be.

Written for issue 18 from the mutants of stack/mime/fields/encoded_word.py that no test noticed.
"""

from __future__ import annotations

import base64
import email.base64mime
import email.quoprimime

import pytest
from field_reasons import states
from hypothesis import assume, example, given

from harness.strategies import phrase_wire, unstructured_values, unstructured_wire
from harness.strategies.rfc5322 import VCHAR
from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.address import Mailbox, decode_mailbox
from stack.mime.fields.encoded_word import (
    decode_encoded_words,
    decode_unstructured,
    decode_words,
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
        # B by a fifth: 24 characters of base64 against 29 of Q.
        ("Grüße aus Köln", "?b?"),
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


@given(unstructured_values())
@example("Grüße aus Köln")
def test_an_encoded_word_is_as_short_as_the_shorter_of_q_and_b(text: str) -> None:
    # The standard library's RFC 2047 encoder measures both forms of the same UTF-8 bytes with
    # the same safe characters (RFC 2047 §5(3)); a word is never longer than the shorter one.
    words = encode_words(text)
    assume(len(words) == 1)
    data = text.encode("utf-8")
    shortest = min(email.quoprimime.header_length(data), email.base64mime.header_length(data))
    assert len(words[0]) == len("=?utf-8?q??=") + shortest


@pytest.mark.parametrize("text", ["abW", "ab", "a", "Köln", "¿Qué tal?"])
def test_base64_with_its_padding_reads_without_a_defect(text: str) -> None:
    # Whatever character the base64 ends in, letter, digit or "=" (RFC 2045 §6.8 padding).
    word = f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="
    defects: list[Defect] = []
    assert decode_unstructured(word, defects) == text
    assert defects == []


@pytest.mark.parametrize("payload", ["YW.", "YW.j", "YWJjZ", "YWJjZ=="])
def test_text_no_padding_makes_base64_is_one_defect_and_stays_literal(payload: str) -> None:
    # A bad character or a length of 4n + 1 is not base64 with a padding slip: the word is
    # reported once, as invalid base64, and not also as wrongly padded.
    word = f"=?utf-8?b?{payload}?="
    defects: list[Defect] = []
    assert decode_unstructured(word, defects) == word
    assert [defect.kind for defect in defects] == ["invalid-base64"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # An 8-bit byte written raw in Q text (a producer that did not escape it) arrives as
        # the surrogate surrogateescape made of it: it is a byte of the word's charset.
        ("=?iso-8859-1?q?caf\udce9?=", "café"),
        ("=?utf-8?q?caf\udcc3\udca9?=", "café"),
        # A non-ASCII character written raw stands for its UTF-8 bytes (RFC 6532 header).
        ("=?utf-8?q?caf\u00e9?=", "café"),
    ],
)
def test_raw_bytes_in_q_text_are_bytes_of_the_words_charset(text: str, value: str) -> None:
    assert decode_unstructured(text, []) == value


def test_each_of_glued_encoded_words_reports_at_its_own_start() -> None:
    words = ["=?x-nope?q?a?=", "=?utf-8?q?b=?=", "=?utf-8?q?c=?=", "=?utf-8?b?Y?="]
    text = "x " + "".join(words)
    defects: list[Defect] = []
    decode_unstructured(text, defects)
    starts = [text.index(word) for word in words]
    assert [(d.kind, d.offset) for d in defects] == [
        ("encoded-word-not-delimited", starts[0]),
        ("unknown-charset", starts[0]),
    ]
    defects.clear()
    decode_unstructured(text.replace(words[0], "=?utf-8?q?a?="), defects)
    assert [(d.kind, d.offset) for d in defects] == [
        ("encoded-word-not-delimited", starts[0]),
        ("invalid-q-escape", starts[1] - 1),
        ("invalid-q-escape", starts[2] - 1),
        ("invalid-base64", starts[3] - 1),
    ]


def test_without_an_offset_a_defect_points_into_the_text_given() -> None:
    # Both decoders are public: called without the text's place in a field, positions are
    # counted from the start of the text they were handed.
    word = "=?x-nope?q?a?="
    for decode, text in ((decode_encoded_words, word), (decode_words, f"a {word}")):
        defects: list[Defect] = []
        decode(text, defects)
        assert [(d.kind, d.offset) for d in defects] == [("unknown-charset", text.index(word))]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (" =?utf-8?q?a?=", " a"),
        ("\t=?utf-8?q?a?= =?utf-8?q?b?=", "\tab"),
        ("=?utf-8?q?a?= ", "a "),
    ],
)
def test_white_space_that_is_not_between_two_encoded_words_stays(text: str, value: str) -> None:
    # RFC 2047 §6.2 drops only the white space that separates two adjacent encoded-words; a
    # caller that hands over unstripped text (a quoted parameter value) keeps the rest.
    assert decode_words(text, []) == value


@pytest.mark.parametrize("first", VCHAR)
def test_a_plain_word_after_an_encoded_word_is_kept_whatever_it_starts_with(first: str) -> None:
    assert decode_unstructured(f"=?utf-8?q?a?= {first}b", []) == f"a {first}b"


@pytest.mark.parametrize(
    ("value", "plain"),
    [("é ü plain", "plain"), ("é ü x y", "x y"), ("a é ü b", "b")],
)
def test_plain_words_after_a_run_of_encoded_words_stay_plain(value: str, plain: str) -> None:
    # Only the words that need it are encoded; the printable ASCII words after them are
    # written as they are, for people and for readers that know no RFC 2047.
    written = encode_unstructured(value)
    assert written.endswith(f"?= {plain}")
    assert decode_unstructured(written) == value
