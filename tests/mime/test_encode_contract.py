"""What stack.mime.encode promises beyond the round trip: how a multipart body is laid out
(RFC 2046 5.1.1), which boundary it keeps and how it names a new one, and what a refusal says.

``decode(encode(m)) == m`` cannot see everything: a preamble the decoder reads as empty, a line
break the decoder gives to a delimiter, a parameter name whose case the decoder forgets.  These
tests state the wire form and the canonical form (``encode(decode(w)) == w``) directly.
"""

from __future__ import annotations

import pytest

from stack.mime import (
    ContentType,
    Data,
    EncodeError,
    Header,
    Mail,
    Mailbox,
    Parts,
    Text,
    decode,
    encode,
)


def _multipart(parts: tuple[Mail, ...], boundary: str = "b", **body: bytes) -> Mail:
    content_type = ContentType("multipart", "mixed", (("boundary", boundary),))
    return Mail((Header("Content-Type", content_type),), Parts(parts, **body))


def _payload(wire: bytes) -> bytes:
    return wire.split(b"\r\n\r\n", 1)[1]


ONE = Mail((), Text("one\n"))
TWO = Mail((), Text("two"))


# -- the layout of a multipart body (RFC 2046 5.1.1) ---------------------------------------------


def test_a_multipart_without_a_preamble_starts_with_its_first_delimiter() -> None:
    # The CRLF before a delimiter belongs to the delimiter; the first one has nothing before it.
    assert _payload(encode(_multipart((ONE, TWO)))).startswith(b"--b\r\n")


def test_a_preamble_is_written_on_its_own_lines_before_the_first_delimiter() -> None:
    mail = _multipart((ONE,), preamble=b"This is a multi-part message.")
    wire = encode(mail)
    assert _payload(wire).startswith(b"This is a multi-part message.\r\n--b\r\n")
    assert decode(wire) == mail


def test_each_delimiter_after_the_first_takes_the_line_break_before_it() -> None:
    payload = _payload(encode(_multipart((ONE, TWO), epilogue=b"after\r\n")))
    # "one\n" is a line; its CRLF is the part's, and the next delimiter adds its own.
    assert payload == b"--b\r\n\r\none\r\n\r\n--b\r\n\r\ntwo\r\n--b--\r\nafter\r\n"


def test_a_multipart_without_parts_is_its_close_delimiter_alone() -> None:
    mail = _multipart(())
    wire = encode(mail)
    assert _payload(wire) == b"--b--\r\n"
    assert decode(wire) == mail


# -- the boundary ----------------------------------------------------------------------------


def test_a_boundary_of_seventy_characters_is_kept() -> None:
    # RFC 2046 5.1.1: boundary := 0*69<bchars> bcharsnospace, one to seventy characters.
    wanted = "b" * 70
    assert decode(encode(_multipart((ONE,), wanted))).content_type.boundary == wanted


def test_a_boundary_longer_than_seventy_characters_is_replaced_by_a_valid_one() -> None:
    wire = encode(_multipart((ONE,), "b" * 71))
    boundary = decode(wire).content_type.boundary
    assert boundary is not None
    assert 1 <= len(boundary) <= 70
    assert _payload(wire).startswith(b"--" + boundary.encode() + b"\r\n")


def test_a_boundary_outside_ascii_is_replaced() -> None:
    # bchars are US-ASCII: a delimiter line is compared byte for byte by every reader.
    boundary = decode(encode(_multipart((ONE,), "grenzé"))).content_type.boundary
    assert boundary is not None
    assert boundary.isascii()


def test_a_replaced_boundary_stays_in_its_field_among_the_others() -> None:
    # The new boundary goes where the old one was read from: the first Content-Type field,
    # under its name as written, with its other parameters, and no field moves.
    content_type = ContentType("multipart", "mixed", (("boundary", "clash"), ("x-note", "kept")))
    mail = Mail(
        (
            Header("Subject", "s"),
            Header("content-type", content_type),
            Header("X-After", "a"),
        ),
        Parts((Mail((), Text("--clash\n")),)),
    )
    again = decode(encode(mail))
    assert [header.name for header in again.headers] == ["Subject", "content-type", "X-After"]
    written = again.content_type
    assert (written.mime_type, written.param("x-note")) == ("multipart/mixed", "kept")
    assert written.boundary not in (None, "clash")


def test_a_replaced_boundary_is_written_canonically() -> None:
    # encode(decode(encode(m))) == encode(m) (DESIGN: encoding is canonical), also when the
    # encoder had to choose the boundary itself.
    wire = encode(_multipart((Mail((), Text("--b\n")),)))
    assert encode(decode(wire)) == wire


def test_the_boundary_chosen_for_the_same_parts_is_always_the_same() -> None:
    # encode is a pure function: no clock, no randomness in a generated boundary.
    clash = (Mail((), Data(b"--b")),)
    assert encode(_multipart(clash)) == encode(_multipart(clash))


# -- refusals --------------------------------------------------------------------------------


def test_a_text_body_in_an_unknown_charset_is_refused_and_the_error_names_it() -> None:
    content_type = ContentType("text", "plain", (("charset", "x-martian"),))
    mail = Mail((Header("Content-Type", content_type),), Text("hi\n"))
    with pytest.raises(EncodeError, match="unknown charset 'x-martian'"):
        encode(mail)


def test_a_multipart_body_under_a_type_that_is_not_multipart_is_refused_and_named() -> None:
    with pytest.raises(EncodeError, match=r"^a multipart body under Content-Type text/plain"):
        encode(Mail((), Parts(())))


def test_a_body_of_no_body_type_is_refused_and_named() -> None:
    with pytest.raises(EncodeError, match=r"^a body of type str is none of"):
        encode(Mail((), "hi\n"))  # type: ignore[arg-type]


def test_text_its_charset_cannot_write_is_refused_and_the_error_says_where() -> None:
    content_type = ContentType("text", "plain", (("charset", "iso-8859-1"),))
    with pytest.raises(EncodeError) as error:
        encode(Mail((Header("Content-Type", content_type),), Text("ab€")))
    assert str(error.value).startswith("text body cannot be written in charset iso-8859-1")
    assert str(error.value).endswith("at character 2")


def test_an_invalid_field_name_is_refused_and_the_error_quotes_it() -> None:
    with pytest.raises(EncodeError, match=r"^invalid field name 'Bad Name'"):
        encode(Mail((Header("Bad Name", "x"),), Text("")))


@pytest.mark.parametrize(
    "value",
    [(Mailbox(None, "hamlet", "castle.test"),), "<a@castle.test>"],
    ids=["mailboxes", "str"],
)
def test_a_message_id_list_of_anything_but_message_ids_is_refused(value: object) -> None:
    header = Header("References", value)  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match=r"^References field expects a message-ids value"):
        encode(Mail((header,), Text("")))


# -- bytes that are not UTF-8 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        b"Received: from castle.test \xff\r\n",  # a trace field, carried as written
        b"Date: \xff never\r\n",  # an unreadable field, kept as Malformed
    ],
    ids=["raw", "malformed"],
)
def test_an_undeclared_8bit_byte_in_a_field_is_written_back_as_it_came(field: bytes) -> None:
    # RFC 6532 reads fields as UTF-8; a byte that is not survives as a lone surrogate in the
    # model and goes back on the wire as the same byte (DESIGN: raw bytes are sacred).
    assert encode(decode(field + b"\r\n")).startswith(field)
