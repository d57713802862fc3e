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
through :func:`stack.mime.safe.safe_text`, each bounded so that its line stays within 998
octets however it was escaped (a HELO of 500 stray 8-bit bytes is 2,000 characters once
escaped, and a field that :meth:`~stack.mime.lossless.Field.build` refused would refuse the
message: one command would be enough to stop a hop stamping).  Our own host name is
configuration and goes through :func:`~stack.mime.safe.checked_text`.  The id,
``<ID@HOST>``, is how the next Elsinore hop knows this copy again if we send it twice (see
:func:`previous_queue_id`).
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


#: The octets a client-chosen value may take, escaped and quoted, in a line that RFC 5322
#: 2.1.1 ends at 998: the first line is at most 15 + 255 + 2 + 255 + 7 + 45 + 2 = 581 octets
#: ("from HELO (RDNS [IPv6:ADDRESS])"), the last 6 + 900 + 3 + 31 = 940 ("for <RCPT>; DATE").
#: An honest name is at most 255 octets and an honest path 256 (RFC 5321 4.5.3.1), so only
#: a value with escapes in it (four octets for each stray 8-bit byte) can be cut.
NAME_LIMIT = 255
RECIPIENT_LIMIT = 900
#: The TLS version and cipher come from OpenSSL, not the client: bounded only to be sure.
TLS_NAME_LIMIT = 100


def _quoted(value: str, specials: str, limit: int) -> str:
    """``safe_text(value)`` with a backslash before each of ``specials``, in at most ``limit``
    octets (``limit`` >= 8).

    The backslashes quote what would end the comment or the path the value stands in, so that
    a hostile name cannot write clauses of its own (parentheses in a comment, RFC 5322 3.2.2;
    ``>`` in the ``for`` path).  safe_text has already doubled every backslash it did not
    write as the start of an escape, so they need nothing more.  Each quote adds an octet:
    the value is cut that many octets shorter.
    """
    pattern = f"[{re.escape(specials)}]"
    text = safe_text(value, limit=limit)
    quotes = len(re.findall(pattern, text))
    if quotes:
        # A shorter cut keeps a prefix of the same text: no more quotes than counted here.
        text = safe_text(value, limit=max(limit - quotes, 4))
    return re.sub(pattern, r"\\\g<0>", text)


def received_value(arrival: Arrival) -> str:
    """The field's value, folded with CRLF-free ``\\n\\t`` folds (the message's own line
    ending replaces them when it is prepended)."""
    host = checked_text(arrival.hostname, "hostname")
    helo = _quoted(arrival.helo, "()", NAME_LIMIT) or "unknown"
    rdns = _quoted(arrival.rdns, "()", NAME_LIMIT) if arrival.rdns else "unknown"
    address = checked_text(arrival.address, "client address")
    literal = f"IPv6:{address}" if ":" in address else address
    lines = [f"from {helo} ({rdns} [{literal}])"]
    if arrival.tls is not None:
        tls = arrival.tls
        lines.append(
            f"(using {safe_text(tls.version, limit=TLS_NAME_LIMIT)}"
            f" with cipher {safe_text(tls.cipher, limit=TLS_NAME_LIMIT)}"
            f" ({tls.bits}/{tls.bits} bits))"
        )
    lines.append(f"by {host} via tcp with {protocol(arrival)} id <{arrival.queue_id}@{host}>")
    when = format_datetime(arrival.date)
    if len(arrival.recipients) == 1:
        recipient = _quoted(arrival.recipients[0], ">", RECIPIENT_LIMIT)
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
