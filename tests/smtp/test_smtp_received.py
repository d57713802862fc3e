"""The Received field a hop prepends: the seed's form, and hostile values kept inside it.

The property at the end is the one tests/auth/test_auth_field_safety.py checks for the auth
fields: whatever the client chose (``harness.strategies.hostile_text``, or names and
addresses from the grammar), the field is one field, on lines of at most 998 octets, with no
CR, LF or NUL but the folds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.strategies import domain_literals, domains, hostile_text, local_parts
from stack.mime import parse
from stack.mime.safe import UnsafeTextError
from stack.smtp.received import Arrival, TlsInfo, previous_queue_id, received_value

MESSAGE = b"Subject: x\r\n\r\nbody\r\n"

WHEN = datetime(2026, 12, 3, 19, 0, 0, tzinfo=UTC)


def arrival(**changes: object) -> Arrival:
    values: dict[str, object] = {
        "helo": "client.example.test",
        "address": "127.0.0.9",
        "rdns": "client.example.test",
        "hostname": "hop.castle.test",
        "queue_id": "0123456789ABCDEF",
        "recipients": ("ophelia@castle.test",),
        "date": WHEN,
    }
    values.update(changes)
    return Arrival(**values)  # type: ignore[arg-type]


def test_received_has_the_seeds_form() -> None:
    value = received_value(arrival())
    assert value.split("\n\t") == [
        "from client.example.test (client.example.test [127.0.0.9])",
        "by hop.castle.test via tcp with ESMTP id <0123456789ABCDEF@hop.castle.test>",
        "for <ophelia@castle.test>; Thu, 03 Dec 2026 19:00:00 +0000",
    ]


def test_received_names_tls_version_and_cipher_and_esmtps() -> None:
    value = received_value(arrival(tls=TlsInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)))
    assert "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))" in value
    assert "with ESMTPS id" in value


def test_received_names_no_recipient_when_there_are_several() -> None:
    value = received_value(arrival(recipients=("a@castle.test", "b@castle.test")))
    assert " for " not in value and "castle.test>;" in value


def test_hostile_helo_cannot_add_a_line_or_close_the_comment() -> None:
    message = parse(b"Subject: x\r\n\r\nbody\r\n")
    value = received_value(arrival(helo="evil\r\nX-Injected: yes", rdns="a) by forged (b"))
    message.prepend("Received", value)
    assert [field.name for field in message.fields] == ["Received", "Subject"]
    assert parse(bytes(message)).get("X-Injected") is None
    assert "evil\\x0d\\x0aX-Injected: yes" in value
    assert "(a\\) by forged \\(b [127.0.0.9])" in value


def test_configured_hostname_with_a_line_break_is_refused() -> None:
    with pytest.raises(UnsafeTextError):
        received_value(arrival(hostname="hop\r\nX: y"))


def test_previous_queue_id_reads_our_own_id_clause_only() -> None:
    value = received_value(arrival())
    assert previous_queue_id(value) == "0123456789ABCDEF@hop.castle.test"
    assert previous_queue_id("from a by mx.other.test with ESMTP id 4XyZ; date") is None
    forged = "from a by hop.castle.test via tcp with ESMTP id <0123456789ABCDEF@elsewhere>"
    assert previous_queue_id(forged) is None


helo_names = st.one_of(hostile_text(), domains(), domain_literals().map(lambda v: f"[{v}]"))
addresses = st.one_of(
    hostile_text(), st.builds(lambda local, domain: f"{local}@{domain}", local_parts(), domains())
)
client_addresses = st.sampled_from(("127.0.0.9", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))


@settings(max_examples=300, deadline=None)
@given(
    helo=helo_names,
    rdns=st.none() | helo_names,
    recipients=st.lists(addresses, min_size=1, max_size=2),
    address=client_addresses,
    tls=st.booleans(),
)
def test_received_is_one_field_on_short_lines_whatever_the_client_chose(
    helo: str, rdns: str | None, recipients: list[str], address: str, tls: bool
) -> None:
    value = received_value(
        arrival(
            helo=helo,
            rdns=rdns,
            recipients=tuple(recipients),
            address=address,
            tls=TlsInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256) if tls else None,
            smtputf8=True,
            authenticated=True,
        )
    )
    message = parse(MESSAGE)
    message.prepend("Received", value)  # Field.build refuses what a line may not hold
    data = bytes(message)
    fields = [field for field in parse(data).fields if field.is_field]
    assert [field.name for field in fields] == ["Received", "Subject"], data[:2000]
    assert data.endswith(MESSAGE)
    raw = fields[0].raw
    lines = raw[:-2].split(b"\r\n")
    assert b"\0" not in raw and all(b"\r" not in ln and b"\n" not in ln for ln in lines), raw
    assert all(line[:1] == b"\t" for line in lines[1:]), raw
    assert max(map(len, lines)) <= 998, max(map(len, lines))
