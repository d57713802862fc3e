"""RFC 3464 delivery status notifications: structure, per-recipient fields, hostile input."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.strategies import Entity, hostile_text, wire_messages
from stack.mime import decode
from stack.mime.fields import DateTime, Group
from stack.mime.model import Data, Mail, Parts, Text
from stack.mime.safe import UnsafeTextError
from stack.smtp.client import RecipientResult
from stack.smtp.dsn import build_dsn, status_of

ARRIVAL = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ORIGINAL = (
    b"From: Ophelia <ophelia@castle.test>\r\nTo: hamlet@bigmail.test\r\n"
    b"Subject: remembrances\r\nMessage-ID: <1@castle.test>\r\n\r\nMy lord, I have remembrances"
    b" of yours\r\nthat I have longed long to re-deliver.\r\n"
)
REFUSED = RecipientResult(
    "hamlet@bigmail.test", 550, "5.1.1", "no such user", "mx.bigmail.test[127.0.0.30]:25"
)
DEFERRED = RecipientResult("horatio@outpost.test", 0, "4.4.1", "connection refused", "")
DELIVERED = RecipientResult(
    "laertes@castle.test", 250, "2.0.0", "queued", "mx.castle.test[127.0.0.25]:25"
)


def dsn(*results: RecipientResult, **changes: Any) -> bytes:
    """``build_dsn`` for ``results`` with this file's values, ``changes`` replacing some
    (``expired`` is passed only when given, so that a test can read ``build_dsn``'s own)."""
    arguments: dict[str, Any] = {
        "reporting_mta": "relay.castle.test",
        "sender": "ophelia@castle.test",
        "results": results,
        "original": ORIGINAL,
        "arrival": ARRIVAL,
        "queue_id": "Q1A2B3",
    }
    return build_dsn(**(arguments | changes))


def report_blocks(mail: Mail) -> list[dict[str, str]]:
    """The message/delivery-status part as field blocks, per-message block first."""
    assert isinstance(mail.body, Parts)
    report = mail.body.parts[1]
    assert report.content_type.mime_type == "message/delivery-status"
    assert isinstance(report.body, Data)
    blocks = []
    for chunk in report.body.data.decode("ascii").split("\r\n\r\n"):
        fields = [line.split(": ", 1) for line in chunk.strip("\r\n").split("\r\n")]
        blocks.append({name.lower(): value for name, value in fields})
    return blocks


def test_a_dsn_is_a_multipart_report_of_three_parts_that_decodes_strictly() -> None:
    mail = decode(dsn(REFUSED), strict=True)
    content_type = mail.content_type
    assert content_type.mime_type == "multipart/report"
    assert content_type.param("report-type") == "delivery-status"
    assert isinstance(mail.body, Parts)
    assert [part.content_type.mime_type for part in mail.body.parts] == [
        "text/plain",
        "message/delivery-status",
        "text/rfc822-headers",
    ]
    assert mail.get("auto-submitted") == "auto-replied"
    assert mail.get("subject") == "Undelivered Mail Returned to Sender"
    [to] = mail.get("to")  # type: ignore[misc]
    assert (to.local, to.domain) == ("ophelia", "castle.test")


def test_each_undelivered_recipient_gets_its_own_block() -> None:
    per_message, refused, deferred = report_blocks(
        decode(dsn(REFUSED, DELIVERED, DEFERRED), strict=True)
    )
    assert per_message["reporting-mta"] == "dns; relay.castle.test"
    assert per_message["arrival-date"] == "Tue, 01 Dec 2026 09:30:00 +0000"
    assert refused == {
        "final-recipient": "rfc822; hamlet@bigmail.test",
        "action": "failed",
        "status": "5.1.1",
        "remote-mta": "dns; mx.bigmail.test",
        "diagnostic-code": "smtp; 550 5.1.1 no such user",
        "last-attempt-date": refused["last-attempt-date"],
    }
    assert deferred["final-recipient"] == "rfc822; horatio@outpost.test"
    assert deferred["action"] == "delayed"
    assert deferred["status"] == "4.4.1"
    assert deferred["diagnostic-code"] == "X-Elsinore; connection refused"
    assert "remote-mta" not in deferred


def test_an_expired_message_fails_every_recipient_with_delivery_time_expired() -> None:
    no_reply = RecipientResult("horatio@outpost.test", 0, None, "connection refused", "")
    mail = decode(dsn(no_reply, expired=True), strict=True)
    _, block = report_blocks(mail)
    assert (block["action"], block["status"]) == ("failed", "4.4.7")
    assert mail.get("subject") == "Undelivered Mail Returned to Sender"


def test_only_temporary_failures_make_a_delay_warning() -> None:
    mail = decode(dsn(DEFERRED), strict=True)
    assert mail.get("subject") == "Delayed Mail (still trying)"
    assert isinstance(mail.body, Parts)
    explanation = mail.body.parts[0].body
    assert isinstance(explanation, Text)
    assert "It will be tried again" in explanation.text


def test_the_original_header_is_returned_without_the_body() -> None:
    mail = decode(dsn(REFUSED), strict=True)
    assert isinstance(mail.body, Parts)
    returned = mail.body.parts[2].body
    assert isinstance(returned, Text)
    assert returned.text.replace("\n", "\r\n").encode() == ORIGINAL.split(b"\r\n\r\n")[0] + b"\r\n"
    assert b"re-deliver" not in dsn(REFUSED)


def test_the_null_sender_is_never_sent_a_dsn() -> None:
    with pytest.raises(ValueError, match="null sender"):
        dsn(REFUSED, sender="")


def test_a_report_with_nothing_undelivered_is_refused() -> None:
    with pytest.raises(ValueError, match="not delivered"):
        dsn(DELIVERED)


def test_an_internationalised_recipient_is_written_in_rfc_6533_notation() -> None:
    result = RecipientResult("pölönius@castle.test", 550, "5.1.1", "unknown", "")
    _, block = report_blocks(decode(dsn(result), strict=True))
    assert block["final-recipient"] == "utf-8; p\\x{F6}l\\x{F6}nius@castle.test"


def test_hostile_reply_text_cannot_inject_a_field_or_a_part() -> None:
    text = "no\r\nX-Injected: yes\r\n\r\n--boundary\x00\u2028end"
    hostile = RecipientResult("hamlet@bigmail.test", 550, "5.1.1", text, "mx[127.0.0.30]:25")
    data = dsn(hostile)
    lines = data.split(b"\r\n")
    assert not any(line.startswith(b"X-Injected") for line in lines)
    assert b"\x00" not in data
    _, block = report_blocks(decode(data, strict=True))
    assert block["diagnostic-code"] == (
        "smtp; 550 5.1.1 no\\x0d\\x0aX-Injected: yes\\x0d\\x0a\\x0d\\x0a--boundary\\x00\\u2028end"
    )


def test_python_email_reads_the_report_as_delivery_status() -> None:
    parsed = email.message_from_bytes(dsn(REFUSED, DEFERRED), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/report"
    report = parsed.get_payload()[1]
    assert report.get_content_type() == "message/delivery-status"
    blocks = report.get_payload()
    assert [block["Final-Recipient"] for block in blocks[1:]] == [
        "rfc822; hamlet@bigmail.test",
        "rfc822; horatio@outpost.test",
    ]


@given(
    text=hostile_text(),
    recipient=hostile_text(max_pieces=3),
    remote=hostile_text(max_pieces=3),
    code=st.sampled_from([0, 421, 450, 550, 554]),
    message=wire_messages(),
)
def test_any_reply_and_any_message_give_a_dsn_that_decodes_strictly(
    text: str, recipient: str, remote: str, code: int, message: Entity
) -> None:
    result = RecipientResult(recipient, code, None, text, remote)
    data = dsn(result, expired=True, original=message.data)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\x00" not in data
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert b"\n" not in data.replace(b"\r\n", b"")
    mail = decode(data, strict=True)
    assert isinstance(mail.body, Parts)
    assert len(mail.body.parts) == 3
    [_, block] = report_blocks(mail)
    assert block["action"] == "failed"
    assert mail.body.parts[2].content_type.mime_type == "text/rfc822-headers"


def test_a_5xx_and_an_expiry_together_are_both_failed_and_both_explained() -> None:
    mail = decode(dsn(REFUSED, DEFERRED, expired=True), strict=True)
    _, refused, deferred = report_blocks(mail)
    assert (refused["action"], refused["status"]) == ("failed", "5.1.1")
    assert (deferred["action"], deferred["status"]) == ("failed", "4.4.1")
    assert isinstance(mail.body, Parts)
    explanation = mail.body.parts[0].body
    assert isinstance(explanation, Text)
    assert "The reasons are permanent" in explanation.text
    assert "given up" in explanation.text


# -- each field and sentence as the module's documentation states it (issue 18) --------------


def explanation_of(data: bytes) -> str:
    mail = decode(data, strict=True)
    assert isinstance(mail.body, Parts)
    text = mail.body.parts[0].body
    assert isinstance(text, Text)
    return text.text


def test_the_dsn_comes_from_the_mailer_daemon_of_the_reporting_mta_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    mail = decode(dsn(REFUSED), strict=True)
    [sender] = mail.get("from")  # type: ignore[misc]
    assert (sender.name, sender.local, sender.domain) == (
        "Mail Delivery System",
        "MAILER-DAEMON",
        "relay.castle.test",
    )
    message_id = str(mail.get("message-id"))
    assert message_id.startswith("<Q1A2B3.") and message_id.endswith("@relay.castle.test>")
    assert str(decode(dsn(REFUSED), strict=True).get("message-id")) != message_id
    assert mail.get("mime-version") == "1.0"
    date = mail.get("date")
    assert isinstance(date, DateTime) and date.zone == 0
    sent = datetime(
        date.year, date.month, date.day, date.hour, date.minute, date.second, tzinfo=UTC
    )
    assert before <= sent <= datetime.now(UTC)


@pytest.mark.parametrize("sender", ["no-at-sign", "@castle.test", "ophelia@", "a b@castle.test"])
def test_a_sender_no_header_can_name_is_written_as_undisclosed_recipients(sender: str) -> None:
    data = dsn(REFUSED, sender=sender)
    [to] = decode(data, strict=True).get("to")  # type: ignore[misc]
    assert to == Group("undisclosed-recipients", ())


def test_a_status_without_an_enhanced_code_comes_from_the_reply_class() -> None:
    # RFC 3463 3.1: the class alone, X.0.0, when nothing more is known.
    refused = RecipientResult("hamlet@bigmail.test", 550, None, "no", "mx.bigmail.test[1.2.3.4]:25")
    later = RecipientResult(
        "horatio@outpost.test", 451, None, "busy", "mx.outpost.test[1.2.3.5]:25"
    )
    _, first, second = report_blocks(decode(dsn(refused, later), strict=True))
    assert (first["status"], first["action"]) == ("5.0.0", "failed")
    assert (second["status"], second["action"]) == ("4.0.0", "delayed")
    assert first["diagnostic-code"] == "smtp; 550 no"
    assert status_of(later, expired=True) == "4.4.7"
    assert status_of(REFUSED, expired=True) == "5.1.1"


def test_the_report_names_the_queue_the_remote_host_and_the_last_attempt() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    per_message, refused = report_blocks(decode(dsn(REFUSED), strict=True))
    assert per_message["x-elsinore-queue-id"] == "Q1A2B3"
    assert refused["remote-mta"] == "dns; mx.bigmail.test"
    attempted = parsedate_to_datetime(refused["last-attempt-date"])
    assert before <= attempted <= datetime.now(UTC)


def test_a_failure_with_no_words_has_a_diagnostic_without_trailing_space() -> None:
    silent = RecipientResult("horatio@outpost.test", 0, None, "", "")
    data = dsn(silent)
    _, block = report_blocks(decode(data, strict=True))
    assert block["diagnostic-code"] == "X-Elsinore;"
    refused = RecipientResult("hamlet@bigmail.test", 550, None, "", "mx[1.2.3.4]:25")
    _, block = report_blocks(decode(dsn(refused), strict=True))
    assert block["diagnostic-code"] == "smtp; 550"


def test_a_naive_arrival_time_is_taken_as_utc() -> None:
    data = dsn(REFUSED, arrival=datetime(2026, 12, 1, 9, 30))
    per_message, _ = report_blocks(decode(data, strict=True))
    assert per_message["arrival-date"] == "Tue, 01 Dec 2026 09:30:00 +0000"
    assert "Your message of Tue, 01 Dec 2026 09:30:00 +0000" in explanation_of(data)


def test_the_explanation_says_who_failed_why_and_what_happens_next() -> None:
    text = explanation_of(dsn(REFUSED, DEFERRED))
    lines = text.split("\n")
    assert lines[0] == "This is the mail system at relay.castle.test."
    assert "could not be delivered to the recipients below" in text
    assert "will not be tried again" in text and "For some" not in text
    assert (
        "<hamlet@bigmail.test>: host mx.bigmail.test[127.0.0.30]:25 said: 550 5.1.1 no such user"
        in lines
    )
    assert "<horatio@outpost.test>: connection refused" in lines
    assert lines[-2:] == ["Queue id: Q1A2B3", ""]
    no_code = RecipientResult(
        "horatio@outpost.test", 0, None, "timed out", "mx.outpost.test[1.2.3.5]:25"
    )
    assert "<horatio@outpost.test>: delivery to mx.outpost.test[1.2.3.5]:25 failed: timed out" in (
        explanation_of(dsn(no_code))
    )


def test_an_expired_message_without_a_permanent_failure_says_it_was_given_up() -> None:
    text = explanation_of(dsn(DEFERRED, expired=True))
    assert "could not be delivered to the recipients below in the\ntime it was kept for" in text
    assert "has been given up" in text
    assert "permanent" not in text and "tried again" not in text


def test_an_explanation_in_utf_8_says_so_and_is_written_safely() -> None:
    result = RecipientResult("pölönius@castle.test", 550, "5.1.1", "ünknown", "")
    mail = decode(dsn(result), strict=True)
    assert isinstance(mail.body, Parts)
    part = mail.body.parts[0]
    assert part.content_type.param("charset") == "utf-8"
    assert part.get("content-transfer-encoding") in ("8bit", "quoted-printable", "base64")
    assert isinstance(part.body, Text) and "<pölönius@castle.test>: ünknown" in part.body.text
    ascii_part = decode(dsn(REFUSED), strict=True).body.parts[0]  # type: ignore[union-attr]
    assert ascii_part.content_type.param("charset") == "us-ascii"
    assert ascii_part.get("content-transfer-encoding") is None


def test_an_original_header_in_utf_8_is_returned_as_utf_8() -> None:
    original = "Subject: Grüße\r\nFrom: jörg@castle.test\r\n\r\nbody\r\n".encode()
    mail = decode(dsn(REFUSED, original=original), strict=True)
    assert isinstance(mail.body, Parts)
    part = mail.body.parts[2]
    assert part.content_type.mime_type == "text/rfc822-headers"
    assert part.content_type.param("charset") == "utf-8"
    assert part.get("content-transfer-encoding") is not None
    assert isinstance(part.body, Text)
    assert part.body.text.replace("\n", "\r\n").encode() == original.split(b"\r\n\r\n")[0] + b"\r\n"
    ascii_part = decode(dsn(REFUSED), strict=True).body.parts[2]  # type: ignore[union-attr]
    assert ascii_part.content_type.param("charset") is None
    assert ascii_part.get("content-transfer-encoding") is None


def test_a_dsn_built_without_saying_expired_is_a_delay_warning_for_a_temporary_failure() -> None:
    data = dsn(DEFERRED)
    assert decode(data, strict=True).get("subject") == "Delayed Mail (still trying)"


def test_the_refusals_say_what_is_wrong_from_their_first_word() -> None:
    with pytest.raises(ValueError, match=r"^the null sender is never sent a DSN \(RFC 5321"):
        dsn(REFUSED, sender="")
    with pytest.raises(ValueError, match=r"^a DSN needs at least one recipient that was not"):
        dsn(DELIVERED)


@pytest.mark.parametrize(
    ("reporting_mta", "queue_id", "what"),
    [("relay\n.castle.test", "Q1", "reporting MTA"), ("relay.castle.test", "Q\n1", "queue id")],
)
def test_a_configured_value_that_cannot_stand_in_a_field_is_named(
    reporting_mta: str, queue_id: str, what: str
) -> None:
    with pytest.raises(UnsafeTextError) as raised:
        dsn(REFUSED, reporting_mta=reporting_mta, queue_id=queue_id)
    assert str(raised.value).startswith(f"{what}: LF (U+000A)")


def test_the_explanation_is_laid_out_in_paragraphs_of_whole_sentences() -> None:
    lines = explanation_of(dsn(REFUSED, DEFERRED, expired=True)).split("\n")
    assert lines[1] == ""  # after the greeting
    assert any(line.startswith("The reasons are permanent") for line in lines), lines
    assert any(
        line.startswith("For some, it was tried") and line.endswith("given up.") for line in lines
    ), lines
    assert lines[lines.index("Queue id: Q1A2B3") - 1] == ""
    waiting = explanation_of(dsn(DEFERRED)).split("\n")
    assert any(line.startswith("It will be tried again; you need do nothing") for line in waiting)
    opening_end = waiting.index("It will be tried again; you need do nothing now.")
    assert waiting[opening_end + 1] == ""


def test_what_the_remote_server_chose_is_cut_short_in_the_explanation_too() -> None:
    # Recipient, remote host and reply text are someone else's choice: each is bounded and
    # ends in safe_text's cut mark, so one reply cannot make a bounce of any size.
    long = "x" * 3000
    for result in (
        RecipientResult(long + "@castle.test", 550, "5.1.1", "no", "mx[1.2.3.4]:25"),
        RecipientResult("a@castle.test", 550, "5.1.1", long, "mx[1.2.3.4]:25"),
        RecipientResult("a@castle.test", 550, "5.1.1", "no", long),
        RecipientResult("a@castle.test", 0, None, "no", long),
    ):
        [line] = [line for line in explanation_of(dsn(result)).split("\n") if "x" * 50 in line]
        assert "\\..." in line and len(line) < 3000, len(line)


def test_diagnostic_and_remote_mta_name_only_what_a_remote_server_said() -> None:
    ours = RecipientResult("hamlet@bigmail.test", 550, "5.1.1", "unknown", "")
    _, block = report_blocks(decode(dsn(ours), strict=True))
    assert block["diagnostic-code"] == "X-Elsinore; unknown"
    assert "remote-mta" not in block
    odd = RecipientResult("hamlet@bigmail.test", 550, "5.1.1", "no", "mx.test[1.2.3.4]x[y]:25")
    _, block = report_blocks(decode(dsn(odd), strict=True))
    assert block["remote-mta"] == "dns; mx.test"


def test_an_aware_arrival_time_keeps_its_zone() -> None:
    arrival = datetime(2026, 12, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    data = dsn(REFUSED, arrival=arrival)
    per_message, _ = report_blocks(decode(data, strict=True))
    assert per_message["arrival-date"] == "Tue, 01 Dec 2026 11:30:00 +0200"


def test_the_sender_s_domain_is_after_its_last_at_sign() -> None:
    data = dsn(REFUSED, sender="a@b@castle.test")
    [to] = decode(data, strict=True).get("to")  # type: ignore[misc]
    assert (to.local, to.domain) == ("a@b", "castle.test")
