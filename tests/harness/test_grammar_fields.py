"""Every field kind, written in its varied wire forms by the grammar, reads as its value.

These pin the grammar's expected values against the field codecs one production at a time,
so that a disagreement points at one field kind, not at a whole message.
"""

from __future__ import annotations

from hypothesis import given

from harness.strategies import (
    address_list_wire,
    content_disposition_wire,
    content_type_wire,
    date_time_wire,
    mailbox_wire,
    msg_id_list_wire,
    msg_id_wire,
    phrase_wire,
    quoted_string,
    unstructured_wire,
)
from stack.mime import (
    ContentDisposition,
    ContentType,
    DateTime,
    Group,
    Mailbox,
    MessageId,
    decode_field,
)
from stack.mime.fields import decode_date, decode_msg_id


@given(address_list_wire())
def test_address_lists_with_comments_groups_and_obsolete_forms_read_as_written(
    wire: tuple[str, tuple[Mailbox | Group, ...]],
) -> None:
    text, value = wire
    assert decode_field("To", text) == value


@given(mailbox_wire())
def test_a_mailbox_reads_as_written(wire: tuple[str, Mailbox]) -> None:
    text, value = wire
    assert decode_field("Cc", text) == (value,)


@given(phrase_wire())
def test_display_names_with_encoded_words_in_many_charsets_read_as_written(
    wire: tuple[str, str],
) -> None:
    text, name = wire
    assert decode_field("From", f"{text} <a@example.org>") == (Mailbox(name, "a", "example.org"),)


@given(quoted_string())
def test_a_quoted_string_display_name_is_unquoted(wire: tuple[str, str]) -> None:
    text, value = wire
    assert decode_field("From", f"{text} <a@b>") == (Mailbox(value, "a", "b"),)


@given(unstructured_wire())
def test_unstructured_text_with_b_and_q_encoded_words_reads_as_written(
    wire: tuple[str, str],
) -> None:
    text, value = wire
    assert decode_field("Subject", text) == value


@given(date_time_wire())
def test_dates_in_every_zone_form_read_as_written(wire: tuple[str, DateTime]) -> None:
    text, value = wire
    assert decode_date(text, []) == value


@given(msg_id_wire())
def test_a_message_id_with_obsolete_forms_reads_as_written(wire: tuple[str, MessageId]) -> None:
    text, value = wire
    assert decode_msg_id(text, []) == value


@given(msg_id_list_wire())
def test_references_read_as_written(wire: tuple[str, tuple[MessageId, ...]]) -> None:
    text, value = wire
    assert decode_field("References", text) == value


@given(content_type_wire())
def test_content_types_with_quoted_and_rfc2231_parameters_read_as_written(
    wire: tuple[str, ContentType],
) -> None:
    text, value = wire
    assert decode_field("Content-Type", text) == value


@given(content_disposition_wire())
def test_file_names_in_every_parameter_form_read_as_written(
    wire: tuple[str, ContentDisposition],
) -> None:
    text, value = wire
    assert decode_field("Content-Disposition", text) == value
