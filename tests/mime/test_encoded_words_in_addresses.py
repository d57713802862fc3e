"""Text that looks like an encoded-word where RFC 5322 reads an address: what the codec promises.

RFC 2047 §5(3) allows an encoded-word in a phrase only as a whole atom.  The lenient reader
also takes one whose text keeps a ``.`` or ``@`` (``=?utf-8?q?J._Doe?= <j@example.org>``, a
producer that Q-encodes a name by the rules for unstructured text), but only where that
stretch can be nothing but a display name:

- it holds no other special: ``(``, ``"``, ``[`` and ``<`` open a comment, quoted-string,
  domain literal or angle-addr, and ``,``, ``;``, ``:`` end an address, all of which
  RFC 5322 reads before any encoded-word;
- it is followed, after CFWS, by an angle-addr or by another encoded-word that is itself so
  followed: a display name, never the local-part or domain of an addr-spec.

So an addr-spec whose local-part starts with ``=?`` keeps its meaning, and what the encoder
writes for it reads back as the same mailbox.  Found by the mime_check fuzzer:
``To: =?ISO-88a . }yQMGc4j@[m 67IPv6:...?B?4w==?= =?ISO-8Received: ...]`` read as one
mailbox, written as ``=?ISO-88a.}yQMGc4j@[...?B?4w==?==?ISO-8Received:...]``, and read back
as a group (fuzz/crashes/mime_check/encoded-word-across-the-at-of-an-addr-spec).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.check import check
from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields import (
    decode_address_list,
    decode_content_disposition,
    decode_content_type,
    decode_mailbox,
    decode_mailbox_list,
    decode_msg_id_list,
    decode_unstructured,
    encode_address_list,
    encode_content_disposition,
    encode_content_type,
    encode_mailbox,
    encode_mailbox_list,
    encode_msg_id_list,
    encode_unstructured,
)
from stack.mime.fields.address import Address, Group, Mailbox

DATE = b"Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
ADDRESS_FIELDS = [
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Bcc",
]


@pytest.mark.parametrize("name", ADDRESS_FIELDS)
def test_addr_spec_starting_like_an_encoded_word_checks_in_every_address_field(
    name: str,
) -> None:
    # The fuzzer's finding, minimised: the space before '@' hides the encoded-word shape from
    # the first reading; the encoder writes it without, and the second reading saw
    # "=?a@b?q?c?=" as a display name.
    head = DATE if name == "From" else b"From: a@b.example\r\n" + DATE
    data = head + name.encode() + b": =?a @b?q?c?==?d\r\n\r\nhi\r\n"
    result = check(data)
    assert result.passed, result.failures


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "=?a@b?q?c?=" and "=?a?q?b@c?=" look like encoded-words with an '@', but the "=?d"
        # after them is none, so these are addr-specs.
        ("=?a@b?q?c?==?d", (Mailbox(None, "=?a", "b?q?c?==?d"),)),
        ("=?a?q?b@c?==?d", (Mailbox(None, "=?a?q?b", "c?==?d"),)),
        # Two encoded-word shapes in a dot-atom, followed by '@' and not by an angle-addr.
        ("=?a?q?b.c?==?d?q?e?=@x", (Mailbox(None, "=?a?q?b.c?==?d?q?e?=", "x"),)),
        ("Joe <=?a?q?b@c?==?d>", (Mailbox("Joe", "=?a?q?b", "c?==?d"),)),
        # '<' inside a domain literal, a comment or a quoted-string is not an angle-addr.
        ("=?a?q?b@[?=<x@y>]", (Mailbox(None, "=?a?q?b", "[?=<x@y>]"),)),
        ("=?a?q?b(?= <x>)@c", (Mailbox(None, "=?a?q?b", "c"),)),
        # ',' and ':' ... ';' end an address and a group before any encoded-word is read.
        ("=?a?q?b,?= <x@y>", (Mailbox("?=", "x", "y"),)),
        (
            "=?a?q?b:c@d;,?= <x@y>",
            (Group("=?a?q?b", (Mailbox(None, "c", "d"),)), Mailbox("?=", "x", "y")),
        ),
    ],
)
def test_what_rfc_5322_reads_as_an_address_is_no_display_name(
    text: str, expected: tuple[Address, ...]
) -> None:
    assert decode_address_list(text, []) == expected
    assert decode_address_list(encode_address_list(expected), []) == expected


@pytest.mark.parametrize(
    "text",
    [
        "=?a@b?q?c?==?d",
        "=?a?q?b@c?==?d",
        "=?a?q?b.c?==?d?q?e?=@x",
        "Joe <=?a?q?b@c?==?d>",
        "=?a?q?b@[?=<x@y>]",
        "=?a?q?b(?= <x>)@c",
    ],
)
def test_such_addresses_are_valid_for_strict_mode_too(text: str) -> None:
    defects: list[Defect] = []
    assert decode_address_list(text, None) == decode_address_list(text, defects)
    assert defects == []


def test_a_quoted_word_after_a_dot_keeps_an_obsolete_local_part() -> None:
    defects: list[Defect] = []
    assert decode_address_list('=?a?q?b."?= <x>"@c', defects) == (
        Mailbox(None, "=?a?q?b.?= <x>", "c"),
    )
    assert [defect.kind for defect in defects] == ["obs-local-part"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("=?utf-8?q?J._Doe?= <a@b>", "J. Doe"),
        ("=?utf-8?q?john@example.com?= <john@example.com>", "john@example.com"),
        ("=?ANSI_X3.4-1968?q?Joe?= <a@b>", "Joe"),
        # A run of such words, with white space or comments between them, is one name.
        ("=?utf-8?q?J.?= =?utf-8?q?_Doe.?= <a@b>", "J. Doe."),
        ("=?utf-8?q?J.?= (c) =?utf-8?q?x.?=<a@b>", "J.x."),
        ("=?utf-8?q?J.?= =?utf-8?q?Doe?= <a@b>", "J.Doe"),
    ],
)
def test_encoded_words_with_dots_or_at_signs_before_an_angle_addr_are_still_read(
    text: str, name: str
) -> None:
    defects: list[Defect] = []
    assert decode_mailbox(text, defects).name == name
    assert {defect.kind for defect in defects} == {"encoded-word-with-specials"}
    with pytest.raises(ParseError):
        decode_mailbox(text, None)


def test_a_long_run_of_such_words_is_one_name() -> None:
    # Each word looks ahead to the angle-addr; tests/mime/test_field_linear_time.py checks
    # that what the first one learns serves the others.
    words = " ".join(["=?utf-8?q?a.b?="] * 2000)
    assert decode_mailbox(f"{words} <x@y>", []).name == "a.b" * 2000


# Pieces of encoded-words and of the address grammar around them.
PIECES = [*'a@.  [](),;:<>"\\', "=?", "?=", "=?a", "?q?b?=", "=?utf-8?q?a.b?=", "=?utf-8?q?a?="]
shaped_text = st.lists(st.sampled_from(PIECES), max_size=16).map("".join)

Codec = tuple[Callable[[str, list[Defect] | None], Any], Callable[[Any], str]]
CODECS: dict[str, Codec] = {
    "address-list": (decode_address_list, encode_address_list),
    "mailbox-list": (decode_mailbox_list, encode_mailbox_list),
    "mailbox": (decode_mailbox, encode_mailbox),
    "unstructured": (decode_unstructured, encode_unstructured),
    "msg-id-list": (decode_msg_id_list, encode_msg_id_list),
    "content-type": (decode_content_type, encode_content_type),
    "content-disposition": (decode_content_disposition, encode_content_disposition),
}
# Where the text goes in a field of each kind: a parameter value for the MIME fields.
PLACES = {"content-type": "text/plain; name={}", "content-disposition": "inline; filename={}"}


@pytest.mark.parametrize("kind", sorted(CODECS))
@given(text=shaped_text)
def test_text_shaped_like_encoded_words_is_written_back_as_itself(kind: str, text: str) -> None:
    decode, encode = CODECS[kind]
    try:
        value = decode(PLACES.get(kind, "{}").format(text), [])
    except ParseError:
        return
    try:
        wire = encode(value)
    except EncodeError:
        return
    assert decode(" " + wire, []) == value


# An encoded-word (or two) and what may follow one, to be cut in two at the '@'.
encoded_shapes = st.tuples(
    st.sampled_from(["=?a?q?b?=", "=?utf-8?q?a.b?=", "=?a?q??=", "=?a.b?b?YQ==?="]),
    st.sampled_from(["", "=?", "=?a", "=?a?q?b?=", "<x>", ":y", "a", "."]),
).map("".join)


@st.composite
def addr_specs_cut_from_encoded_words(draw: st.DrawFn) -> tuple[str, str]:
    """A local-part and a domain that, written as ``local@domain``, look like encoded-words
    with an '@' (or '@[') inside."""
    shape = draw(encoded_shapes)
    cut = draw(st.integers(1, len(shape) - 1))
    local, domain = shape[:cut].strip("."), shape[cut:].strip(".")
    if draw(st.booleans()):
        domain = f"[{domain}]"
    return local or "=?", domain or "d"


@given(address=addr_specs_cut_from_encoded_words(), name=st.sampled_from([None, "J. Doe"]))
def test_mailbox_whose_addr_spec_looks_encoded_round_trips(
    address: tuple[str, str], name: str | None
) -> None:
    mailbox = Mailbox(name, *address)
    try:
        wire = encode_address_list((mailbox, mailbox))
    except EncodeError:
        return
    assert decode_address_list(wire, []) == (mailbox, mailbox)
