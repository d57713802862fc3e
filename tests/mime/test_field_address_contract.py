"""The address codec's contract, point by point: where each defect and error points and what
it says, in lenient and strict mode, and what the encoder refuses and why.

Written for issue 18 from the mutants of stack/mime/fields/address.py that no test noticed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from field_reasons import check_defect, states
from hypothesis import given

from harness.strategies import address_list_wire, mailbox_wire
from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.address import (
    Address,
    Group,
    Mailbox,
    _before_angle_addr,
    decode_address_list,
    decode_mailbox,
    decode_mailbox_list,
    encode_address_list,
    encode_mailbox,
)

Decoder = Callable[[str, list[Defect] | None], object]


@given(address_list_wire())
def test_every_wire_form_of_an_address_list_reads_as_its_value(
    wire: tuple[str, tuple[Mailbox | Group, ...]],
) -> None:
    text, value = wire
    assert decode_address_list(text, []) == value


@given(mailbox_wire())
def test_every_wire_form_of_a_mailbox_reads_as_its_value(wire: tuple[str, Mailbox]) -> None:
    text, value = wire
    assert decode_mailbox(text, []) == value
    assert decode_mailbox_list(text, []) == (value,)


# (decoder, text, kind, the text the defect is about or an offset, a phrase of its detail)
DEFECTS: list[tuple[Decoder, str, str, str | int, str]] = [
    (decode_address_list, "x =?u?q?a.b?= <a@b>", "encoded-word-with-specials", "=?u", "phrase"),
    (decode_address_list, "Joe Q. Public <a@b>", "obs-phrase", ".", "'.' in a display name"),
    (decode_address_list, "Joe Q. Group: a@b;", "obs-phrase", ".", "'.' in a display name"),
    (decode_address_list, "x, a . b@c", "obs-local-part", "a .", "around '.'"),
    (decode_address_list, 'x, "a".b@c', "obs-local-part", '"a"', "around '.'"),
    (decode_address_list, "x, a .b@c", "obs-local-part", "a .", "CFWS or quoted words around '.'"),
    (decode_address_list, '"a\x01" <c@d>', "obs-qtext", "\x01", "control character"),
    (decode_address_list, 'N <"a\x01"@b>', "obs-qtext", "\x01", "control character"),
    (decode_address_list, "x, a@b . c", "obs-domain", "b .", "around '.' in a domain"),
    (decode_address_list, "N <@r.example:a@b>", "obs-route", "@r", "source route"),
    (decode_address_list, "N <@r,(\x01)@s:a@b>", "obs-ctext", "\x01", "control character"),
    # A comment keeps its defect wherever CFWS may stand in a mailbox or group.
    (decode_address_list, "a@(\x01)b", "obs-ctext", "\x01", "control character"),
    (decode_address_list, "a@[1.2.3.4](\x01)", "obs-ctext", "\x01", "control character"),
    (decode_address_list, "a@[1\x01]", "obs-dtext", "\x01", "control character"),
    (decode_address_list, "N =?x-nope?q?a?= <a@b>", "unknown-charset", "=?x", "'x-nope'"),
    (decode_address_list, "N <(\x01)a@b>", "obs-ctext", "\x01", "control character"),
    (decode_address_list, "N <a@b> (\x01)", "obs-ctext", "\x01", "control character"),
    (decode_address_list, "g: a@b; (\x01)", "obs-ctext", "\x01", "control character"),
    (decode_address_list, "N <a@b", "missing-angle-bracket", 6, "not closed by '>'"),
    (decode_address_list, "N <a@b (c)", "missing-angle-bracket", 10, "not closed by '>'"),
    (decode_address_list, "a@b, ", "obs-addr-list", 5, "ends with ','"),
    (decode_address_list, "a@b, , c@d", "obs-addr-list", ", c", "empty element"),
    (decode_mailbox_list, "a@b,", "obs-mbox-list", 4, "ends with ','"),
    (decode_mailbox_list, ",a@b", "obs-mbox-list", 0, "empty element"),
    (decode_address_list, "a@b c@d", "invalid-address", "c@d", "expected ',' between"),
    (decode_address_list, "x y, a@b", "invalid-address", ",", "expected '@' or '<'"),
    (decode_address_list, "g: a@b", "missing-group-terminator", 6, "not closed by ';'"),
    (decode_address_list, "  ", "empty-address-list", 2, "no address"),
    (decode_address_list, "(c)", "empty-address-list", 3, "no address"),
    (decode_mailbox, "N <a@b> x", "trailing-garbage", "x", "'x' after the mailbox"),
    (decode_mailbox, "a@b (c) ;", "trailing-garbage", ";", "';' after the mailbox"),
    (decode_mailbox, "N <a@b", "missing-angle-bracket", 6, "not closed by '>'"),
    (decode_mailbox, "N <a@b (\x01)>", "obs-ctext", "\x01", "control character"),
    (decode_mailbox, "N\udcff <a@b>", "invalid-utf8", "\udcff", "not UTF-8"),
]


@pytest.mark.parametrize(("decode", "text", "kind", "at", "says"), DEFECTS)
def test_a_defect_points_at_its_text_and_says_what_is_wrong(
    decode: Decoder, text: str, kind: str, at: str | int, says: str
) -> None:
    check_defect(decode, text, kind, at, says)


@pytest.mark.parametrize(
    ("text", "at", "says"),
    [
        ("x, @b", 3, "empty local-part"),
        ("<.a@b>", 1, "misplaced '.' in local-part"),
        ("<a..b@c>", 3, "misplaced '.' in local-part"),
        ("<a.@b>", 2, "local-part ends with '.'"),
        ("<a.b.@c>", 4, "local-part ends with '.'"),
        ("<a@>", 3, "expected a domain"),
        ("<a@b.>", 5, "expected a domain"),
        ("<@r a@b>", 4, "obs-route without ':'"),
        ("<a b>", 4, "expected '@' in angle-addr"),
        ("@", 0, "empty local-part"),
        ("a b", 3, "expected '@' or '<' after the words"),
        ('"x', 0, "quoted-string is never closed"),
        (";", 0, "expected an address"),
        ("a@b, ;", 5, "expected an address"),
        (": a@b;", 0, "group without a display name"),
        ("a@b, : c@d;", 5, "group without a display name"),
    ],
)
def test_an_address_that_cannot_be_read_says_where_and_why(text: str, at: int, says: str) -> None:
    defects: list[Defect] = []
    decode_address_list(text, defects)
    assert any(d.offset == at and states(d.detail, says) for d in defects), defects
    with pytest.raises(ParseError) as error:
        decode_address_list(text)
    assert (error.value.offset, error.value.reason) == (defects[0].offset, defects[0].detail)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a@b, nonsense, c@d", (Mailbox(None, "a", "b"), Mailbox(None, "c", "d"))),
        ("g: x y, a@b; c@d", (Group("g", (Mailbox(None, "a", "b"),)),)),
        ("g: x y, a@b;, c@d", (Group("g", (Mailbox(None, "a", "b"),)), Mailbox(None, "c", "d"))),
        ("<a.@b>, c@d", (Mailbox(None, "c", "d"),)),
        ('"a, b" <c@d>, e@f', (Mailbox("a, b", "c", "d"), Mailbox(None, "e", "f"))),
        ("a@b (x, y), c@d", (Mailbox(None, "a", "b"), Mailbox(None, "c", "d"))),
        ("g: a@b, ;, c@d", (Group("g", (Mailbox(None, "a", "b"),)), Mailbox(None, "c", "d"))),
        ("g: ;", (Group("g", ()),)),
        ("g:;,h:;", (Group("g", ()), Group("h", ()))),
        ("g: Xa@b;", (Group("g", (Mailbox(None, "Xa", "b"),)),)),
        ("a@b,, Xc@d", (Mailbox(None, "a", "b"), Mailbox(None, "Xc", "d"))),
    ],
)
def test_a_list_keeps_what_it_can_read_around_what_it_cannot(
    text: str, expected: tuple[Address, ...]
) -> None:
    assert decode_address_list(text, []) == expected


def test_an_unreadable_element_is_one_defect_up_to_the_next_comma() -> None:
    defects: list[Defect] = []
    found = decode_address_list("a@b c@d X, e@f", defects)
    assert found == (Mailbox(None, "a", "b"), Mailbox(None, "e", "f"))
    assert [(defect.kind, defect.offset) for defect in defects] == [("invalid-address", 4)]


def test_a_group_inside_a_group_is_an_unreadable_element() -> None:
    # RFC 5322 §3.4: a group-list is a mailbox-list, so groups do not nest.
    defects: list[Defect] = []
    found = decode_address_list("g: h:;, a@b;", defects)
    assert found[0] == Group("g", ())
    assert (defects[0].kind, defects[0].offset) == ("invalid-address", 4)


def test_a_mailbox_list_reads_a_group_as_an_unreadable_element() -> None:
    defects: list[Defect] = []
    assert decode_mailbox_list("g: a@b;, c@d", defects) == (Mailbox(None, "c", "d"),)
    assert [defect.kind for defect in defects] == ["invalid-address"]
    assert defects[0].offset == 1


@pytest.mark.parametrize(
    ("mailbox", "says"),
    [
        (Mailbox(None, "a\r\nb", "c"), "local-part 'a\\r\\nb'"),
        (Mailbox(None, "caf\udce9", "c"), "local-part"),
        (Mailbox(None, "a", "caf\udce9"), "undecodable bytes"),
        (Mailbox(None, "a", "b c"), "neither a dot-atom nor a domain literal"),
        (Mailbox(None, "a", "[a]b"), "neither a dot-atom nor a domain literal"),
    ],
)
def test_the_encoder_says_which_part_it_cannot_write(mailbox: Mailbox, says: str) -> None:
    with pytest.raises(EncodeError) as error:
        encode_mailbox(mailbox)
    assert states(str(error.value), says), error.value


@pytest.mark.parametrize(
    ("addresses", "written"),
    [
        ((Mailbox(None, "a b", "[1.2.3.4]"),), '"a b"@[1.2.3.4]'),
        ((Mailbox("", "a", "b"),), '"" <a@b>'),
        ((Group("g", ()), Group("Doe, J", (Mailbox(None, "a", "b"),))), 'g:;, "Doe, J": a@b;'),
        ((Mailbox("A. B", "a", "b"),), '"A. B" <a@b>'),
    ],
)
def test_the_encoder_writes_the_canonical_form(
    addresses: tuple[Address, ...], written: str
) -> None:
    assert encode_address_list(addresses) == written
    assert decode_address_list(written) == addresses


def test_looking_ahead_for_an_angle_addr_reports_nothing_itself() -> None:
    # Whether an encoded-word with a '.' is a display name is decided by looking past the
    # comment after it; the comment's defect is the reader's to report, once, where it is.
    text = "=?utf-8?q?J._Doe?= (a\x01b) <j@example.org>"
    defects: list[Defect] = []
    assert decode_mailbox(text, defects) == Mailbox("J. Doe", "j", "example.org")
    assert [(d.kind, d.offset) for d in defects] == [
        ("encoded-word-with-specials", 0),
        ("obs-ctext", text.index("\x01")),
    ]


def test_the_look_ahead_remembers_what_it_learned_of_every_word_it_passed() -> None:
    # So that a run of n encoded-words is looked through once, not n times (its docstring;
    # tests/mime/test_field_linear_time.py measures the time).
    text = "=?u?q?a.?= =?u?q?b.?= x@y"
    known: dict[int, bool] = {}
    assert _before_angle_addr(text, 0, known) is False
    assert known == {0: False, text.index("=?u?q?b"): False}
    known = {}
    assert _before_angle_addr(f"{text[:-3]} <x@y>", 0, known) is True
    assert known == {0: True, text.index("=?u?q?b"): True}
    # and what it already knows, it does not look up again.
    assert _before_angle_addr(text, 0, {text.index("=?u?q?b"): True}) is True
