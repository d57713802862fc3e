"""RFC 5322 §3.6.4 message identifiers: Message-ID, In-Reply-To, References."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.message_id import (
    MessageId,
    decode_msg_id,
    decode_msg_id_list,
    encode_msg_id,
    encode_msg_id_list,
)

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
atom = st.text(st.sampled_from(ATEXT), min_size=1, max_size=10)
dot_atom = st.lists(atom, min_size=1, max_size=4).map(".".join)
# obs-id-left: any printable ASCII, written back as a quoted-string.
quoted_left = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
no_fold_literal = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="[]\\"), max_size=10
).map(lambda inner: f"[{inner}]")
message_ids = st.builds(
    MessageId,
    st.one_of(dot_atom, quoted_left),
    st.one_of(dot_atom, no_fold_literal, st.just("")),
)


@given(message_ids)
def test_msg_id_round_trips(value: MessageId) -> None:
    encoded = encode_msg_id(value)
    assert decode_msg_id(" " + encoded, []) == value
    assert encode_msg_id(decode_msg_id(encoded, [])) == encoded


@given(st.lists(st.builds(MessageId, dot_atom, st.one_of(dot_atom, no_fold_literal)), min_size=1))
def test_msg_id_list_round_trips_strictly(values: list[MessageId]) -> None:
    encoded = encode_msg_id_list(values)
    assert decode_msg_id_list(" " + encoded) == tuple(values)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RFC 5322 Appendix A.1.3, A.2
        ("<1234@local.machine.example>", MessageId("1234", "local.machine.example")),
        ("<testabcd.1234@silly.example>", MessageId("testabcd.1234", "silly.example")),
        ("  <abc@[192.0.2.1]>  (a comment)", MessageId("abc", "[192.0.2.1]")),
    ],
)
def test_rfc_examples_decode(text: str, expected: MessageId) -> None:
    assert decode_msg_id(text) == expected


def test_references_from_rfc_5322_appendix_a2() -> None:
    assert decode_msg_id_list("<1234@local.machine.example> <3456@example.net>") == (
        MessageId("1234", "local.machine.example"),
        MessageId("3456", "example.net"),
    )
    assert decode_msg_id_list("<a@b>(c)<e@f>") == (MessageId("a", "b"), MessageId("e", "f"))


def test_str_gives_the_bracketed_form() -> None:
    assert str(MessageId("a.b", "example.org")) == "<a.b@example.org>"
    assert str(MessageId("12345", "")) == "<12345>"


@pytest.mark.parametrize("text", ["<[...]>", "<>", "<@x>", "<a@>", "", "a", "<a@b c>", "<a b@c>"])
def test_broken_message_ids_are_parse_errors_not_crashes(text: str) -> None:
    # Message-ID: <[...]> made CPython raise IndexError.
    with pytest.raises(ParseError):
        decode_msg_id(text, [])


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        ('<"a b"@c>', MessageId("a b", "c"), ["obs-id-left"]),
        ("<12345>", MessageId("12345", ""), ["missing-id-right"]),
        ("<a@b . c>", MessageId("a", "b.c"), ["obs-id-right"]),
        ("<a@b> x", MessageId("a", "b"), ["trailing-garbage"]),
        ("<a@.>", MessageId("a", "."), ["invalid-id-right"]),
        ("<a@b..c>", MessageId("a", "b..c"), ["invalid-id-right"]),
        ("<a@x\\y>", MessageId("a", "x\\y"), ["invalid-id-right"]),
        ("<a@b", MessageId("a", "b"), ["missing-angle-bracket"]),
        ("a@b.c", MessageId("a", "b.c"), ["missing-angle-brackets"]),
    ],
)
def test_obsolete_msg_ids_are_read_and_reported(
    text: str, expected: MessageId, kinds: list[str]
) -> None:
    defects: list[Defect] = []
    assert decode_msg_id(text, defects) == expected
    assert [defect.kind for defect in defects] == kinds
    with pytest.raises(ParseError):
        decode_msg_id(text)


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        # obs-in-reply-to: phrases mixed in, ids without brackets
        (
            'Your message of "Mon, 1 Jan 2001" <a@b>',
            (MessageId("a", "b"),),
            ["obs-phrase-in-msg-id-list"],
        ),
        ("a@b <c@d>", (MessageId("c", "d"),), ["obs-phrase-in-msg-id-list"]),
        ("<[...]> <a@b>", (MessageId("a", "b"),), ["invalid-msg-id"]),
        (
            "<a@b> junk <c@d> more",
            (MessageId("a", "b"), MessageId("c", "d")),
            [
                "obs-phrase-in-msg-id-list",
                "obs-phrase-in-msg-id-list",
            ],
        ),
    ],
)
def test_obsolete_reference_lists_skip_what_is_not_a_msg_id(
    text: str, expected: tuple[MessageId, ...], kinds: list[str]
) -> None:
    defects: list[Defect] = []
    assert decode_msg_id_list(text, defects) == expected
    assert [defect.kind for defect in defects] == kinds
    with pytest.raises(ParseError):
        decode_msg_id_list(text)


def test_list_without_any_msg_id_is_empty_and_reported() -> None:
    # In-Reply-To: Your message of "Thu, 25 Jul 2002 21:13:51 MDT." (SpamAssassin)
    defects: list[Defect] = []
    assert decode_msg_id_list('Your message of "Thu, 25 Jul 2002 21:13:51 MDT."', defects) == ()
    assert [d.kind for d in defects] == ["obs-phrase-in-msg-id-list", "empty-msg-id-list"]
    with pytest.raises(ParseError):
        decode_msg_id_list("no ids here")


@pytest.mark.parametrize(
    "value",
    [
        MessageId("a\r\nb", "c"),
        MessageId("a", "b c"),
        MessageId("a", "[a]b"),
        MessageId("caf\udce9", "x"),
    ],
)
def test_unwritable_msg_ids_are_refused(value: MessageId) -> None:
    with pytest.raises(EncodeError):
        encode_msg_id(value)


def test_empty_list_is_written_as_an_empty_value() -> None:
    assert encode_msg_id_list([]) == ""
    assert decode_msg_id_list(" ", []) == ()
