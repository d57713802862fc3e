"""The msg-id codec's contract, point by point: where each defect and error points and what it
says, how a list recovers from a bad element, and what the encoder refuses and why.

Written for issue 18 from the mutants of stack/mime/fields/message_id.py that no test noticed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from field_reasons import check_defect, states
from hypothesis import given

from harness.strategies import msg_id_list_wire, msg_id_wire
from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.message_id import (
    MessageId,
    decode_msg_id,
    decode_msg_id_list,
    encode_msg_id,
)

Decoder = Callable[[str, list[Defect] | None], object]


@given(msg_id_wire())
def test_every_wire_form_of_a_msg_id_reads_as_its_value(wire: tuple[str, MessageId]) -> None:
    text, value = wire
    assert decode_msg_id(text, []) == value


@given(msg_id_list_wire())
def test_every_wire_form_of_a_list_reads_as_its_values(
    wire: tuple[str, tuple[MessageId, ...]],
) -> None:
    text, value = wire
    assert decode_msg_id_list(text, []) == value


# (decoder, text, kind, where: the text the defect is about or an offset, a phrase of its detail)
# Strict mode stops at the first defect, unless a case names what it stops at instead: it
# reads no sloppy id-right, no bare msg-id, and gives up on a list at its first bad element.
DEFECTS: list[tuple[Decoder, str, str, str | int, str]] = [
    (decode_msg_id, ' <"a b"@c>', "obs-id-left", '"a b"', "quoted-string id-left"),
    (decode_msg_id, "<12345 >", "missing-id-right", ">", "without '@'"),
    (decode_msg_id, "<a@b . c>", "obs-id-right", "b .", "around '.' in id-right"),
    (decode_msg_id, "<a@ b..c>", "invalid-id-right", "b..c", "nor a literal"),
    (decode_msg_id, "<a@b", "missing-angle-bracket", 4, "not closed by '>'"),
    (decode_msg_id, " a@b.c", "missing-angle-brackets", "a@b", "without '<' and '>'"),
    (decode_msg_id, "a@b . c", "obs-id-right", "b .", "around '.' in id-right"),
    (decode_msg_id, "<a@b> x", "trailing-garbage", "x", "'x' after the msg-id"),
    (decode_msg_id, "<a@b> \udcff", "invalid-utf8", "\udcff", "not UTF-8"),
    (decode_msg_id, "(\x01)<a@b>", "obs-ctext", "\x01", "control character '\\x01'"),
    (decode_msg_id_list, "(\x01)<a@b>", "obs-ctext", "\x01", "control character '\\x01'"),
    (decode_msg_id, "<a@b> (\x01)", "obs-ctext", "\x01", "control character '\\x01'"),
    (decode_msg_id, "<(\x01)a@b>", "obs-ctext", "\x01", "control character '\\x01'"),
    (decode_msg_id, "<a(\x01)@b>", "obs-ctext", "\x01", "control character '\\x01'"),
    (decode_msg_id, "<a@(\x01)b>", "obs-ctext", "\x01", "control character '\\x01'"),
    (decode_msg_id, '<"a\x01"@b>', "obs-qtext", "\x01", "control character '\\x01'"),
    (decode_msg_id, "<a@[b\\c]>", "obs-dtext", "\\", "quoted-pair inside a domain literal"),
    (decode_msg_id, "<a@[b](\x01)>", "obs-ctext", "\x01", "control character '\\x01'"),
    (decode_msg_id, "<a@b..c(\x01)>", "obs-ctext", "\x01", "control character '\\x01'"),
    (decode_msg_id_list, "<a@b> <c@d x> <e@f>", "invalid-msg-id", "x>", "unexpected 'x'"),
    (decode_msg_id_list, "<a@b> junk <c@d>", "obs-phrase-in-msg-id-list", "junk", "not a msg-id"),
    # A phrase is one defect, whatever letters it holds, up to the next msg-id.
    (decode_msg_id_list, "Re: X y <c@d>", "obs-phrase-in-msg-id-list", 0, "not a msg-id"),
    (decode_msg_id_list, "  junk", "empty-msg-id-list", 6, "no msg-id"),
]


@pytest.mark.parametrize(("decode", "text", "kind", "at", "says"), DEFECTS)
def test_a_defect_points_at_its_text_and_says_what_is_wrong(
    decode: Decoder, text: str, kind: str, at: str | int, says: str
) -> None:
    check_defect(decode, text, kind, at, says, STRICT_STOPS.get(text))


STRICT_STOPS = {
    "<a@ b..c>": (6, "expected id-right"),
    " a@b.c": (1, "expected '<' to open a msg-id"),
    "a@b . c": (0, "expected '<' to open a msg-id"),
    "<a@b..c(\x01)>": (5, "expected id-right"),
    "<a@b> <c@d x> <e@f>": (11, "unexpected 'x' in msg-id"),
}


@pytest.mark.parametrize(
    ("text", "at", "says"),
    [
        ("<>", 1, "expected id-left"),
        ("< @b>", 2, "expected id-left"),
        ("<a@>", 3, "expected id-right"),
        ("<a@(c)>", 6, "expected id-right"),
        ("<a@b c>", 5, "unexpected 'c' in msg-id"),
        ("  a", 2, "expected '<' to open a msg-id"),
        ("", 0, "expected '<' to open a msg-id"),
    ],
)
def test_a_msg_id_that_cannot_be_read_says_where_and_why_in_both_modes(
    text: str, at: int, says: str
) -> None:
    for defects in (None, []):
        with pytest.raises(ParseError) as error:
            decode_msg_id(text, defects)
        assert (error.value.offset, states(error.value.reason, says)) == (at, True)


def test_a_list_resumes_at_the_next_msg_id_after_a_bad_one() -> None:
    defects: list[Defect] = []
    assert decode_msg_id_list("<a@b cX> <d@e>", defects) == (MessageId("d", "e"),)
    assert [defect.kind for defect in defects] == ["invalid-id-right", "invalid-msg-id"]


def test_a_bare_id_is_an_error_in_strict_mode_whatever_follows() -> None:
    with pytest.raises(ParseError, match="expected '<'"):
        decode_msg_id("a@b.c")
    with pytest.raises(ParseError, match="expected '<'"):
        decode_msg_id("a.b", [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<a@b><c@d>", (MessageId("a", "b"), MessageId("c", "d"))),
        ("(x)<a@b>(y)\t<c@d>(z)", (MessageId("a", "b"), MessageId("c", "d"))),
        ("<a b@c><d@e>", (MessageId("d", "e"),)),
        ("<a@b c> <d@e>", (MessageId("d", "e"),)),
        ("<> <d@e>", (MessageId("d", "e"),)),
        ("<<d@e>", (MessageId("d", "e"),)),
        ("x <a@b> y <c@d> z", (MessageId("a", "b"), MessageId("c", "d"))),
    ],
)
def test_a_list_keeps_every_msg_id_around_what_it_cannot_read(
    text: str, expected: tuple[MessageId, ...]
) -> None:
    assert decode_msg_id_list(text, []) == expected


def test_an_id_right_as_written_is_kept_only_in_lenient_mode() -> None:
    defects: list[Defect] = []
    assert decode_msg_id("<a@b..c>", defects) == MessageId("a", "b..c")
    assert [defect.kind for defect in defects] == ["invalid-id-right"]
    # A dot-atom id-right followed by more text is not sloppy: that text is the problem.
    with pytest.raises(ParseError, match="unexpected 'c'"):
        decode_msg_id("<a@b c>", [])
    # Comments inside a readable id-right keep their own defects.
    defects = []
    assert decode_msg_id("<a@b(\x01)>", defects) == MessageId("a", "b")
    assert [defect.kind for defect in defects] == ["obs-ctext"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (MessageId("a\r\nb", "c"), "id-left"),
        (MessageId("caf\udce9", "x"), "id-left"),
        (MessageId("a", "b c"), "neither a dot-atom nor a no-fold-literal"),
        (MessageId("a", "caf\udce9"), "id-right"),
    ],
)
def test_the_encoder_says_which_half_it_cannot_write(value: MessageId, says: str) -> None:
    with pytest.raises(EncodeError, match=says):
        encode_msg_id(value)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (MessageId("a.b", "c.d"), "<a.b@c.d>"),
        (MessageId("a b", "c"), '<"a b"@c>'),
        (MessageId('a"b', "c"), '<"a\\"b"@c>'),
        (MessageId("a", "[1.2.3.4]"), "<a@[1.2.3.4]>"),
        (MessageId("a", "b..c"), "<a@b..c>"),
        (MessageId("12345", ""), "<12345>"),
        (MessageId("é", "ü.example"), "<é@ü.example>"),
    ],
)
def test_the_encoder_writes_each_half_in_the_form_that_reads_back(
    value: MessageId, written: str
) -> None:
    assert encode_msg_id(value) == written
    assert decode_msg_id(written, []) == value
    assert str(value) == (f"<{value.left}@{value.right}>" if value.right else f"<{value.left}>")


@pytest.mark.parametrize(
    "text", ['"see <x@y>" <a@b>', '"see <x@y>"<a@b>', "[<x@y>] <a@b>", '<a@b> "<x@y>"']
)
def test_a_msg_id_inside_a_quoted_phrase_is_no_msg_id(text: str) -> None:
    # obs-in-reply-to (RFC 5322 §4.5.4) is phrases and msg-ids: what a quoted-string holds is
    # part of the phrase, wherever the phrase stands in the list.
    defects: list[Defect] = []
    assert decode_msg_id_list(text, defects) == (MessageId("a", "b"),)
    assert [defect.kind for defect in defects] == ["obs-phrase-in-msg-id-list"]
