"""The codec's isomorphisms (harness.iso) on the grammar's messages, under the `ci` profile.

A whole-message example costs hundreds of draws, so each test that needs one draws it once and
checks every property that example can show.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import iso
from harness.strategies import Entity, messages, wire_messages
from stack.mime import ContentType, Header, Mail, Parts, Text, decode, encode


@given(messages())
def test_decode_inverts_encode_and_encoding_is_canonical(mail: Mail) -> None:
    iso.decode_inverts_encode(mail)
    iso.encode_is_canonical(mail)


@given(wire_messages())
def test_grammar_bytes_parse_losslessly_and_decode_to_the_model_written(message: Entity) -> None:
    iso.parse_is_lossless(message.data)
    iso.decode_reads_what_was_written(message.data, message.mail)


@given(st.binary(max_size=2000))
def test_parse_is_lossless_on_arbitrary_bytes(data: bytes) -> None:
    iso.parse_is_lossless(data)


@given(wire_messages(), st.integers(0, 2000), st.binary(min_size=1, max_size=8))
def test_parse_is_lossless_on_corrupted_messages(message: Entity, at: int, junk: bytes) -> None:
    at = min(at, len(message.data))
    iso.parse_is_lossless(message.data[:at] + junk + message.data[at:])


def test_a_failing_property_reports_the_example_and_its_bytes() -> None:
    subject = Header("Subject", "x")
    wrong = Mail((subject,), Text("body\n"))
    with pytest.raises(iso.PropertyFailure) as failure:
        iso.decode_reads_what_was_written(b"Subject: y\r\n\r\nbody\r\n", wrong)
    assert "Subject" in str(failure.value)
    assert "bytes: b'Subject: y" in str(failure.value)


def test_a_multipart_keeps_its_own_boundary_when_it_is_safe() -> None:
    mail = Mail(
        (Header("Content-Type", ContentType("multipart", "mixed", (("boundary", "b1"),))),),
        Parts((Mail((), Text("a\n")),)),
    )
    assert decode(encode(mail)) == mail
