"""Delivery status notifications (RFC 3464): the bounce a hop sends to a message's sender.

A DSN is a ``multipart/report; report-type=delivery-status`` (RFC 6522) of three parts:

1. a human-readable explanation (``text/plain``);
2. the machine-readable report (``message/delivery-status``): one block of per-message fields
   (``Reporting-MTA``, ``Arrival-Date``), then one block per recipient (``Final-Recipient``,
   ``Action``, ``Status``, ``Remote-MTA``, ``Diagnostic-Code``, ``Last-Attempt-Date``);
3. the original message's header (``text/rfc822-headers``, RFC 6522 section 4).  The body is
   left out, as Postfix does by default: the sender has it, and a bounce should not carry a
   second copy of a large or unwanted message to an address that may be forged.

The message is built as a :class:`~stack.mime.model.Mail` and written by
:func:`stack.mime.encode`, so it is canonical and reads back with ``decode(strict=True)``.

Almost everything in a bounce was chosen by someone else: the remote server's reply text, the
recipient addresses, the original header.  Values that go into header-like lines (the report
fields) pass through :func:`~stack.mime.safe.safe_text`, so no CR, LF or NUL from a hostile
reply reaches the wire, and are kept to ASCII there by RFC 6533's ``\\x{HEX}`` notation.  The
original header travels as a MIME body, in a transfer encoding that carries any bytes safely.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING

from stack.mime import transfer
from stack.mime.encode import encode
from stack.mime.fields import ContentType, DateTime, Group, Mailbox, MessageId
from stack.mime.lossless import parse
from stack.mime.model import Data, Header, Mail, Parts, Text
from stack.mime.safe import checked_text, safe_text

if TYPE_CHECKING:
    from stack.smtp.client import RecipientResult

#: What a report line may hold after its field name: well within RFC 5322's 998 octets.
_VALUE_LIMIT = 900
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def build_dsn(
    *,
    reporting_mta: str,
    sender: str,
    results: Sequence[RecipientResult],
    original: bytes,
    arrival: datetime,
    queue_id: str,
    expired: bool = False,
) -> bytes:
    """The DSN for the ``results`` not delivered, addressed to the envelope ``sender``.

    A permanent failure, or any failure once the message has ``expired``, is reported as
    ``Action: failed``; a temporary one before expiry as ``Action: delayed`` (a warning: the
    hop goes on trying).  Delivered results are left out.  The null sender is never sent a
    DSN (RFC 5321 section 4.5.5: that is how bounce loops are avoided), so asking for one is
    a ``ValueError``, as is a report with no undelivered recipient.
    """
    if not sender:
        raise ValueError("the null sender is never sent a DSN (RFC 5321 section 4.5.5)")
    reported = [result for result in results if not result.delivered]
    if not reported:
        raise ValueError("a DSN needs at least one recipient that was not delivered")
    mta = checked_text(reporting_mta, "reporting MTA")
    queue = checked_text(queue_id, "queue id")
    now = datetime.now(UTC)
    failed = expired or any(result.permanent for result in reported)
    subject = "Undelivered Mail Returned to Sender" if failed else "Delayed Mail (still trying)"
    headers = (
        Header("From", (Mailbox("Mail Delivery System", "MAILER-DAEMON", mta),)),
        Header("To", (_mailbox(sender),)),
        Header("Subject", subject),
        Header("Date", _date_time(now)),
        Header("Message-ID", MessageId(f"{queue}.{uuid.uuid4().hex}", mta)),
        # RFC 3834: an automatic reply, which no auto-responder answers in turn.
        Header("Auto-Submitted", "auto-replied"),
        Header("MIME-Version", "1.0"),
        Header(
            "Content-Type",
            ContentType("multipart", "report", (("report-type", "delivery-status"),)),
        ),
    )
    parts = (
        _explanation(mta, queue, reported, arrival, expired),
        _report(mta, queue, reported, arrival, now, expired),
        _original_header(original),
    )
    return encode(Mail(headers, Parts(parts)))


def action_of(result: RecipientResult, *, expired: bool) -> str:
    """``failed`` for what will not be retried, ``delayed`` for what will (RFC 3464 2.3.3)."""
    return "failed" if expired or result.permanent else "delayed"


def status_of(result: RecipientResult, *, expired: bool) -> str:
    """The ``Status`` of a recipient: the server's enhanced code, else one from its reply
    code; a message that expired without one is 4.4.7, "delivery time expired" (RFC 3463)."""
    if result.enhanced:
        return result.enhanced
    if result.permanent:
        return "5.0.0"
    return "4.4.7" if expired else "4.0.0"


def _explanation(
    mta: str,
    queue: str,
    reported: Sequence[RecipientResult],
    arrival: datetime,
    expired: bool,
) -> Mail:
    when = format_datetime(_aware(arrival))
    if any(result.permanent for result in reported):
        opening = (
            f"Your message of {when} could not be delivered to the recipients below.\n"
            "The reasons are permanent: it will not be tried again."
        )
        if expired and not all(result.permanent for result in reported):
            opening += "\nFor some, it was tried for the time it was kept for, and given up."
    elif expired:
        opening = (
            f"Your message of {when} could not be delivered to the recipients below in the\n"
            "time it was kept for, and has been given up."
        )
    else:
        opening = (
            f"Your message of {when} has not been delivered yet to the recipients below.\n"
            "It will be tried again; you need do nothing now."
        )
    lines = [f"This is the mail system at {mta}.", "", opening, ""]
    for result in reported:
        lines.append(f"<{safe_text(result.recipient, limit=_VALUE_LIMIT)}>: {_said(result)}")
    lines += ["", f"Queue id: {queue}"]
    text = "\n".join(lines) + "\n"
    content = text.replace("\n", "\r\n").encode("utf-8")
    charset = "us-ascii" if text.isascii() else "utf-8"
    part_headers = [Header("Content-Type", ContentType("text", "plain", (("charset", charset),)))]
    encoding = transfer.choose(content, text=True)
    if encoding != "7bit":
        part_headers.append(Header("Content-Transfer-Encoding", encoding))
    return Mail(tuple(part_headers), Text(text))


def _said(result: RecipientResult) -> str:
    """What went wrong, in a sentence: the remote server's words when it gave some."""
    reply = " ".join(str(piece) for piece in (result.code, result.enhanced) if piece)
    text = safe_text(result.text, limit=_VALUE_LIMIT)
    if result.remote and result.code:
        return f"host {safe_text(result.remote, limit=200)} said: {reply} {text}"
    if result.remote:
        return f"delivery to {safe_text(result.remote, limit=200)} failed: {text}"
    return text


def _report(
    mta: str,
    queue: str,
    reported: Sequence[RecipientResult],
    arrival: datetime,
    now: datetime,
    expired: bool,
) -> Mail:
    blocks = [
        [
            f"Reporting-MTA: dns; {mta}",
            f"X-Elsinore-Queue-ID: {queue}",
            f"Arrival-Date: {format_datetime(_aware(arrival))}",
        ]
    ]
    for result in reported:
        block = [
            f"Final-Recipient: {_address_type(result.recipient)}",
            f"Action: {action_of(result, expired=expired)}",
            f"Status: {status_of(result, expired=expired)}",
        ]
        host = result.remote.partition("[")[0]
        if host:
            block.append(f"Remote-MTA: dns; {_ascii(host)}")
        if result.remote and result.code:
            reply = " ".join(str(piece) for piece in (result.code, result.enhanced) if piece)
            block.append(f"Diagnostic-Code: smtp; {reply} {_ascii(result.text)}".rstrip())
        else:
            block.append(f"Diagnostic-Code: X-Elsinore; {_ascii(result.text)}".rstrip())
        block.append(f"Last-Attempt-Date: {format_datetime(now)}")
        blocks.append(block)
    content = "\r\n\r\n".join("\r\n".join(block) for block in blocks) + "\r\n"
    return Mail(
        (Header("Content-Type", ContentType("message", "delivery-status", ())),),
        Data(content.encode("ascii")),
    )


def _original_header(original: bytes) -> Mail:
    """The original header as a body part, in whatever transfer encoding its bytes need."""
    header = parse(original).header_bytes()
    encoding = transfer.choose(header, text=True)
    content_type = ContentType("text", "rfc822-headers", ())
    if encoding in ("8bit", "base64"):
        content_type = ContentType("text", "rfc822-headers", (("charset", "utf-8"),))
    part_headers = [Header("Content-Type", content_type)]
    if encoding != "7bit":
        part_headers.append(Header("Content-Transfer-Encoding", encoding))
    return Mail(tuple(part_headers), Data(header))


def _address_type(address: str) -> str:
    """``rfc822; a@b``, or RFC 6533's ``utf-8; ...`` for an internationalised address."""
    if address.isascii():
        return f"rfc822; {safe_text(address, limit=_VALUE_LIMIT)}"
    return f"utf-8; {_ascii(address)}"


def _ascii(text: str) -> str:
    """Report text made safe, then ASCII: non-ASCII characters as RFC 6533's ``\\x{HEX}``."""
    safe = safe_text(text, limit=_VALUE_LIMIT // 2)
    return _NON_ASCII.sub(lambda match: f"\\x{{{ord(match.group()):X}}}", safe)


def _mailbox(address: str) -> Mailbox | Group:
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or safe_text(address) != address or " " in address:
        # Not something a header can name: the envelope still carries the DSN there.
        return Group("undisclosed-recipients", ())
    return Mailbox(None, local, domain)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _date_time(moment: datetime) -> DateTime:
    offset = moment.utcoffset()
    zone = int(offset.total_seconds() // 60) if offset is not None else None
    return DateTime(
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, zone
    )
