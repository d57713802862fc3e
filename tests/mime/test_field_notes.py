"""Every fact about header fields in ../shared/notes/mime.md, one test (or more) each.

The notes list where mrmime and CPython's email package broke; each test names the bug it
keeps away.  Facts about bodies, parts and line endings belong to the lead's codec tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields import (
    ContentType,
    DateTime,
    Mailbox,
    MessageId,
    decode_address_list,
    decode_content_disposition,
    decode_content_type,
    decode_date,
    decode_mailbox,
    decode_msg_id,
    decode_msg_id_list,
    decode_transfer_encoding,
    decode_unstructured,
    encode_address_list,
    encode_content_type,
    encode_date,
    encode_msg_id,
    encode_phrase,
    encode_unstructured,
)
from stack.mime.fields.encoded_word import decode_encoded_words

text_with_breaks = st.lists(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from(["\r", "\n", "\r\n", "\t", " "]))
).map("".join)


def unfold_after_folding_everywhere(encoded: str) -> str:
    """What a reader gets if the folder broke the line before every space, then unfolded."""
    folded = encoded.replace(" ", "\r\n ")
    return folded.replace("\r\n", "")


# mrmime: "Content-Type parameters: a backslash inside a quoted value must be escaped".
@given(st.text(st.sampled_from('ab \\"'), max_size=20))
def test_backslash_and_quote_in_parameter_values_survive(value: str) -> None:
    content_type = ContentType("text", "plain", (("name", value),))
    assert decode_content_type(encode_content_type(content_type)) == content_type


# mrmime: "Folding white space inside a quoted-string (part of the value after unfolding)".
def test_white_space_inside_quoted_strings_is_part_of_the_value() -> None:
    assert decode_mailbox('"a  \t b" <x@y>').name == "a  \t b"
    assert decode_mailbox('"a  b"@y').local == "a  b"
    assert decode_content_type('text/plain; name="a  \t b"').param("name") == "a  \t b"


# mrmime: "Its generator skipped Message-ID ... (obs- forms and comments): do not skip it".
def test_message_ids_with_comments_and_obs_forms_are_decoded() -> None:
    defects: list[Defect] = []
    value = decode_msg_id('(c) < "a b" (d) @ (e) example.org (f) > (g)', defects)
    assert value == MessageId("a b", "example.org")
    assert decode_msg_id(encode_msg_id(value), []) == value


# mrmime users: "assert false on an unknown type such as binary/octet-stream".
def test_unknown_media_types_are_just_types() -> None:
    assert decode_content_type("binary/octet-stream").mime_type == "binary/octet-stream"


# CVE-2024-6923, CVE-2026-1299: header injection through CR or LF in a value.
@given(text_with_breaks)
def test_no_encoder_ever_writes_cr_or_lf(value: str) -> None:
    written = [
        encode_unstructured(value),
        encode_phrase(value),
        encode_address_list((Mailbox(value, "a", "example.org"),)),
        encode_content_type(ContentType("text", "plain", (("name", value),))),
    ]
    for line in written:
        assert "\r" not in line
        assert "\n" not in line


@pytest.mark.parametrize(
    "write",
    [
        lambda: encode_address_list((Mailbox(None, "a\r\nBcc: x", "example.org"),)),
        lambda: encode_address_list((Mailbox(None, "a", "example.org\r\nBcc: x"),)),
        lambda: encode_msg_id(MessageId("a\r\nBcc: x", "example.org")),
    ],
)
def test_values_that_cannot_hide_a_line_break_are_refused(write: Callable[[], str]) -> None:
    with pytest.raises(EncodeError):
        write()


# gh-80222, gh-121284: refolding that drops quotes or decodes an encoded-word exposed a bare
# ',' or '@' and changed the address.
@given(
    st.text(st.one_of(st.characters(codec="utf-8"), st.sampled_from([",", "@", "<", ">", '"']))),
    st.booleans(),
)
def test_folding_a_display_name_never_changes_the_address(name: str, second: bool) -> None:
    mailboxes = (Mailbox(name, "real", "example.org"),) + (
        (Mailbox(None, "other", "example.net"),) if second else ()
    )
    encoded = encode_address_list(mailboxes)
    assert decode_address_list(unfold_after_folding_everywhere(encoded)) == mailboxes


# gh-144156, gh-85725: folding that joined adjacent encoded-words or split inside one.
@given(st.text(st.characters(codec="utf-8"), min_size=1))
def test_encoded_words_are_whole_and_space_separated_so_folding_keeps_them(value: str) -> None:
    encoded = encode_unstructured(value)
    for word in encoded.split(" "):
        assert len(word) <= 75
        if word.startswith("=?"):
            assert decode_encoded_words(word, None) is not None
    assert decode_unstructured(unfold_after_folding_everywhere(encoded)) == value


# CVE-2023-27043: parseaddr returned bob for this.
def test_unclosed_comment_cannot_turn_alice_into_bob() -> None:
    found = decode_address_list("alice@example.org(<bob@example.org>", [])
    assert [mailbox.addr_spec for mailbox in found if isinstance(mailbox, Mailbox)] == [
        "alice@example.org"
    ]


# bpo-37461, bpo-37764: infinite loops in the header parser on odd encoded-words.
@pytest.mark.parametrize(
    "text",
    [
        "=?",
        "=?=",
        "=?utf-8?q?=somevalue?=aa",
        "=?utf-8?q?a?==?",
        "=?\t?q?x?=",
        "=?utf-8?q?x?= \t =?utf-8?",
        "a \t=?utf-8?b?=?=",
        "=?utf-8*?q??=",
    ],
)
def test_odd_encoded_words_terminate(text: str) -> None:
    decode_unstructured(text, [])
    decode_address_list(text + " <a@b>", [])


# Bare IndexError escaped CPython on each of these.
@pytest.mark.parametrize(
    ("decoder", "text"),
    [
        (decode_address_list, '"'),
        (decode_content_type, "text/plain; name*"),
        (decode_content_disposition, "attachment; filename*"),
        (decode_address_list, "(comment only) <a@b>"),
        (decode_address_list, "(comment only)"),
        (decode_msg_id, "<[...]>"),
        (decode_msg_id_list, "<[...]>"),
        (decode_address_list, "a@b, c@d,"),
        (decode_address_list, ","),
        (decode_date, ","),
        (decode_transfer_encoding, ";"),
    ],
)
def test_crashers_from_cpython_give_defects_or_parse_errors(
    decoder: Callable[[str, list[Defect] | None], object], text: str
) -> None:
    modes: tuple[list[Defect] | None, ...] = ([], None)
    for defects in modes:
        with contextlib.suppress(ParseError):
            decoder(text, defects)


# gh-113594, gh-136686: surrogate-escaped 8-bit bytes that could not be written back.
def test_undeclared_8bit_bytes_are_written_back() -> None:
    raw = "Caf\udce9 cr\udce8me"  # what surrogateescape makes of latin-1 bytes
    assert decode_unstructured(encode_unstructured(raw)) == raw
    mailbox = Mailbox(raw, "a", "example.org")
    assert decode_address_list(encode_address_list((mailbox,))) == (mailbox,)
    content_type = ContentType("text", "plain", (("name", raw),))
    assert decode_content_type(encode_content_type(content_type)) == content_type


# DKIM: folding right after the colon broke relaxed canonicalisation in some verifiers;
# the folder breaks only before spaces the encoder wrote, so no encoder starts with one.
@given(st.text(st.characters(codec="utf-8")))
def test_no_encoded_value_starts_with_white_space(value: str) -> None:
    written = [
        encode_unstructured(value),
        encode_phrase(value),
        encode_address_list((Mailbox(value or None, "a", "b"),)),
        encode_date(DateTime(2003, 7, 1, 10, 52, None, None)),
    ]
    for line in written:
        assert not line[:1].isspace()
