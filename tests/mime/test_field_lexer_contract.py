"""The lexer's contract, point by point: where each reader stops, where each defect points and
what it says, and that strict mode is lenient mode refusing to record.

Written for issue 18 from the mutants of stack/mime/fields/lexer.py that no test noticed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from field_reasons import states
from hypothesis import given

from harness.strategies import cfws, quoted_string
from harness.strategies.rfc5322 import DTEXT, VCHAR
from stack.mime.errors import Defect, ParseError
from stack.mime.fields.lexer import (
    check_controls,
    check_text,
    is_domain_literal,
    is_quotable,
    read_domain_literal,
    read_dotted,
    read_quoted_string,
    recover,
    report,
    skip_cfws,
    skip_run,
    skip_to,
    skip_wsp,
)

Reader = Callable[[str, list[Defect] | None], object]


@given(cfws())
def test_cfws_as_the_grammar_writes_it_is_skipped_whole(text: str) -> None:
    assert skip_cfws(text + "x", 0, []) == len(text)
    assert skip_cfws("x" + text + "y", 1, []) == len(text) + 1


@given(quoted_string())
def test_a_quoted_string_as_the_grammar_writes_it_reads_as_its_value(
    wire: tuple[str, str],
) -> None:
    text, value = wire
    assert read_quoted_string(text + " x", 0, []) == (value, len(text))


def test_report_records_or_raises_the_same_problem() -> None:
    defects: list[Defect] = []
    report(defects, "some-kind", 3, "what is wrong")
    report(defects, "other-kind", 4)
    assert defects == [Defect("some-kind", 3, "what is wrong"), Defect("other-kind", 4, "")]
    with pytest.raises(ParseError) as error:
        report(None, "some-kind", 3, "what is wrong")
    assert (error.value.offset, error.value.reason) == (3, "what is wrong")
    # Without a detail the kind itself is the reason, in words.
    with pytest.raises(ParseError) as error:
        report(None, "other-kind", 4)
    assert (error.value.offset, error.value.reason) == (4, "other kind")


def test_recover_records_the_error_and_resumes_at_the_next_separator() -> None:
    error = ParseError("bad element", 2)
    defects: list[Defect] = []
    assert recover(error, defects, "invalid-element", 'a b "c,d", e', 1, ",") == 9
    assert defects == [Defect("invalid-element", 2, "bad element")]
    with pytest.raises(ParseError) as raised:
        recover(error, None, "invalid-element", "a, b", 0, ",")
    assert raised.value is error


def comments(text: str, defects: list[Defect] | None) -> object:
    return skip_cfws(text, 0, defects)


def quoted(text: str, defects: list[Defect] | None) -> object:
    return read_quoted_string(text, 0, defects)


def literal(text: str, defects: list[Defect] | None) -> object:
    return read_domain_literal(text, 0, defects)


def dotted(text: str, defects: list[Defect] | None) -> object:
    return read_dotted(text, 0, defects, "obs-x", "a name")


# (reader, text, kind, the text the defect is about, a phrase of its detail)
DEFECTS: list[tuple[Reader, str, str, str, str]] = [
    (comments, " (a (b) c", "unterminated-comment", "(a", "never closed"),
    (comments, "(a) (b\\\x01)", "obs-qp", "\x01", "'\\x01'"),
    (comments, "(a) (b \x7f)", "obs-ctext", "\x7f", "'\\x7f'"),
    (quoted, '"ab\\', "unterminated-quoted-pair", "\\", "at end of value"),
    (quoted, '"a b', "unterminated-quoted-string", '"', "never closed"),
    (quoted, '"a\\\x00"', "obs-qp", "\x00", "'\\x00'"),
    (quoted, '"ab\x0b"', "obs-qtext", "\x0b", "'\\x0b'"),
    (literal, "[a\\b]", "obs-dtext", "\\", "quoted-pair"),
    (literal, "[a[b]", "invalid-domain-literal", "[b", "'['"),
    (literal, "[ab\\", "invalid-domain-literal", "\\", "'\\\\'"),
    (literal, "[a\x01]", "obs-dtext", "\x01", "'\\x01'"),
    (literal, "[a", "unterminated-domain-literal", "[", "never closed"),
    (check_text, "ab\udcffc", "invalid-utf8", "\udcff", "not UTF-8"),
    (dotted, "a .b", "obs-x", "a", "in a name"),
    (dotted, "a. b", "obs-x", "a", "in a name"),
    (dotted, "a(c).b", "obs-x", "a", "CFWS around '.'"),
    # A comment on either side of a dot keeps its own defects in lenient mode.
    (dotted, "a(\x01).b", "obs-ctext", "\x01", "'\\x01'"),
    (dotted, "a.(\x01)b", "obs-ctext", "\x01", "'\\x01'"),
    # A backslash before the last character still quotes it (obs-dtext, RFC 5322 §4.4).
    (literal, "[a\\]", "obs-dtext", "\\", "quoted-pair"),
    (literal, "[a\\]", "unterminated-domain-literal", "[", "never closed"),
]


@pytest.mark.parametrize(("read", "text", "kind", "at", "says"), DEFECTS)
def test_a_defect_points_at_its_text_and_says_what_is_wrong(
    read: Reader, text: str, kind: str, at: str, says: str
) -> None:
    defects: list[Defect] = []
    read(text, defects)
    found = [defect for defect in defects if defect.kind == kind]
    assert len(found) == 1, defects
    assert found[0].offset == text.index(at)
    assert states(found[0].detail, says), found[0]
    with pytest.raises(ParseError) as error:
        read(text, None)
    assert (error.value.offset, error.value.reason) == (defects[0].offset, defects[0].detail)


def test_a_control_is_reported_once_where_it_first_is() -> None:
    defects: list[Defect] = []
    check_controls("ab\x01c\x02", 10, defects, "obs-x")
    assert defects == [Defect("obs-x", 12, "control character '\\x01'")]
    check_controls("a\tb", 0, defects, "obs-x")
    assert len(defects) == 1


@pytest.mark.parametrize(
    ("text", "pos", "end"),
    [
        ("a (b) c", 1, 6),
        ("a (b)(c)x", 1, 8),
        ("(a)", 0, 3),
        ("((a)b)c", 0, 6),
        ("(a\\)b)c", 0, 6),
        ("(a\\b)c", 0, 5),
        ("(a\\", 0, 3),
        ("x", 1, 1),
        ("  ", 0, 2),
        ("a  b", 1, 3),
    ],
)
def test_cfws_ends_exactly_before_what_follows_it(text: str, pos: int, end: int) -> None:
    assert skip_cfws(text, pos, []) == end


@pytest.mark.parametrize(
    ("text", "value", "end"),
    [
        ('"a\\"b" x', 'a"b', 6),
        ('"" x', "", 2),
        ('"a\\\\" x', "a\\", 5),
        ('"a  b\t"x', "a  b\t", 7),
        ('x"a"', "a", 4),
    ],
)
def test_a_quoted_string_ends_after_its_closing_quote(text: str, value: str, end: int) -> None:
    start = text.index('"')
    assert read_quoted_string(text, start, None) == (value, end)


@pytest.mark.parametrize(
    ("text", "value", "end"),
    [
        ("[a]x", "[a]", 3),
        ("x[ a \t b ]", "[ab]", 10),
        ("[a\\]]", "[a]]", 5),
        # A stray "[" is reported and left out; the dtext after it is kept.
        ("[a[b]x", "[ab]", 5),
        ("[a", "[a]", 2),
    ],
)
def test_a_domain_literal_ends_after_its_bracket(text: str, value: str, end: int) -> None:
    assert read_domain_literal(text, text.index("["), []) == (value, end)


@pytest.mark.parametrize(
    ("text", "stops", "end"),
    [
        ('a "b;c" d; e', ";", 9),
        ("a (b;c) d; e", ";", 9),
        ("a [b;c] d; e", ";", 9),
        ("a,b;c", ";,", 1),
        ("abc", ";", 3),
        ('"a;', ";", 3),
    ],
)
def test_skip_to_passes_quotes_comments_and_literals(text: str, stops: str, end: int) -> None:
    assert skip_to(text, 0, stops) == end


def test_runs_of_characters_are_skipped_whole() -> None:
    assert skip_run(";;, ;x", 0, ";, ") == 5
    assert skip_run("x;;", 0, ";") == 0
    assert skip_run("a;;", 1, ";") == 3
    assert skip_wsp(" \t x", 0) == 3
    assert skip_wsp("x ", 0) == 0


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("[1.2.3.4]", True),
        ("[]", True),
        ("[é]", True),
        ("1.2.3.4]", False),
        ("[1.2.3.4", False),
        ("[a\\b]", False),
        ("[a\tb]", False),
        ("[a[b]", False),
        ("[a\x01]", False),
        ("[a\udce9]", False),
        ("[", False),
        # The first character inside the brackets counts as much as any other.
        ("[ a]", False),
        ("[[a]", False),
        ("[]a]", False),
        ("[\\a]", False),
        ("[\x01a]", False),
    ],
)
def test_a_domain_literal_is_writable_only_as_dtext_between_brackets(
    value: str, literal: bool
) -> None:
    assert is_domain_literal(value) is literal


@pytest.mark.parametrize(
    ("value", "quotable"),
    [("a b\tc", True), ("é", True), ("a\x01", False), ("a\x7f", False), ("\udce9", False)],
)
def test_quotable_text_is_utf8_without_controls(value: str, quotable: bool) -> None:
    assert is_quotable(value) is quotable


@pytest.mark.parametrize("text", ["c@d (\x01), e@f", 'c@d "\x01", e@f', "c@d [\x01], e@f"])
def test_skipping_to_a_stop_reports_nothing_it_passes(text: str) -> None:
    # What is skipped was already reported as unreadable; its own problems are not again.
    assert skip_to(text, 0, ",") == text.index(",")


@pytest.mark.parametrize("char", DTEXT)
def test_every_dtext_character_is_read_and_written_as_it_is(char: str) -> None:
    # RFC 5322 §3.4.1: dtext is printable ASCII but "[", "]" and "\\", whichever it is and
    # wherever it stands in the literal.
    for literal in (f"[{char}]", f"[a {char}]"):
        defects: list[Defect] = []
        assert read_domain_literal(literal + "x", 0, defects) == (
            literal.replace(" ", ""),
            len(literal),
        )
        assert defects == []
    assert is_domain_literal(f"[{char}]")


@pytest.mark.parametrize("char", VCHAR.replace("(", ""))
def test_cfws_ends_before_any_other_printable_character(char: str) -> None:
    assert skip_cfws(f" (a) {char}b", 0, []) == 5
    assert skip_cfws(f"(a){char}", 0, []) == 3


def test_a_quoted_pair_in_a_comment_quotes_one_character_only() -> None:
    # The control after the quoted character is ctext again (obs-ctext, RFC 5322 §4.1), not
    # part of the quoted-pair.
    defects: list[Defect] = []
    assert skip_cfws("(\\a\x01) x", 0, defects) == 6
    assert [(d.kind, d.offset) for d in defects] == [("obs-ctext", 3)]
