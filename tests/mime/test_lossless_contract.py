"""What stack.mime.lossless promises beyond test_lossless.py: how Field.build writes and
refuses a value (and says why), and how the header edits place and remove fields."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest

from stack.mime.errors import EncodeError
from stack.mime.folding import LIMIT
from stack.mime.lossless import MAX_DEPTH, Field, Message, Multipart, parse, split_multipart
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


# -- reading ---------------------------------------------------------------------------------


def test_a_name_outside_ascii_is_not_valid_and_does_not_raise() -> None:
    # RFC 5322 3.6.8: ftext is printable US-ASCII; RFC 6532 leaves field names ASCII.
    assert Field.valid_name("Subject")
    assert not Field.valid_name("Sujét")
    assert not Field.valid_name("")


def test_a_fold_with_a_bare_lf_is_removed_when_unfolding() -> None:
    assert Field(b"Subject: a\n b\n").unfolded() == " a b"
    assert Field(b"Subject: a\r\n\tb\r\n").unfolded() == " a\tb"


def test_a_message_built_directly_is_a_top_level_text_message_with_its_own_defects() -> None:
    message = Message([Field(b"Content-Type: multipart/mixed\r\n")], b"\r\n", b"body")
    other = Message([], b"", b"")
    assert (message.offset, message.depth, other.mime_type) == (0, 0, "text/plain")
    assert message.parts == []
    assert other.defects == []
    (defect,) = message.defects
    assert (defect.kind, defect.offset) == ("missing-boundary", message.body_offset)
    assert defect.detail.startswith("multipart without boundary")


def _levels(message: Message, level: int = 0) -> Iterator[tuple[Message, int]]:
    yield message, level
    if message.embedded is not None:
        yield from _levels(message.embedded, level + 1)
    for part in message.parts:
        yield from _levels(part, level + 1)


NESTED = (
    b"Content-Type: multipart/mixed; boundary=outer\r\n"
    b"\r\n"
    b"--outer\r\n"
    b"\r\n"
    b"a part without a header\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"Content-Type: multipart/digest; boundary=d\r\n"
    b"\r\n"
    b"--d\r\n"
    b"From: a digest entry with a header and no Content-Type\r\n"
    b"\r\n"
    b"Subject: entry\r\n"
    b"\r\n"
    b"entry body\r\n"
    b"--d\r\n"
    b"X-Note: a header without an empty line after it\r\n"
    b"--d--\r\n"
    b"--outer\r\n"
    b" folded start\r\n"
    b"Subject: s\r\n"
    b"\r\n"
    b"x\r\n"
    b"--outer\r\n"
    b"From mbox line\r\n"
    b"Subject: s\r\n"
    b"\r\n"
    b"y\r\n"
    b"--outer\r\n"
    b"Subject: no separator\r\n"
    b"not a field\r\n"
    b"--outer--\r\n"
)


def test_every_node_knows_its_depth_and_where_it_is_in_the_message() -> None:
    message = parse(NESTED)
    nodes = list(_levels(message))
    assert len(nodes) == 11
    for node, level in nodes:
        assert node.depth == level
        assert NESTED[node.offset : node.offset + len(bytes(node))] == bytes(node)
        for field in node.fields:
            assert NESTED[field.offset : field.offset + len(field.raw)] == field.raw
        for defect in node.defects:
            assert node.offset <= defect.offset <= node.offset + len(bytes(node))


def test_parts_default_to_text_plain_and_digest_entries_to_message_rfc822() -> None:
    # RFC 2046 5.1.1 and 5.1.5, whatever shape the part's header has.
    message = parse(NESTED)
    headerless, wrapper, *others = message.parts
    assert headerless.fields == [] and headerless.mime_type == "text/plain"
    assert all(part.mime_type == "text/plain" for part in others)
    inner = wrapper.embedded
    assert inner is not None
    assert inner.mime_type == "multipart/digest"
    entries = inner.parts
    assert [entry.mime_type for entry in entries] == ["message/rfc822"] * 2
    assert entries[0].embedded is not None
    assert entries[0].embedded.get("subject") is not None
    assert entries[1].separator == b""


@pytest.mark.parametrize("value", [b"???", b"(a comment) message (only)", b"message"])
def test_a_digest_entry_whose_content_type_cannot_be_read_is_text(value: bytes) -> None:
    # RFC 2045 5.2: a syntactically invalid Content-Type is taken as text/plain; the digest's
    # default (RFC 2046 5.1.5) stands in only for a field that is not there.  decode reads the
    # entry the same way, so the two layers agree on what the part is.
    data = (
        b"Content-Type: multipart/digest; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: " + value + b"\r\n\r\nSubject: s\r\n\r\nbody\r\n--b--\r\n"
    )
    (entry,) = parse(data).parts
    assert entry.mime_type == "text/plain"
    assert entry.embedded is None


def test_an_embedded_message_without_a_content_type_is_text() -> None:
    message = parse(b"Content-Type: message/rfc822\n\nSubject: s\n\nbody")
    embedded = message.embedded
    assert embedded is not None
    assert embedded.mime_type == "text/plain"
    assert embedded.depth == 1


@pytest.mark.parametrize(
    ("content_type", "encoding", "embedded"),
    [
        ("message/rfc822", "7bit", True),
        ("message/rfc822", "8bit", True),
        ("message/rfc822", "binary", True),
        ("message/global", "8bit", True),  # RFC 6532 3.5
        # RFC 2046 5.2.1: no other encoding is allowed; an encoded body is left opaque.
        ("message/rfc822", "base64", False),
        ("message/global", "quoted-printable", False),
        # RFC 2046 5.2.2 and 5.2.3: a fragment or a reference is not a message.
        ("message/partial", "7bit", False),
        ("message/external-body", "7bit", False),
    ],
)
def test_which_message_bodies_are_read_as_a_message(
    content_type: str, encoding: str, embedded: bool
) -> None:
    data = (
        f"Content-Type: {content_type}\nContent-Transfer-Encoding: {encoding}\n\n"
        "Subject: inner\n\nbody\n"
    ).encode()
    message = parse(data)
    assert (message.embedded is not None) is embedded
    assert bytes(message) == data


def test_nesting_too_deep_is_reported_where_the_opaque_body_starts() -> None:
    data = b"Content-Type: message/rfc822\n\n" * (MAX_DEPTH + 2) + b"core"
    message = parse(data)
    deepest = list(message.walk())[-1]
    assert deepest.depth == MAX_DEPTH
    (defect,) = message.all_defects()
    assert (defect.kind, defect.offset) == ("nesting-too-deep", deepest.body_offset)
    assert str(MAX_DEPTH) in defect.detail


def test_nested_multiparts_stop_at_the_same_depth() -> None:
    data = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (level, level)
        for level in range(MAX_DEPTH + 3)
    )
    message = parse(data)
    assert max(node.depth for node in message.walk()) == MAX_DEPTH
    assert [d.kind for d in message.all_defects()].count("nesting-too-deep") == 1
    assert bytes(message) == data


# -- where the header ends --------------------------------------------------------------------


@pytest.mark.parametrize("first", [b"not a field\n", b"X marks the spot\n", b"from lowercase\n"])
def test_a_first_line_that_is_not_a_field_ends_the_header_at_once(first: bytes) -> None:
    data = first + b"Subject: s\n\nbody"
    message = parse(data)
    assert message.fields == []
    assert message.body == data
    assert [(d.kind, d.offset) for d in message.defects] == [("missing-header-separator", 0)]
    assert message.defects[0].detail.startswith("line is not a field")


def test_an_mbox_line_is_an_envelope_only_at_the_start() -> None:
    message = parse(b"Subject: s\nFrom x Thu Aug 22 12:36:23 2002\nTo: t\n\nbody")
    assert [field.name for field in message.fields] == ["Subject"]
    assert message.defects[0].kind == "missing-header-separator"


def test_a_header_that_starts_folded_is_kept_with_a_defect() -> None:
    data = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n folded\nSubject: s\n\nx\n--b--\n"
    part = parse(data).parts[0]
    assert [field.is_field for field in part.fields] == [False, True]
    (defect,) = part.defects
    assert (defect.kind, defect.offset) == ("continuation-without-field", part.offset)
    assert defect.detail.startswith("header starts folded")
    assert part.body == b"x"


# -- multipart bodies -------------------------------------------------------------------------


def test_a_body_that_starts_with_a_delimiter_and_has_no_final_line_break() -> None:
    message = parse(b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--")
    assert message.multipart is not None
    assert message.multipart.preamble == b""
    assert [part.body for part in message.parts] == [b"one"]
    assert message.multipart.closing == b"\n--b--"


def test_the_crlf_before_the_first_delimiter_belongs_to_it() -> None:
    # RFC 2046 5.1.1: the CRLF preceding the boundary delimiter line is part of the boundary.
    multipart = split_multipart(b"\r\n--b\r\n\r\none\r\n--b--\r\n", b"b")
    assert multipart.preamble == b""
    assert multipart.delimiters == [b"\r\n--b\r\n"]
    assert [part.body for part in multipart.parts] == [b"one"]


def test_a_false_delimiter_does_not_hide_the_real_ones_after_it() -> None:
    body = b"--b\n\nx --b\n--b\n\ntwo\n--b--\n"
    multipart = split_multipart(body, b"b")
    assert [part.body for part in multipart.parts] == [b"x --b", b"two"]


def test_split_multipart_alone_reads_parts_as_first_level_text() -> None:
    multipart = split_multipart(b"--b\nSubject: s\n\none\n--b--\n", b"b")
    (part,) = multipart.parts
    assert (part.offset, part.depth, part.mime_type) == (4, 1, "text/plain")
    assert part.fields[0].offset == 4


def test_split_multipart_without_a_defect_list_still_splits_a_damaged_body() -> None:
    assert [p.body for p in split_multipart(b"--b\n\nopen", b"b").parts] == [b"open"]
    assert split_multipart(b"no delimiter", b"b").preamble == b"no delimiter"


def test_a_multipart_with_only_a_close_delimiter_has_no_parts() -> None:
    data = b"Content-Type: multipart/mixed; boundary=b\n\n--b--\nepilogue\n"
    message = parse(data)
    multipart = message.multipart
    assert multipart is not None
    assert (multipart.preamble, multipart.closing, multipart.epilogue) == (
        b"",
        b"--b--\n",
        b"epilogue\n",
    )
    (defect,) = message.defects
    assert (defect.kind, defect.offset) == ("no-parts", message.body_offset)
    assert defect.detail.startswith("no delimiter line")
    assert bytes(message) == data


def test_a_multipart_without_any_delimiter_is_all_preamble() -> None:
    data = b"Content-Type: multipart/mixed; boundary=b\n\njust text\n"
    message = parse(data)
    multipart = message.multipart
    assert multipart is not None
    assert (multipart.preamble, multipart.closing, multipart.epilogue) == (b"just text\n", b"", b"")
    assert [(d.kind, d.offset) for d in message.defects] == [("no-parts", message.body_offset)]
    assert (multipart.delimiters, multipart.parts) == ([], [])
    assert bytes(message) == data


def test_an_unclosed_multipart_is_reported_at_its_end() -> None:
    data = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nonly part\n"
    message = parse(data)
    assert len(message.parts) == 1
    (defect,) = message.defects
    assert (defect.kind, defect.offset) == ("missing-close-delimiter", len(data))
    assert defect.detail.startswith("multipart not closed")


def test_a_message_without_a_content_type_is_text_plain() -> None:
    # RFC 2045 5.2: the default is text/plain; charset=us-ascii.
    assert parse(b"Subject: s\r\n\r\nbody").mime_type == "text/plain"
    assert parse(b"").mime_type == "text/plain"


def test_get_finds_the_field_by_name_not_by_the_length_of_its_name() -> None:
    message = parse(b"Date: d\r\nFrom: f\r\n\r\n")
    field = message.get("FROM")
    assert field is not None
    assert field.name == "From"
    assert message.get("To") is None


def test_the_header_is_read_no_further_than_its_first_line_that_is_not_a_field() -> None:
    # A body of short lines with no header before it: the header ends at line one, and the
    # rest is body, read as one slice, not line by line (a reader that scanned every line
    # first took 115 MB and 2.6 s on 2 MB of them).
    data = b"not a field\n" + b"a\n" * 200_000
    tracemalloc.start()
    try:
        message = parse(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message.fields == []
    assert [defect.kind for defect in message.defects] == ["missing-header-separator"]
    assert peak < 2 * len(data)
