"""RFC 5322 §3.2 lexical tokens shared by the field codecs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.errors import Defect, ParseError
from stack.mime.fields.lexer import (
    check_text,
    is_atext_word,
    is_domain_literal,
    is_dot_atom_text,
    is_text,
    is_token,
    quote_string,
    read_atom,
    read_domain_literal,
    read_dot_atom,
    read_quoted_string,
    read_token,
    skip_cfws,
    skip_to,
)

printable = st.text(st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters="\x7f"))


@given(printable)
def test_quoted_string_round_trips(value: str) -> None:
    quoted = quote_string(value)
    assert read_quoted_string(quoted, 0, None) == (value, len(quoted))


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("", 0),
        ("   x", 3),
        ("(a comment) x", 12),
        ("(nested (comments (here))) x", 27),
        ("(escaped \\) paren) x", 19),
        (" \t(a)\t(b) x", 10),
        ("x", 0),
    ],
)
def test_cfws_skips_white_space_and_nested_comments(text: str, end: int) -> None:
    assert skip_cfws(text, 0, None) == end


def test_ten_thousand_nested_comments_are_skipped_without_recursion() -> None:
    text = "(" * 10_000 + ")" * 10_000 + "x"
    assert skip_cfws(text, 0, None) == 20_000


def test_unterminated_comment_swallows_the_rest_and_is_reported() -> None:
    defects: list[Defect] = []
    assert skip_cfws("(a (b) c <x@y>", 0, defects) == 14
    assert [defect.kind for defect in defects] == ["unterminated-comment"]
    with pytest.raises(ParseError) as raised:
        skip_cfws("  (open", 0, None)
    assert raised.value.offset == 2


def test_quoted_string_keeps_white_space_and_drops_quoted_pair_backslashes() -> None:
    assert read_quoted_string('"a  \\"b\\" \t\\\\c" rest', 0, None) == ('a  "b" \t\\c', 15)


def test_obs_qp_may_quote_a_control_character_and_is_reported() -> None:
    defects: list[Defect] = []
    assert read_quoted_string('"a\\\x00b"', 0, defects) == ("a\x00b", 6)
    assert [defect.kind for defect in defects] == ["obs-qp"]


@pytest.mark.parametrize(
    ("read", "kind"),
    [
        (lambda defects: read_quoted_string('"a\x06b"', 0, defects), "obs-qtext"),
        (lambda defects: skip_cfws("(a\x7fb) x", 0, defects), "obs-ctext"),
        (lambda defects: read_domain_literal("[a\x01]", 0, defects), "obs-dtext"),
    ],
)
def test_control_characters_are_obsolete_syntax(
    read: Callable[[list[Defect] | None], object], kind: str
) -> None:
    defects: list[Defect] = []
    read(defects)
    assert [defect.kind for defect in defects] == [kind]
    with pytest.raises(ParseError):
        read(None)


def test_tab_is_white_space_not_a_control() -> None:
    defects: list[Defect] = []
    assert read_quoted_string('"a\tb"', 0, defects) == ("a\tb", 5)
    assert defects == []


def test_undecodable_bytes_are_reported_where_they_are() -> None:
    defects: list[Defect] = []
    check_text("ok caf\udce9", defects)
    assert [(defect.kind, defect.offset) for defect in defects] == [("invalid-utf8", 6)]
    check_text("jöran", None)
    with pytest.raises(ParseError):
        check_text("\udcff", None)


@pytest.mark.parametrize(
    ("text", "value", "kinds"),
    [
        ('"abc', "abc", ["unterminated-quoted-string"]),
        ('"', "", ["unterminated-quoted-string"]),
        ('"ab\\', "ab", ["unterminated-quoted-pair", "unterminated-quoted-string"]),
        # A backslash before the last character quotes it, a quote too; every piece is kept.
        ('"a\\"', 'a"', ["unterminated-quoted-string"]),
        ('"a\\"b c', 'a"b c', ["unterminated-quoted-string"]),
    ],
)
def test_unterminated_quoted_string_runs_to_the_end(
    text: str, value: str, kinds: list[str]
) -> None:
    defects: list[Defect] = []
    assert read_quoted_string(text, 0, defects) == (value, len(text))
    assert [defect.kind for defect in defects] == kinds


@pytest.mark.parametrize(
    ("text", "value", "end"),
    [
        ("[192.0.2.1]", "[192.0.2.1]", 11),
        ("[ IPv6:2001:db8::1 ]x", "[IPv6:2001:db8::1]", 20),
        ("[]", "[]", 2),
    ],
)
def test_domain_literal_keeps_brackets_and_drops_folding(text: str, value: str, end: int) -> None:
    assert read_domain_literal(text, 0, None) == (value, end)


def test_domain_literal_obs_forms_are_reported() -> None:
    defects: list[Defect] = []
    assert read_domain_literal("[a\\]b", 0, defects) == ("[a]b]", 5)
    assert [defect.kind for defect in defects] == ["obs-dtext", "unterminated-domain-literal"]


def test_atoms_dot_atoms_and_tokens() -> None:
    assert read_atom("abc.def", 0) == ("abc", 3)
    assert read_atom("(x)", 0) == ("", 0)
    assert read_dot_atom("a.b.c d", 0) == ("a.b.c", 5)
    assert read_dot_atom("a.b. c", 0) == ("a.b", 3)
    assert read_dot_atom("jöran.bücher", 0) == ("jöran.bücher", 12)
    assert read_token("text/plain", 0) == ("text", 4)
    assert read_token("utf-8''%E2", 0) == ("utf-8''%E2", 10)


def test_predicates_used_by_the_encoders() -> None:
    assert is_atext_word("Joe")
    assert not is_atext_word("Joe.")
    assert not is_atext_word("")
    assert is_dot_atom_text("a.b")
    assert not is_dot_atom_text("a..b")
    assert not is_dot_atom_text(".a")
    assert is_token("us-ascii")
    assert not is_token("a b")
    assert is_domain_literal("[192.0.2.1]")
    assert not is_domain_literal("[a]b]")
    assert not is_domain_literal("[a b]")
    assert is_text("é")
    assert not is_text("\udce9")


def test_recovery_skips_to_the_next_separator_outside_quotes_and_comments() -> None:
    text = 'a "b, c" (d, e) [f,g] h, i'
    assert skip_to(text, 0, ",") == text.index(", i")
    assert skip_to("no separator", 0, ",") == len("no separator")
