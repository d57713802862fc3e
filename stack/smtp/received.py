"""The ``Received:`` field a hop prepends to every message (RFC 5321 4.4, RFC 5322 3.6.7).

The form is the seed's, one clause per line (folded with a tab, shown here as spaces)::

    Received: from HELO (RDNS [IP])
        (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))
        by HOST via tcp with ESMTPS id <ID@HOST>
        for <RCPT>; DATE

The TLS clause is there only when the client used TLS; ``for`` only when the message has
one recipient (naming all of them would tell each recipient who else got a Bcc).  The
``with`` protocol is RFC 3848's (``ESMTP``, ``ESMTPS``, ``ESMTPA``, ``ESMTPSA``, ``SMTP``)
or RFC 6531's ``UTF8SMTP...`` when the client used SMTPUTF8.

The HELO name, the reverse DNS name and the recipient are the client's choice, so they go
through :func:`stack.mime.safe.safe_text`; our own host name is configuration and goes through
:func:`~stack.mime.safe.checked_text`.  The id, ``<ID@HOST>``, is how the next Elsinore hop
knows this copy again if we send it twice (see :func:`previous_queue_id`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from stack.mime.safe import checked_text, safe_text


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """The TLS a client used: protocol version, cipher suite and its secret bits."""

    version: str
    cipher: str
    bits: int


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a hop knows of how a message arrived: everything the field names."""

    helo: str
    address: str
    rdns: str | None
    hostname: str
    queue_id: str
    recipients: tuple[str, ...]
    date: datetime
    esmtp: bool = True
    tls: TlsInfo | None = None
    authenticated: bool = False
    smtputf8: bool = False


def protocol(arrival: Arrival) -> str:
    """The ``with`` keyword: RFC 3848 (and RFC 6531 for SMTPUTF8)."""
    if not arrival.esmtp:
        return "SMTP"
    suffix = ("S" if arrival.tls else "") + ("A" if arrival.authenticated else "")
    base = "UTF8SMTP" if arrival.smtputf8 else "ESMTP"
    return base + suffix


def _comment_text(value: str) -> str:
    # Parentheses are quoted (RFC 5322 3.2.2) so that a hostile name cannot open or close a
    # comment and write clauses of its own.  Backslashes need nothing more: safe_text has
    # already doubled every one it did not write as the start of an escape.
    return re.sub(r"([()])", r"\\\1", value)


def received_value(arrival: Arrival) -> str:
    """The field's value, folded with CRLF-free ``\\n\\t`` folds (the message's own line
    ending replaces them when it is prepended)."""
    host = checked_text(arrival.hostname, "hostname")
    helo = safe_text(arrival.helo) or "unknown"
    rdns = safe_text(arrival.rdns) if arrival.rdns else "unknown"
    address = checked_text(arrival.address, "client address")
    literal = f"IPv6:{address}" if ":" in address else address
    lines = [f"from {_comment_text(helo)} ({_comment_text(rdns)} [{literal}])"]
    if arrival.tls is not None:
        tls = arrival.tls
        lines.append(
            f"(using {safe_text(tls.version)} with cipher {safe_text(tls.cipher)}"
            f" ({tls.bits}/{tls.bits} bits))"
        )
    lines.append(f"by {host} via tcp with {protocol(arrival)} id <{arrival.queue_id}@{host}>")
    when = format_datetime(arrival.date)
    if len(arrival.recipients) == 1:
        recipient = safe_text(arrival.recipients[0]).replace(">", "\\>")
        lines.append(f"for <{recipient}>; {when}")
    else:
        lines[-1] += ";"
        lines.append(when)
    return "\n\t".join(lines)


# Our own id clause: "by HOST via tcp with PROTO id <ID@HOST>" with the same HOST twice.
_OUR_ID = re.compile(
    r"\bby\s+(\S+)\s+via\s+tcp\s+with\s+[A-Z0-9]+\s+id\s+<([0-9A-Za-z]{8,64})@(\S+?)>"
)


def previous_queue_id(value: str) -> str | None:
    """``ID@HOST`` from a ``Received:`` value that an Elsinore hop wrote, or None.

    A hop reads it from a message's topmost ``Received:`` field: when an upstream Elsinore
    hop sends the same copy again (it crashed after our 250 and before it recorded it), the
    id and the bytes are the same, and we accept the copy without queueing it twice.
    """
    match = _OUR_ID.search(value)
    if match is None or match.group(1) != match.group(3):
        return None
    return f"{match.group(2)}@{match.group(3)}"


__all__ = ["Arrival", "TlsInfo", "previous_queue_id", "protocol", "received_value"]
