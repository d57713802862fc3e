"""What stack.mime.decode promises beyond the round trip: where a defect points (an absolute
byte offset in the message, stack/mime/errors.py), what strict mode refuses, and how it reads
the parts of a body that the model keeps as bytes."""

from __future__ import annotations

import base64

import pytest

from stack.mime import Data, Malformed, Nested, ParseError, Parts, decode, parse
from stack.mime.decode import decode_field, decode_message
from stack.mime.lossless import MAX_DEPTH

FROM = b"From: hamlet@castle.test\r\n"
DATE = b"Date: Thu, 1 Jan 2026 10:00:00 +0000\r\n"
HEAD = FROM + DATE


# -- decode_field ------------------------------------------------------------------------------


def test_decode_field_in_strict_mode_refuses_with_the_field_and_the_offset_in_the_value() -> None:
    # decode_field has no message around the value: offsets count from the value's first byte.
    with pytest.raises(ParseError) as error:
        decode_field("From", "a@", strict=True)
    assert (error.value.field, error.value.offset) == ("From", 2)
    assert "domain" in error.value.reason


def test_decode_field_is_lenient_by_default_and_keeps_what_it_cannot_read() -> None:
    assert decode_field("Date", "not a date") == Malformed("not a date")


# -- decode_message ----------------------------------------------------------------------------


def test_decode_message_reads_a_lossless_tree_leniently_as_a_top_level_message() -> None:
    mail = decode_message(parse(b"Subject: s\r\nDate: never\r\n\r\n"))
    assert mail.get("date") == Malformed("never")
    # RFC 5322 3.6: a message (not a part, not an encapsulated message) needs a From.
    assert [d.field for d in mail.defects if d.kind == "missing-field"] == ["From"]


def test_each_defect_belongs_to_the_node_it_was_found_in_once() -> None:
    # The multipart's own defect (no close delimiter, found while splitting) is the top
    # node's; the parts' lines are checked in the parts, not again in the multipart.
    data = (
        HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\n\r\n" + b"x" * 1000 + b"\r\n--b\r\n\r\nna\xefve\r\n"
    )
    mail = decode(data)
    assert [(d.kind, d.offset) for d in mail.defects] == [("missing-close-delimiter", len(data))]
    assert isinstance(mail.body, Parts)
    first, second = mail.body.parts
    eight_bit = data.index(b"\xef")
    assert [(d.kind, d.offset) for d in first.defects] == [("line-too-long", data.index(b"xxx"))]
    assert [(d.kind, d.offset) for d in second.defects] == [("undeclared-8bit", eight_bit)]


def test_a_defect_of_the_lossless_layer_is_the_models_once() -> None:
    data = HEAD + b"not a field\r\nbody\r\n"
    mail = decode(data)
    assert [(d.kind, d.offset) for d in mail.defects] == [
        ("missing-header-separator", data.index(b"not a field"))
    ]


# -- field values ------------------------------------------------------------------------------


def _with(field: bytes) -> bytes:
    return HEAD + field + b"\r\n"


def test_a_bare_cr_in_a_structured_field_is_read_as_white_space_with_a_defect() -> None:
    # RFC 5322 2.2: CR and LF occur only together, as a line break.
    data = _with(b"To: hamlet@castle.test,\rophelia@castle.test,\ryorick@castle.test\r\n")
    mail = decode(data)
    locals_ = [m.local for m in mail.get("to")]  # type: ignore[union-attr]
    assert locals_ == ["hamlet", "ophelia", "yorick"]
    # One defect for the field, at its first bare CR.
    (defect,) = [d for d in mail.defects if d.kind == "bare-cr"]
    assert (defect.offset, defect.field) == (data.index(b"\r", len(HEAD)), "To")
    assert defect.detail.startswith("CR without LF")
    with pytest.raises(ParseError, match="bare-cr"):
        decode(data, strict=True)


def test_a_cr_in_unstructured_text_is_text() -> None:
    # Unstructured text has an encoded form for any character (RFC 2047), so it keeps it.
    mail = decode(_with(b"Subject: a\rb\r\n"))
    assert mail.get("subject") == "a\rb"
    assert "bare-cr" not in [d.kind for d in mail.defects]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (b"Subject:   hello  \r\n", "hello"),
        (b"Received:  from castle.test  \r\n", "from castle.test"),  # raw: carried, not read
        (b"Content-Transfer-Encoding: \t8bit \r\n", "8bit"),
    ],
    ids=["unstructured", "raw", "structured"],
)
def test_white_space_around_a_value_is_not_part_of_it(field: bytes, value: str) -> None:
    name = field.split(b":")[0].decode()
    assert decode(_with(field)).get(name) == value


@pytest.mark.parametrize("value", ["\u00a0no-break\u00a0", "X marks the spot X"])
@pytest.mark.parametrize("name", ["Subject", "Received"])
def test_only_space_and_tab_around_a_value_are_white_space(name: str, value: str) -> None:
    # WSP is SP / HTAB (RFC 5234 B.1); a no-break space is a character (RFC 6532), and so is
    # any letter, an X included.
    assert decode(_with(f"{name}: {value} \t\r\n".encode())).get(name) == value


def test_an_unreadable_field_is_kept_with_a_defect_at_the_byte_that_broke_it() -> None:
    data = _with(b"Message-ID: <a\x01b@castle.test>\r\n")
    mail = decode(data)
    assert mail.get("message-id") == Malformed("<a\x01b@castle.test>")
    (defect,) = [d for d in mail.defects if d.kind == "unreadable-field"]
    assert (defect.offset, defect.field) == (data.index(b"\x01"), "Message-ID")
    assert "msg-id" in defect.detail


def test_a_field_decoder_defect_points_at_its_byte_in_the_message() -> None:
    data = HEAD.replace(DATE, b"Date: 1 Jan 99 10:00 EST\r\n") + b"\r\n"
    defects = {d.kind: d for d in decode(data).defects}
    assert (defects["obs-year"].offset, defects["obs-year"].field) == (data.index(b"99"), "Date")
    assert defects["obs-zone"].offset == data.index(b"EST")


@pytest.mark.parametrize("name", [b"Bcc", b"Resent-Bcc", b"bcc"])
def test_a_bcc_field_may_be_empty(name: bytes) -> None:
    # RFC 5322 3.6.3: "Bcc:" [address-list / CFWS], to hide every blind recipient.
    mail = decode(_with(name + b": \r\n"))
    assert mail.get(name.decode()) == ()
    assert "empty-address-list" not in [d.kind for d in mail.defects]


@pytest.mark.parametrize("name", [b"To", b"Cc"])
def test_any_other_address_field_may_not_be_empty(name: bytes) -> None:
    data = _with(name + b": \r\n")
    (defect,) = [d for d in decode(data).defects if d.kind == "empty-address-list"]
    assert (defect.offset, defect.field) == (len(HEAD) + len(name) + 2, name.decode())


def test_a_field_no_writer_can_write_is_kept_as_written_with_the_reason() -> None:
    # tests/mime/test_unfoldable_fields.py: a word longer than a line is Malformed; the defect
    # sits at the field's value and says why it cannot be written.
    data = _with(b"References: <" + b"a" * 1151 + b"@castle.test>\r\n")
    (defect,) = [d for d in decode(data).defects if d.kind == "unwritable-field"]
    assert (defect.offset, defect.field) == (data.index(b"References:") + 11, "References")
    assert defect.detail.startswith("References field has a run of")


# -- Mail.date -------------------------------------------------------------------------------


def test_a_later_date_read_says_why_the_first_was_passed_over() -> None:
    data = FROM + b"Date: never\r\n" + DATE + b"\r\n"
    (later,) = [d for d in decode(data).defects if d.kind == "later-date-read"]
    assert later.detail.startswith("the first Date field is unreadable")


def test_a_second_date_is_not_read_when_the_first_is_readable() -> None:
    # RFC 5322 3.6.1: the first Date is the date; a second one is only a repeated field.
    second = b"Date: Fri, 2 Jan 2026 10:00:00 +0000\r\n"
    mail = decode(FROM + DATE + second + b"\r\n")
    assert mail.date is not None and mail.date.day == 1
    assert "later-date-read" not in [d.kind for d in mail.defects]


# -- bodies ------------------------------------------------------------------------------------


def test_a_transfer_encoding_defect_points_at_its_byte_in_the_message() -> None:
    data = HEAD + b"Content-Transfer-Encoding: quoted-printable\r\n\r\nfirst line\r\nab=ZZcd\r\n"
    (defect,) = [d for d in decode(data).defects if d.kind == "invalid-qp-escape"]
    assert defect.offset == data.index(b"=ZZ")
    assert "hex" in defect.detail


def test_a_transfer_encoding_defect_in_an_encoded_message_points_into_the_message() -> None:
    # RFC 2046 5.2.1 forbids encoding message/rfc822; it is read all the same, with a defect
    # where the encoding is broken.
    data = (
        HEAD + b"Content-Type: message/rfc822\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Subject: inner=\r\n\r\n\r\nbody =QQ\r\n"
    )
    (defect,) = [d for d in decode(data).all_defects() if d.kind == "invalid-qp-escape"]
    assert defect.offset == data.index(b"=QQ")
    assert "hex" in defect.detail


@pytest.mark.parametrize("linesep", [b"\r\n", b"\n"])
def test_a_preamble_and_an_epilogue_are_kept_with_crlf_line_breaks(linesep: bytes) -> None:
    # Parts keeps them as bytes with CRLF breaks (stack.mime.model.Parts), whatever the input.
    data = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"pre one\r\npre two\r\n--b\r\n\r\nx\r\n--b--\r\nepi one\r\nepi two\r\n"
    ).replace(b"\r\n", linesep)
    body = decode(data).body
    assert isinstance(body, Parts)
    assert (body.preamble, body.epilogue) == (b"pre one\r\npre two", b"epi one\r\nepi two\r\n")


def _multipart_in(encoding: bytes) -> bytes:
    return (
        HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n"
        b"Content-Transfer-Encoding: " + encoding + b"\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"
    )


@pytest.mark.parametrize("encoding", [b"7bit", b"8bit", b"binary"])
def test_a_multipart_may_declare_an_identity_encoding(encoding: bytes) -> None:
    # RFC 2045 6.4: 7bit, 8bit and binary are the values a multipart entity may have.
    decode(_multipart_in(encoding), strict=True)


@pytest.mark.parametrize("encoding", [b"base64", b"quoted-printable"])
def test_an_encoded_multipart_is_read_with_a_defect_at_its_body(encoding: bytes) -> None:
    # RFC 2045 6.4: "not permitted to have any value other than 7bit, 8bit or binary".
    data = _multipart_in(encoding)
    mail = decode(data)
    assert isinstance(mail.body, Parts)
    (defect,) = [d for d in mail.defects if d.kind == "encoded-multipart"]
    assert (defect.offset, defect.detail) == (data.index(b"--b"), encoding.decode())
    with pytest.raises(ParseError, match="encoded-multipart"):
        decode(data, strict=True)


def test_strict_mode_holds_every_part_to_the_grammar() -> None:
    data = (
        HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-ID: not an id\r\n\r\nx\r\n--b--\r\n"
    )
    with pytest.raises(ParseError) as error:
        decode(data, strict=True)
    assert error.value.field == "Content-ID"
    assert data.index(b"Content-ID") < error.value.offset < data.index(b"x\r\n--b--")


def test_a_message_global_body_is_read_as_a_message() -> None:
    # RFC 6532 3.7: message/global is message/rfc822 that may hold UTF-8 header fields.
    data = (
        HEAD
        + b"Content-Type: message/global\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "Subject: d\u00e9j\u00e0 vu\r\n\r\nbody\r\n".encode()
    )
    body = decode(data, strict=True).body
    assert isinstance(body, Nested)
    assert body.mail.get("subject") == "d\u00e9j\u00e0 vu"


def test_encoded_messages_nest_as_deep_as_the_lossless_layer_follows() -> None:
    # RFC 2046 5.2.1 forbids encoding message/rfc822; an encoded one is read all the same,
    # down to MAX_DEPTH levels and no further (DESIGN: bounded work on hostile input).
    level = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    mail = decode(level * (MAX_DEPTH + 2) + b"core")
    depth, node = 0, mail
    while isinstance(node.body, Nested):
        depth, node = depth + 1, node.body.mail
    assert depth == MAX_DEPTH
    assert isinstance(node.body, Data)
    assert [d.kind for d in mail.all_defects()].count("nesting-too-deep") == 1


def _encoded_message(inner: bytes) -> bytes:
    return (
        HEAD
        + b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner).replace(b"\n", b"\r\n")
    )


def test_an_encoded_message_is_held_to_the_rules_of_an_encapsulated_one() -> None:
    # RFC 2046 5.2.1: an encapsulated message needs only one of From, Subject or Date.
    body = decode(_encoded_message(b"Subject: inner\r\n\r\nbody\r\n"), strict=True).body
    assert isinstance(body, Nested)
    assert body.mail.get("subject") == "inner"


def test_strict_mode_holds_an_encoded_message_to_the_grammar() -> None:
    data = _encoded_message(b"Subject: inner\r\nMessage-ID: not an id\r\n\r\nbody\r\n")
    with pytest.raises(ParseError) as error:
        decode(data, strict=True)
    assert error.value.field == "Message-ID"


def _text_in(charset: bytes, body: bytes) -> bytes:
    return (
        HEAD + b"Content-Type: text/plain; charset=" + charset + b"\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
    )


def test_text_its_charset_cannot_read_is_kept_as_bytes_with_a_defect_at_the_body() -> None:
    # Half a UTF-16 unit: no character, and no surrogate escape for a byte below 0x80.
    data = _text_in(b"utf-16", b"abc")
    mail = decode(data)
    assert mail.body == Data(b"abc")
    (defect,) = mail.defects
    assert (defect.kind, defect.offset) == ("undecodable-text", data.index(b"abc"))
    assert defect.detail.startswith("utf-16: ")


def test_text_in_an_unknown_charset_is_kept_as_bytes_with_a_defect_naming_it() -> None:
    data = _text_in(b"x-martian", b"\xff\xfe")
    mail = decode(data)
    assert mail.body == Data(b"\xff\xfe")
    (defect,) = mail.defects
    assert (defect.kind, defect.offset, defect.detail) == (
        "unknown-charset",
        data.index(b"\xff"),
        "x-martian",
    )


def test_a_digest_entry_without_a_content_type_is_a_message() -> None:
    # RFC 2046 5.1.5: in a digest, the default Content-Type of a part is message/rfc822.
    data = (
        HEAD + b"Content-Type: multipart/digest; boundary=b\r\n\r\n"
        b"--b\r\n\r\nSubject: entry\r\n\r\nbody\r\n--b--\r\n"
    )
    body = decode(data, strict=True).body
    assert isinstance(body, Parts)
    (entry,) = body.parts
    assert isinstance(entry.body, Nested)
    assert entry.body.mail.get("subject") == "entry"
