"""The lossless layer: every byte kept, structure found, edits that touch nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.errors import EncodeError
from stack.mime.lossless import MAX_DEPTH, Field, parse

SIMPLE = b"From: a@example.org\r\nSubject: hello\r\n  world\r\n\r\nbody\r\n"

MULTIPART = (
    b'Content-Type: multipart/mixed; boundary="b1"\n'
    b"\n"
    b"preamble\n"
    b"--b1\n"
    b"Content-Type: text/plain\n"
    b"\n"
    b"one\n"
    b"--b1  \n"
    b"\n"
    b"two\n"
    b"--b1--\n"
    b"epilogue\n"
)

# Pieces that make byte strings look like mail, so that random inputs reach deep paths.
_PIECES = st.sampled_from(
    [
        b"\r\n", b"\n", b"\r", b" ", b"\t", b":", b"--", b"--b", b"--b--",
        b"Content-Type: multipart/mixed; boundary=b", b"Content-Type: message/rfc822",
        b"Content-Transfer-Encoding: base64", b"Subject: x", b"From ", b"\r\n\r\n", b"\n\n",
        b"\x00", b"\xff", b"=?utf-8?q?x?=",
    ]
)  # fmt: skip
MAILISH = st.lists(st.one_of(_PIECES, st.binary(max_size=8)), max_size=40).map(b"".join)


@given(st.binary())
def test_any_bytes_survive(data: bytes) -> None:
    message = parse(data)
    for _ in message.walk():
        pass
    assert bytes(message) == data


@given(MAILISH)
def test_mail_like_bytes_survive_with_structure_forced(data: bytes) -> None:
    message = parse(data)
    for node in message.walk():
        for field in node.fields:
            field.unfolded()
    assert bytes(message) == data


def test_header_fields_keep_their_folding() -> None:
    message = parse(SIMPLE)
    assert [field.name for field in message.fields] == ["From", "Subject"]
    subject = message.get("subject")
    assert subject is not None
    assert subject.raw == b"Subject: hello\r\n  world\r\n"
    assert subject.unfolded() == " hello  world"
    assert message.body == b"body\r\n"
    assert message.separator == b"\r\n"


def test_multipart_splits_into_preamble_parts_and_epilogue() -> None:
    message = parse(MULTIPART)
    multipart = message.multipart
    assert multipart is not None
    assert multipart.preamble == b"preamble"
    assert [bytes(part) for part in multipart.parts] == [
        b"Content-Type: text/plain\n\none",
        b"\ntwo",
    ]
    assert multipart.delimiters == [b"\n--b1\n", b"\n--b1  \n"]
    assert multipart.closing == b"\n--b1--\n"
    assert multipart.epilogue == b"epilogue\n"
    assert message.parts[1].fields == []
    assert message.parts[1].body == b"two"
    assert bytes(message) == MULTIPART


def test_boundary_must_start_a_line_and_carry_only_padding() -> None:
    data = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx --b\n--bx\n--b junk\n--b--\n"
    message = parse(data)
    assert len(message.parts) == 1
    assert message.parts[0].body == b"x --b\n--bx\n--b junk"


def test_missing_close_delimiter_is_a_defect_not_an_error() -> None:
    data = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nonly part\n"
    message = parse(data)
    assert message.parts[0].body == b"only part\n"
    assert [d.kind for d in message.defects] == ["missing-close-delimiter"]
    assert bytes(message) == data


def test_empty_part_between_two_boundaries() -> None:
    data = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"
    message = parse(data)
    assert [bytes(part) for part in message.parts] == [b"", b"\r\nx"]


def test_digest_parts_default_to_message_rfc822() -> None:
    data = b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: inner\n\nhi\n--d--\n"
    part = parse(data).parts[0]
    assert part.mime_type == "message/rfc822"
    embedded = part.embedded
    assert embedded is not None
    assert embedded.get("subject") is not None


def test_mbox_from_line_is_kept_and_is_not_a_field() -> None:
    data = b"From someone@example.org Thu Aug 22 12:36:23 2002\nSubject: s\n\nbody"
    message = parse(data)
    assert not message.fields[0].is_field
    assert message.get("subject") is not None
    assert message.defects == []


def test_a_non_field_line_ends_the_header() -> None:
    data = b"Subject: s\nthis is not a field\nmore\n"
    message = parse(data)
    assert [field.name for field in message.fields] == ["Subject"]
    assert message.body == b"this is not a field\nmore\n"
    assert message.defects[0].kind == "missing-header-separator"
    assert message.defects[0].offset == len(b"Subject: s\n")


def test_obsolete_white_space_before_the_colon_is_accepted() -> None:
    field = parse(b"Subject  : old style\n\n").fields[0]
    assert field.is_field
    assert field.name == "Subject"
    assert field.unfolded() == " old style"


def test_prepending_a_field_changes_no_other_byte() -> None:
    message = parse(MULTIPART)
    message.prepend("Received", "from a by b; Tue, 1 Jul 2003 10:52:37 +0200")
    out = bytes(message)
    assert out == b"Received: from a by b; Tue, 1 Jul 2003 10:52:37 +0200\n" + MULTIPART


def test_prepend_goes_below_the_mbox_from_line() -> None:
    message = parse(b"From x Thu Aug 22 12:36:23 2002\r\nSubject: s\r\n\r\nb")
    message.prepend("X-Spamtacus", "no")
    assert bytes(message) == (
        b"From x Thu Aug 22 12:36:23 2002\r\nX-Spamtacus: no\r\nSubject: s\r\n\r\nb"
    )


def test_remove_and_replace_touch_only_their_fields() -> None:
    message = parse(b"A: 1\r\nB: 2\r\nA: 3\r\nC: 4\r\n\r\nbody")
    assert message.remove("a") == 2
    assert bytes(message) == b"B: 2\r\nC: 4\r\n\r\nbody"
    message.replace("C", "five")
    assert bytes(message) == b"B: 2\r\nC: five\r\n\r\nbody"


@pytest.mark.parametrize(
    "value",
    [
        "x\r\nBcc: victim@example.org",
        "x\nBcc: victim@example.org",
        "x\r",
        "x\r\n",
        "x\r\n \r\n y",
    ],
)
def test_a_value_that_would_inject_a_line_is_refused(value: str) -> None:
    with pytest.raises(EncodeError):
        Field.build("Subject", value)


def test_a_folded_value_is_accepted() -> None:
    assert Field.build("Subject", "a\r\n b").raw == b"Subject: a\r\n b\r\n"


def test_nesting_deeper_than_the_limit_is_left_opaque() -> None:
    data = b"Content-Type: message/rfc822\n\n" * (MAX_DEPTH + 5) + b"core"
    message = parse(data)
    depth = sum(1 for _ in message.walk())
    assert depth == MAX_DEPTH + 1
    assert any(d.kind == "nesting-too-deep" for d in message.all_defects())
    assert bytes(message) == data


def test_offsets_are_absolute_in_the_message() -> None:
    message = parse(MULTIPART)
    first = message.parts[0]
    assert MULTIPART[first.offset : first.offset + 12] == b"Content-Type"
    assert first.fields[0].offset == first.offset


def test_many_parts_split_in_linear_time() -> None:
    parts = 20_000
    body = b"".join(b"--b\n\npart\n" for _ in range(parts)) + b"--b--\n"
    data = b"Content-Type: multipart/mixed; boundary=b\n\n" + body
    message = parse(data)
    assert len(message.parts) == parts
    assert bytes(message) == data


def test_comment_between_type_and_subtype_still_makes_a_multipart() -> None:
    # Found by harness.strategies: RFC 2045 5.1 allows comments between any two tokens.
    data = (
        b"Content-Type: multipart (a comment) /mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b--\r\n"
    )
    message = parse(data)
    assert message.mime_type == "multipart/mixed"
    assert len(message.parts) == 1


def test_a_delimiter_right_after_a_delimiter_does_not_reuse_its_line_break() -> None:
    # Found by the mime_parse fuzzer: both delimiters claimed the same CRLF.
    data = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n--b--\r\n"
    message = parse(data)
    assert [bytes(part) for part in message.parts] == [b"", b""]
    assert message.multipart is not None
    assert message.multipart.delimiters == [b"--b\r\n", b"--b\r\n"]
    assert bytes(message) == data


def test_prepend_to_a_lone_from_line_without_line_break_goes_first() -> None:
    message = parse(b"From x")
    message.prepend("X-Spamtacus", "no")
    assert bytes(message) == b"X-Spamtacus: no\r\nFrom x"


def test_comment_before_the_transfer_encoding_still_names_it() -> None:
    # Found by harness.strategies: Content-Transfer-Encoding is a structured field (RFC 2045 6.1).
    data = b"Content-Transfer-Encoding: (sent by x) BASE64\r\n\r\naGk=\r\n"
    assert parse(data).transfer_encoding == "base64"
