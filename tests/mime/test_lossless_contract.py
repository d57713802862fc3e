"""What stack.mime.lossless promises beyond test_lossless.py: how Field.build writes and
refuses a value (and says why), and how the header edits place and remove fields."""

from __future__ import annotations

import pytest

from stack.mime.errors import EncodeError
from stack.mime.folding import LIMIT
from stack.mime.lossless import Field, Multipart, parse
from stack.mime.safe import UnsafeTextError


def test_a_field_read_from_bytes_alone_is_at_offset_zero() -> None:
    assert Field(b"Subject: s\r\n").offset == 0
    assert Field.build("Subject", "s").offset == 0


@pytest.mark.parametrize("line", [b"not a field\r\n", b": no name\r\n", b"From x\n", b" folded\n"])
def test_a_line_that_is_not_a_field_has_no_name(line: bytes) -> None:
    field = Field(line)
    assert not field.is_field
    assert field.name == ""


def test_an_empty_value_is_written_as_the_name_and_colon_alone() -> None:
    assert Field.build("X-Empty", "").raw == b"X-Empty:\r\n"
    assert Field.build("X-Empty", "", linesep=b"\n").raw == b"X-Empty:\n"


@pytest.mark.parametrize("fold", ["\r\n", "\n"])
def test_a_fold_is_written_with_the_line_ending_asked_for(fold: str) -> None:
    value = f"first{fold} second{fold}\tthird"
    assert Field.build("Subject", value).raw == b"Subject: first\r\n second\r\n\tthird\r\n"
    assert Field.build("Subject", value, linesep=b"\n").raw == b"Subject: first\n second\n\tthird\n"


@pytest.mark.parametrize(
    "continuation",
    [
        "X",  # "Mac OS\r\n X": a one-letter word is a line's content, not padding
        "\u00a0",  # a no-break space is a character (RFC 6532), not white space to fold on
        "\tword ",
    ],
)
def test_a_continuation_line_with_any_content_is_a_fold(continuation: str) -> None:
    field = Field.build("Subject", f"Mac OS\r\n {continuation}")
    assert field.unfolded() == f" Mac OS {continuation}"


def test_an_invalid_name_is_refused_and_the_error_quotes_it() -> None:
    with pytest.raises(EncodeError, match="invalid field name 'Bad Name'"):
        Field.build("Bad Name", "x")


@pytest.mark.parametrize("value", ["x\r\nBcc: victim@example.org", "x\n", "x\r\n \r\n y"])
def test_an_injected_line_is_refused_and_the_error_says_so(value: str) -> None:
    with pytest.raises(EncodeError, match=r"^Subject field value would inject a line"):
        Field.build("Subject", value)


@pytest.mark.parametrize("value", ["x\r", "a\r b", "a\r\r\n b"])
def test_a_bare_cr_is_refused_and_the_error_says_so(value: str) -> None:
    with pytest.raises(EncodeError, match=r"^Subject field value contains a bare CR"):
        Field.build("Subject", value)


@pytest.mark.parametrize(
    ("value", "offset"),
    [
        ("a\x00", 1),
        # The offset counts characters of the unfolded value: a fold is no character.
        ("a\r\n b\x00", 3),
        ("a\n b\x00", 3),
        ("\ta\x00", 2),  # a tab is one character, read as a space
    ],
)
def test_a_control_character_is_refused_where_it_is_in_the_unfolded_value(
    value: str, offset: int
) -> None:
    with pytest.raises(UnsafeTextError) as error:
        Field.build("Subject", value)
    assert error.value.offset == offset
    assert str(error.value).startswith("Subject field: ")


def _line(name: str, size: int) -> str:
    """A value that makes ``name: value`` a line of ``size`` octets."""
    return "v" * (size - len(name) - 2)


def test_lines_of_exactly_the_limit_are_accepted_however_the_value_is_folded() -> None:
    # RFC 5322 2.1.1: 998 octets, not counting the CRLF, on each line; the limit is per line.
    first = _line("Subject", LIMIT)
    for fold in ("\r\n", "\n"):
        value = first + fold + " " + "w" * (LIMIT - 1)
        field = Field.build("Subject", value)
        assert [len(line) for line in field.raw.split(b"\r\n")[:-1]] == [LIMIT, LIMIT]


def test_a_line_over_the_limit_is_refused_and_the_error_says_what_to_do() -> None:
    with pytest.raises(EncodeError) as error:
        Field.build("Subject", "a\r\n " + "v" * LIMIT)
    message = str(error.value)
    assert f"a line of {LIMIT + 1} octets" in message
    assert "(RFC 5322 2.1.1)" in message
    assert message.endswith("fold it, or bound what it repeats")


def test_a_part_added_without_its_delimiter_is_not_written_away_silently() -> None:
    message = parse(b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n")
    multipart = message.multipart
    assert isinstance(multipart, Multipart)
    multipart.parts.append(parse(b"\ntwo"))
    with pytest.raises(ValueError, match="zip"):
        bytes(message)


def test_replace_writes_the_line_ending_the_message_uses() -> None:
    message = parse(b"A: 1\nB: 2\n\nbody")
    message.replace("A", "one")
    assert bytes(message) == b"A: one\nB: 2\n\nbody"


def test_replace_removes_every_other_field_of_that_name_adjacent_or_not() -> None:
    message = parse(b"A: 1\r\nA: 2\r\nB: 3\r\na: 4\r\n\r\nbody")
    message.replace("a", "one")
    assert bytes(message) == b"a: one\r\nB: 3\r\n\r\nbody"


def test_replace_of_an_absent_field_adds_it_at_the_top_below_an_mbox_line() -> None:
    message = parse(b"From x Thu Aug 22 12:36:23 2002\nSubject: s\n\nbody")
    field = message.replace("X-Spamtacus", "yes")
    assert message.fields[1] is field
    assert (
        bytes(message) == b"From x Thu Aug 22 12:36:23 2002\nX-Spamtacus: yes\nSubject: s\n\nbody"
    )


@pytest.mark.parametrize(
    ("data", "written"),
    [
        (b"", b"X-Spamtacus: no\r\n"),
        (b"\r\nbody", b"X-Spamtacus: no\r\n\r\nbody"),
        (b"\nbody", b"X-Spamtacus: no\n\nbody"),
    ],
)
def test_a_field_can_be_added_to_a_message_without_a_header(data: bytes, written: bytes) -> None:
    message = parse(data)
    message.prepend("X-Spamtacus", "no")
    assert bytes(message) == written
