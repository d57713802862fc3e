"""RFC 5322 §3.4 addresses: Appendix A examples, obs- forms, known attacks, round trips."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.address import (
    Address,
    Group,
    Mailbox,
    decode_address_list,
    decode_mailbox,
    decode_mailbox_list,
    encode_address_list,
    encode_mailbox,
    encode_mailbox_list,
)

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"

atom = st.text(st.sampled_from(ATEXT), min_size=1, max_size=12)
utf8_atom = st.text(st.characters(min_codepoint=0x80, codec="utf-8"), min_size=1)
dot_atom = st.lists(st.one_of(atom, utf8_atom), min_size=1, max_size=4).map(".".join)
# Anything a quoted-string can carry: printable text, spaces and tabs.
quoted_local = st.text(
    st.one_of(st.characters(categories=("L", "N", "P", "S")), st.sampled_from(' \t"\\@,')),
    max_size=20,
)
domain_literal = st.sampled_from(["[192.0.2.1]", "[IPv6:2001:db8::1]", "[x:y]"])
domains = st.one_of(st.lists(atom, min_size=1, max_size=4).map(".".join), domain_literal)
escaped_byte = st.integers(0x80, 0xFF).map(lambda byte: chr(0xDC00 + byte))
names = st.one_of(
    st.none(),
    st.text(st.one_of(st.characters(codec="utf-8"), escaped_byte)),
    st.sampled_from(["Doe, John", "a@b.example", '"', "\\", "=?utf-8?q?x?=", " x ", ""]),
)
mailboxes = st.builds(Mailbox, names, st.one_of(dot_atom, quoted_local), domains)
groups = st.builds(
    Group,
    names.filter(lambda name: name is not None).map(str),
    st.lists(mailboxes, max_size=3).map(tuple),
)
address_lists = st.lists(st.one_of(mailboxes, groups), min_size=1, max_size=4).map(tuple)


@given(address_lists)
def test_address_list_round_trips(addresses: tuple[Address, ...]) -> None:
    encoded = encode_address_list(addresses)
    assert decode_address_list(" " + encoded) == addresses
    assert encode_address_list(decode_address_list(encoded)) == encoded


@given(st.lists(mailboxes, min_size=1, max_size=4).map(tuple))
def test_mailbox_list_round_trips(boxes: tuple[Mailbox, ...]) -> None:
    encoded = encode_mailbox_list(boxes)
    assert decode_mailbox_list(encoded) == boxes


@given(mailboxes)
def test_encoded_mailbox_is_one_line_without_overlong_words(mailbox: Mailbox) -> None:
    encoded = encode_mailbox(mailbox)
    assert "\r" not in encoded
    assert "\n" not in encoded
    assert decode_mailbox(encoded) == mailbox


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RFC 5322 Appendix A.1.1
        (
            "John Doe <jdoe@machine.example>",
            (Mailbox("John Doe", "jdoe", "machine.example"),),
        ),
        (
            "Mary Smith <mary@example.net>",
            (Mailbox("Mary Smith", "mary", "example.net"),),
        ),
        # A.1.2
        (
            '"Joe Q. Public" <john.q.public@example.com>',
            (Mailbox("Joe Q. Public", "john.q.public", "example.com"),),
        ),
        (
            "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
            (
                Mailbox("Mary Smith", "mary", "x.test"),
                Mailbox(None, "jdoe", "example.org"),
                Mailbox("Who?", "one", "y.test"),
            ),
        ),
        (
            '<boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>',
            (
                Mailbox(None, "boss", "nil.test"),
                Mailbox('Giant; "Big" Box', "sysservices", "example.net"),
            ),
        ),
        # A.1.3
        (
            "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
            (
                Group(
                    "A Group",
                    (
                        Mailbox("Ed Jones", "c", "a.test"),
                        Mailbox(None, "joe", "where.test"),
                        Mailbox("John", "jdoe", "one.test"),
                    ),
                ),
            ),
        ),
        ("Undisclosed recipients:;", (Group("Undisclosed recipients", ()),)),
        # A.5: white space, comments and other oddities
        (
            "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
            (Mailbox("Pete", "pete", "silly.test"),),
        ),
        (
            "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,"
            " joe@example.org, John <jdoe@one.test> (my dear friend); (the end of the group)",
            (
                Group(
                    "A Group",
                    (
                        Mailbox("Chris Jones", "c", "public.example"),
                        Mailbox(None, "joe", "example.org"),
                        Mailbox("John", "jdoe", "one.test"),
                    ),
                ),
            ),
        ),
        (
            "(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
            (Group("Hidden recipients", ()),),
        ),
        # Domain literals keep their brackets; domains keep their case.
        ("x <a@[IPv6:2001:db8::1]>", (Mailbox("x", "a", "[IPv6:2001:db8::1]"),)),
        ("a@[ 192.0.2.1 ]", (Mailbox(None, "a", "[192.0.2.1]"),)),
        ("a@Example.ORG", (Mailbox(None, "a", "Example.ORG"),)),
        # RFC 2047 §8 display names
        (
            "=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>",
            (Mailbox("Keith Moore", "moore", "cs.utk.edu"),),
        ),
        (
            "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
            (Mailbox("Keld Jørn Simonsen", "keld", "dkuug.dk"),),
        ),
        (
            "=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
            (Mailbox("André Pirard", "PIRARD", "vm1.ulg.ac.be"),),
        ),
        # RFC 6532: UTF-8 everywhere
        ("Jöran <jöran@bücher.example>", (Mailbox("Jöran", "jöran", "bücher.example"),)),
        ('"john doe"@example.org', (Mailbox(None, "john doe", "example.org"),)),
    ],
)
def test_rfc_examples_decode(text: str, expected: tuple[Address, ...]) -> None:
    # Unfolding has already happened when a value reaches the codec.
    assert decode_address_list(text.replace("\r\n", "")) == expected


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        # RFC 5322 Appendix A.6.1-A.6.3 and §4.4 obs- forms
        (
            "Joe Q. Public <john.q.public@example.com>",
            (Mailbox("Joe Q. Public", "john.q.public", "example.com"),),
            ["obs-phrase"],
        ),
        (
            "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
            (Mailbox("Mary Smith", "mary", "example.net"), Mailbox(None, "jdoe", "test.example")),
            ["obs-route", "obs-addr-list", "obs-domain"],
        ),
        (
            "John Doe <jdoe@machine(comment).  example>",
            (Mailbox("John Doe", "jdoe", "machine.example"),),
            ["obs-domain"],
        ),
        (
            "<@a.test,@b.test:x@y.test>",
            (Mailbox(None, "x", "y.test"),),
            ["obs-route"],
        ),
        ("a . b@c", (Mailbox(None, "a.b", "c"),), ["obs-local-part"]),
        ('"a".b@c', (Mailbox(None, "a.b", "c"),), ["obs-local-part"]),
        ("Name <a@b", (Mailbox("Name", "a", "b"),), ["missing-angle-bracket"]),
        ("g: a@b", (Group("g", (Mailbox(None, "a", "b"),)),), ["missing-group-terminator"]),
    ],
)
def test_obsolete_syntax_is_read_and_reported(
    text: str, expected: tuple[Address, ...], kinds: list[str]
) -> None:
    defects: list[Defect] = []
    assert decode_address_list(text, defects) == expected
    assert sorted({defect.kind for defect in defects}) == sorted(set(kinds))
    with pytest.raises(ParseError):
        decode_address_list(text)


def test_comment_cannot_smuggle_a_second_address() -> None:
    # CVE-2023-27043
    defects: list[Defect] = []
    assert decode_address_list("alice@example.org(<bob@example.org>", defects) == (
        Mailbox(None, "alice", "example.org"),
    )
    assert [defect.kind for defect in defects] == ["unterminated-comment"]
    with pytest.raises(ParseError):
        decode_address_list("alice@example.org(<bob@example.org>")


@pytest.mark.parametrize(
    "name", ["a@b.example, c@d.example", "Doe, John", "x <evil@example.org>", 'q"uo\\te']
)
def test_specials_in_a_display_name_never_change_the_address(name: str) -> None:
    # gh-80222, gh-121284: a comma or '@' in a name must stay inside quotes.
    mailbox = Mailbox(name, "real", "example.org")
    assert decode_address_list(encode_address_list((mailbox,))) == (mailbox,)


def test_non_ascii_display_name_is_written_as_encoded_words() -> None:
    encoded = encode_mailbox(Mailbox("Jörg, der Große", "j", "example.org"))
    assert encoded.isascii()
    assert encoded.startswith("=?utf-8?")


def test_display_name_with_cr_lf_cannot_inject_a_header() -> None:
    encoded = encode_mailbox(Mailbox("x\r\nBcc: victim@example.org", "a", "example.org"))
    assert "\r" not in encoded
    assert "\n" not in encoded


def test_quoted_string_that_looks_encoded_is_not_decoded() -> None:
    assert decode_mailbox('"=?utf-8?q?x?=" <a@b>').name == "=?utf-8?q?x?="


@pytest.mark.parametrize("text", ["a@b,", "a@b,,c@d", ",a@b", "a@b, ,c@d"])
def test_empty_list_elements_and_trailing_comma_are_defects_not_crashes(text: str) -> None:
    defects: list[Defect] = []
    assert all(isinstance(m, Mailbox) for m in decode_address_list(text, defects))
    assert {defect.kind for defect in defects} == {"obs-addr-list"}
    with pytest.raises(ParseError):
        decode_address_list(text)


def test_comment_only_display_name_means_no_name() -> None:
    assert decode_mailbox("(just a comment) <a@b>") == Mailbox(None, "a", "b")


@pytest.mark.parametrize(
    "text", ['"', "<", "<>", "@", ":", ";", "<[...]>", "a@", "@b", "(", "a@b <c", ",", ""]
)
def test_garbage_gives_parse_error_or_defects_never_a_crash(text: str) -> None:
    defects: list[Defect] = []
    decode_address_list(text, defects)
    assert defects
    with pytest.raises(ParseError):
        decode_address_list(text)


def test_unreadable_element_is_skipped_and_the_rest_kept() -> None:
    defects: list[Defect] = []
    assert decode_address_list('a@b, "broken, c@d, <e@f>', defects) == (Mailbox(None, "a", "b"),)
    assert decode_address_list("a@b, nonsense, c@d", defects) == (
        Mailbox(None, "a", "b"),
        Mailbox(None, "c", "d"),
    )
    assert "invalid-address" in {defect.kind for defect in defects}


def test_mailbox_list_refuses_groups() -> None:
    defects: list[Defect] = []
    assert decode_mailbox_list("g: a@b;, c@d", defects) == (Mailbox(None, "c", "d"),)
    assert defects[0].kind == "invalid-address"


def test_glued_encoded_words_with_specials_in_a_name_are_read() -> None:
    defects: list[Defect] = []
    assert decode_mailbox("=?utf-8?q?J._Doe?= <a@b>", defects).name == "J. Doe"
    assert [defect.kind for defect in defects] == ["encoded-word-with-specials"]


def test_adjacent_encoded_words_in_a_name_join_without_space() -> None:
    assert decode_mailbox("=?utf-8?q?a?= =?utf-8?q?b?= c <x@y>").name == "ab c"


def test_addr_spec_quotes_a_local_part_that_is_not_a_dot_atom() -> None:
    assert Mailbox(None, "john doe", "example.org").addr_spec == '"john doe"@example.org'
    assert Mailbox(None, "a..b", "x").addr_spec == '"a..b"@x'
    assert Mailbox(None, "", "x").addr_spec == '""@x'


def test_smtputf8_addresses_are_written_raw() -> None:
    assert encode_mailbox(Mailbox(None, "jöran", "bücher.example")) == "jöran@bücher.example"


@pytest.mark.parametrize(
    "mailbox",
    [
        Mailbox(None, "a\r\nb", "x"),
        Mailbox(None, "a", "bad domain"),
        Mailbox(None, "a", ""),
        Mailbox(None, "caf\udce9", "x"),
    ],
)
def test_unwritable_mailboxes_are_refused(mailbox: Mailbox) -> None:
    with pytest.raises(EncodeError):
        encode_mailbox(mailbox)


def test_empty_list_round_trips_leniently_as_an_empty_value() -> None:
    # "To:" with nothing after it is common in real mail (110 Cc: fields in SpamAssassin).
    assert encode_address_list(()) == ""
    assert encode_mailbox_list(()) == ""
    defects: list[Defect] = []
    assert decode_address_list(" ", defects) == ()
    assert [defect.kind for defect in defects] == ["empty-address-list"]
    with pytest.raises(ParseError):
        decode_address_list(" ")


def test_group_encoding_leaves_a_space_after_each_comma() -> None:
    group = Group("team", (Mailbox(None, "a", "x"), Mailbox("B", "b", "x")))
    assert encode_address_list((group,)) == "team: a@x, B <b@x>;"
    assert encode_address_list((Group("none", ()),)) == "none:;"


def test_trailing_garbage_after_a_single_mailbox_is_reported() -> None:
    defects: list[Defect] = []
    assert decode_mailbox("a@b c", defects) == Mailbox(None, "a", "b")
    assert defects[0].kind == "trailing-garbage"


@pytest.mark.parametrize(
    "text",
    [
        "John Doe <jdoe@example.org>",
        '"Doe, John" <jdoe@example.org>, a@b',
        "jdoe@example.org (John)",
        "=?utf-8?q?J=C3=B6rg?= <j@example.org>",
        "a@b,, c@d",
        "Joe  \t Doe <a@b>; x",
        "g: a@b, Joe <c@d>;",
        "=?utf-8?q?a?=@b",
    ],
)
def test_fast_and_general_paths_agree(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from stack.mime.fields import address

    def read(decoder: Callable[[str, list[Defect] | None], object]) -> object:
        defects: list[Defect] = []
        try:
            return decoder(text, defects), defects
        except ParseError as error:
            return error.offset, error.reason

    fast = [read(decode_address_list), read(decode_mailbox_list), read(decode_mailbox)]
    monkeypatch.setattr(address, "_fast_mailbox", lambda text, pos, stops: None)
    assert [read(decode_address_list), read(decode_mailbox_list), read(decode_mailbox)] == fast
