"""decode and encode: the two isomorphisms, and the facts in ../shared/notes/mime.md."""

from __future__ import annotations

import pytest
from hypothesis import given

from harness.strategies import messages
from stack.mime import (
    ContentType,
    Data,
    EncodeError,
    Header,
    Mail,
    Mailbox,
    Malformed,
    Nested,
    ParseError,
    Parts,
    Text,
    decode,
    encode,
    parse,
)
from stack.mime.check import check, equivalent


# decode(encode(m)) == m and canonical encoding are the harness's properties
# (tests/harness/test_iso_properties.py).  A whole-message example costs hundreds of draws, so
# this test draws one and checks everything else the wire form must satisfy.
@given(messages())
def test_encoded_mail_is_strictly_valid_lossless_crlf_and_short_lined(mail: Mail) -> None:
    wire = encode(mail)
    assert bytes(parse(wire)) == wire
    decode(wire, strict=True)
    header = wire.split(b"\r\n\r\n", 1)[0]
    for line in header.split(b"\r\n"):
        assert len(line) <= 998
        assert b"\r" not in line and b"\n" not in line


HI = Text("hi\n")


def _simple(*headers: Header, body: Text | Data | Parts | Nested = HI) -> Mail:
    return Mail(headers, body)


def test_lf_only_input_is_read_like_crlf() -> None:
    lf = decode(b"Subject: s\nContent-Type: text/plain\n\nline one\nline two\n")
    crlf = decode(b"Subject: s\r\nContent-Type: text/plain\r\n\r\nline one\r\nline two\r\n")
    assert lf == crlf
    assert lf.body == Text("line one\nline two\n")


def test_unknown_type_is_data_not_a_crash() -> None:
    mail = decode(b"Content-Type: binary/octet-stream\r\n\r\n\x00\x01\x02")
    assert mail.body == Data(b"\x00\x01\x02")


def test_quoted_printable_soft_break_then_space_round_trips() -> None:
    mail = decode(
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"caf=C3=A9 is=\r\n a word=\r\n"
    )
    assert mail.body == Text("café is a word")
    assert decode(encode(mail)) == mail


def test_backslash_in_a_parameter_is_escaped_on_output() -> None:
    content_type = ContentType("application", "octet-stream", (("name", 'a\\b"c'),))
    mail = _simple(Header("Content-Type", content_type), body=Data(b"x"))
    wire = encode(mail)
    assert decode(wire).content_type == content_type


def test_empty_part_between_two_boundaries() -> None:
    mail = decode(
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n"
    )
    assert isinstance(mail.body, Parts)
    assert mail.body.parts[0] == Mail((), Text(""))
    assert equivalent(decode(encode(mail)), mail)


def test_header_injection_through_a_subject_is_impossible() -> None:
    mail = _simple(Header("Subject", "hello\r\nBcc: victim@example.org"))
    wire = encode(mail)
    assert b"\r\nBcc:" not in wire
    again = decode(wire)
    assert again.get("subject") == "hello\r\nBcc: victim@example.org"
    assert again.get("bcc") is None


def test_header_injection_through_a_raw_field_is_refused() -> None:
    with pytest.raises(EncodeError):
        encode(_simple(Header("Received", "from a\r\nBcc: victim@example.org")))


def test_invalid_field_name_is_refused() -> None:
    with pytest.raises(EncodeError):
        encode(_simple(Header("Bad Name", "x")))


def test_wrong_value_type_for_a_field_is_refused() -> None:
    with pytest.raises(EncodeError, match="From"):
        encode(_simple(Header("From", "not a tuple of mailboxes")))


def test_boundary_found_in_a_part_is_replaced() -> None:
    inner = Mail((), Text("--clash\n"))
    mail = _simple(
        Header("Content-Type", ContentType("multipart", "mixed", (("boundary", "clash"),))),
        body=Parts((inner, inner)),
    )
    wire = encode(mail)
    again = decode(wire)
    assert again.content_type.boundary != "clash"
    assert equivalent(again, mail)


def test_nested_message_round_trips() -> None:
    inner = _simple(Header("Subject", "inner"), body=Text("inside\n"))
    mail = _simple(Header("Content-Type", ContentType("message", "rfc822", ())), body=Nested(inner))
    assert decode(encode(mail)) == mail


def test_base64_encoded_message_rfc822_is_still_read() -> None:
    import base64

    inner = b"Subject: inner\r\n\r\nbody\r\n"
    mail = decode(
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner)
    )
    assert isinstance(mail.body, Nested)
    assert mail.body.mail.get("subject") == "inner"
    assert decode(encode(mail)) == mail


def test_latin1_text_round_trips() -> None:
    mail = decode(
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9\r\n"
    )
    assert mail.body == Text("café\n")
    assert encode(mail).endswith(b"caf\xe9\r\n")


def test_unknown_charset_keeps_bytes_and_says_so() -> None:
    data = (
        b"From: a@example.org\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
        b"Content-Type: text/plain; charset=x-martian\r\nContent-Transfer-Encoding: 8bit\r\n"
        b"\r\n\xff\xfe"
    )
    mail = decode(data)
    assert mail.body == Data(b"\xff\xfe")
    assert [d.kind for d in mail.defects] == ["unknown-charset"]
    with pytest.raises(ParseError, match="unknown-charset"):
        decode(data, strict=True)


def test_undeclared_8bit_body_bytes_survive() -> None:
    mail = decode(b"Subject: s\r\n\r\nbad \xff byte\r\n")
    assert encode(mail).endswith(b"bad \xff byte\r\n")


def test_strict_mode_names_the_field_and_the_offset() -> None:
    data = b"Subject: ok\r\nDate: Tue, 31 Feb 2003 10:00:00 +0000\r\n\r\n"
    with pytest.raises(ParseError) as caught:
        decode(data, strict=True)
    assert caught.value.field == "Date"
    assert caught.value.offset >= data.index(b"Date:")


def test_lenient_mode_keeps_an_unreadable_field_as_malformed() -> None:
    mail = decode(b"Date: the day after tomorrow\r\n\r\n")
    assert mail.get("date") == Malformed("the day after tomorrow")
    assert mail.defects[0].field == "Date"
    assert b"Date: the day after tomorrow\r\n" in encode(mail)


def test_utf8_header_is_read_as_rfc6532() -> None:
    mail = decode("From: Jörg <jörg@bücher.example>\r\n\r\n".encode())
    assert mail.get("from") == (Mailbox("Jörg", "jörg", "bücher.example"),)


def test_comment_cannot_smuggle_a_second_address() -> None:
    # CVE-2023-27043: alice@example.org(<bob@example.org> must never yield bob.
    mail = decode(b"From: alice@example.org(<bob@example.org>\r\n\r\n")
    value = mail.get("from")
    if isinstance(value, tuple):
        assert all(m.domain == "example.org" and m.local == "alice" for m in value)  # type: ignore[union-attr]
    else:
        assert isinstance(value, Malformed)


def test_encoder_never_folds_right_after_the_colon() -> None:
    token = "x" * 90
    wire = encode(_simple(Header("Received", token + " " + token)))
    assert wire.startswith(b"Received: " + token.encode() + b"\r\n " + token.encode() + b"\r\n")


def test_check_reports_all_three_checks_for_a_good_message() -> None:
    result = check(b"From: a@b.example\r\nSubject: s\r\n\r\nbody\r\n")
    assert result.passed
    assert result.failures == ()


def test_a_multipart_without_boundary_is_an_opaque_body_in_its_transfer_encoding() -> None:
    # Found by the mime_check fuzzer: the raw body was kept undecoded, then encoded again.
    data = (
        b"Content-Type: multipart/alternative\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b'bgcolor=3D"#fff"\r\n'
    )
    mail = decode(data)
    assert mail.body == Data(b'bgcolor="#fff"\r\n')
    assert decode(encode(mail)) == mail


def test_a_transfer_encoding_that_is_not_a_token_is_refused() -> None:
    with pytest.raises(EncodeError, match="not a token"):
        encode(_simple(Header("Content-Transfer-Encoding", "base64 x")))
