"""The verifier, the MX, over real sockets: a client on a loopback address of its own, our DNS
primary serving castle.test (ours) and the outside domains, a resolver forwarding to it, and
the hop storing what it accepts in a real spool.

sender.test lets 127.0.0.77 send (``ip4:``, and ``a`` for its HELO name), signs with an
Ed25519 and an RSA key published in its zone, and publishes ``p=reject``; slow.test is the
same (a test holds its DNS answers back); quiet.test is the same with ``p=quarantine``;
plain.test and forward.test (a forwarder that seals with ARC) publish SPF ``-all`` and no
DMARC record.  The primary serves no zone for unserved.test, so every question about it is a
DNS failure (REFUSED).  The verdict table and a property over the grammar and hostile text
need no sockets: they call :func:`disposition` and the transform itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import aiosmtplib
import authres
import dns.message
import dns.name
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.strategies import hostile_text, wire_messages
from harness.strategies.auth import MESSAGE, castle_lookup, fixed_key, hostile_messages
from stack.auth import arc, dkim, keys
from stack.auth.arc import NO_CHAIN
from stack.auth.dkim import DkimResult, DkimResultName
from stack.auth.dmarc import DmarcOutcome, DmarcResultName, Policy
from stack.auth.inbound import Verdict
from stack.auth.spf import SpfResult, SpfResultName
from stack.dns.addresses import Endpoint
from stack.dns.blocking import BlockingResolver
from stack.dns.primary import Primary
from stack.dns.resolver import Resolver
from stack.dns.server import DnsServer
from stack.dns.zones import ZoneSet, zone_from_text
from stack.mime import parse
from stack.relay.aliases import Watcher, write_record
from stack.services.verifier import Recipients, Verification, disposition
from stack.smtp.policy import Reply
from stack.smtp.received import Arrival
from stack.smtp.server import (
    Inbound,
    InboundConfig,
    InboundServer,
    Transaction,
    stamp_received,
)
from stack.smtp.spool import AsyncSpool, Spool
from stack.smtp.tls import LocalAuthority, client_context

pytestmark = pytest.mark.timeout(60)

MX = "mx.castle.test"
HOST = "127.0.0.1"
CLIENT = "127.0.0.77"  # mail.sender.test: sender.test's SPF designates it
STRANGER = "127.0.0.78"  # designated by nobody
DNS_HOST = "127.0.0.53"


@cache
def signing_key(algorithm: keys.Algorithm) -> keys.SigningKey:
    return keys.generate(algorithm)


def txt(text: str) -> str:
    """``text`` as TXT record data: strings of at most 255 octets (RFC 1035 §3.3.14)."""
    return " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))


def outside_zone(policy: str | None) -> str:
    """An outside domain that sends from 127.0.0.77, signs with both keys, and publishes
    ``policy`` as its DMARC record (none when None)."""
    dmarc = "" if policy is None else f"_dmarc TXT {txt(policy)}\n"
    return (
        "$TTL 300\n"
        "@ SOA ns hostmaster 1 3600 600 86400 300\n"
        "@ NS ns\n"
        f"ns A {DNS_HOST}\n"
        f'@ TXT "v=spf1 ip4:{CLIENT} -all"\n'
        f"mail A {CLIENT}\n"
        'mail TXT "v=spf1 a -all"\n'
        f"ed._domainkey TXT {txt(signing_key('ed25519').record())}\n"
        f"rsa._domainkey TXT {txt(signing_key('rsa').record())}\n"
        f"{dmarc}"
    )


CASTLE = f"""$TTL 300
@ SOA ns hostmaster 1 3600 600 86400 300
@ NS ns
ns A {DNS_HOST}
@ MX 10 mx
mx A 127.0.0.25
@ TXT "v=spf1 mx -all"
_dmarc TXT "v=DMARC1; p=reject"
"""


def zones() -> ZoneSet:
    texts = {
        "castle.test.": CASTLE,
        "sender.test.": outside_zone("v=DMARC1; p=reject"),
        "quiet.test.": outside_zone("v=DMARC1; p=quarantine"),
        "plain.test.": outside_zone(None),
        "forward.test.": outside_zone(None),
        "slow.test.": outside_zone("v=DMARC1; p=reject"),
    }
    parsed = [zone_from_text(text, origin) for origin, text in texts.items()]
    return ZoneSet({zone.origin: zone for zone in parsed if zone.origin is not None})


def message(domain: str = "sender.test") -> bytes:
    return (
        f"From: Laertes <laertes@{domain}>\r\n"
        "To: alice@castle.test\r\n"
        "Subject: my necessaries are embark'd\r\n"
        "Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
        f"Message-ID: <farewell@{domain}>\r\n"
        "\r\n"
        "Be wary then; best safety lies in fear.\r\n"
        ".. a dot-stuffed line, and trailing space \r\n"
    ).encode()


def signed(data: bytes, domain: str = "sender.test") -> bytes:
    """``data`` with an RSA and an Ed25519 DKIM signature of ``domain``."""
    data = dkim.sign(data, domain, "rsa", signing_key("rsa"))
    return dkim.sign(data, domain, "ed", signing_key("ed25519"))


# -- the test bed --------------------------------------------------------------------------


class Clock:
    """A clock the test moves: the alias map's polling interval without sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Mx:
    port: int
    spool: Spool
    users: Path
    clock: Clock
    authority: LocalAuthority

    def stored(self) -> list[bytes]:
        """Every message the MX took, as it stored it."""
        found = [self.spool.data(queued.queue_id) for queued in self.spool.due(float("inf"))]
        return [data for data in found if data is not None]


class Stall:
    """Holds the primary's answers about ``name`` until :meth:`release`: DNS that is slow
    for one message, on the MX's own event loop, so a loop the verifier blocked would also
    block the answer it waits for."""

    def __init__(self, name: str) -> None:
        self.name = dns.name.from_text(name)
        self.asked = asyncio.Event()
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    def around(self, primary: Primary) -> Callable[[bytes, bool], Awaitable[list[bytes]]]:
        async def respond(wire: bytes, tcp: bool) -> list[bytes]:
            question = dns.message.from_wire(wire).question
            if question and question[0].name == self.name:
                self.asked.set()
                await self._released.wait()
            return primary.respond(wire, tcp)

        return respond


@contextlib.asynccontextmanager
async def running_mx(tmp_path: Path, *, stall: Stall | None = None) -> AsyncIterator[Mx]:
    """The verifier on 127.0.0.1 (STARTTLS with castle.test's certificate), our primary on
    127.0.0.53, a resolver forwarding to it; alice is castle.test's one user.  With
    ``stall``, the primary holds its answers about one name until the test lets them go."""
    primary = Primary(zones())
    handler = primary.respond if stall is None else stall.around(primary)
    dns_server = DnsServer(handler, Endpoint(DNS_HOST, 0))
    dns_endpoint = await dns_server.start()
    users = tmp_path / "users"
    users.mkdir()
    write_record(users, "alice", ["alice@bigmail.test"], None)
    watcher = Watcher(users, "castle.test", postmaster="root@bigmail.test")
    clock = Clock()
    authority = LocalAuthority()
    lookup = BlockingResolver(Resolver(forwarders=[dns_endpoint], timeout=5.0))
    config = InboundConfig(
        hostname=MX,
        transforms=(stamp_received, Verification(MX, lookup)),
        recipients=Recipients(["castle.test"], watcher, clock=clock),
    )
    spool = Spool(tmp_path / "spool")
    server = InboundServer(
        Inbound(config, AsyncSpool(spool)),
        HOST,
        0,
        tls_context=authority.issue([MX]).server_context(),
    )
    _, port = await server.start()
    try:
        yield Mx(port, spool, users, clock, authority)
    finally:
        await server.stop(grace=1)
        lookup.close()
        await dns_server.close()


@dataclass(frozen=True)
class Answer:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


async def send(
    mx: Mx,
    data: bytes,
    *,
    sender: str = "laertes@sender.test",
    recipients: Sequence[str] = ("alice@castle.test",),
    source: str = CLIENT,
    helo: str = "mail.sender.test",
    starttls: bool = False,
) -> Answer:
    """One transaction from ``source``; the answer to the end of data."""
    client = aiosmtplib.SMTP(
        hostname=HOST,
        port=mx.port,
        source_address=(source, 0),
        local_hostname=helo,
        start_tls=False,
        timeout=30,
    )
    await client.connect()
    try:
        await client.ehlo()
        if starttls:
            context = client_context(ca_pem=mx.authority.certificate_pem)
            await client.starttls(server_hostname=MX, tls_context=context)
            await client.ehlo()
        await client.mail(sender)
        for recipient in recipients:
            await client.rcpt(recipient)
        response = await client.data(data)
        return Answer(response.code, response.message)
    except aiosmtplib.SMTPResponseException as refused:
        return Answer(refused.code, refused.message)
    finally:
        client.close()


def results_of(data: bytes) -> list[tuple[str, str, dict[str, str]]]:
    """Our Authentication-Results, read by authres: (method, result, properties) each."""
    (ours,) = [
        f
        for f in parse(data).get_all("Authentication-Results")
        if f.unfolded().strip().startswith(MX + ";")
    ]
    header = authres.AuthenticationResultsHeader.parse_value(ours.unfolded())
    return [
        (
            str(result.method),
            str(result.result),
            {f"{p.type}.{p.name}": str(p.value) for p in result.properties},
        )
        for result in header.results
    ]


def value_of(data: bytes, name: str) -> str:
    """The first ``name`` field's value, unfolded, without the space after the colon."""
    found = parse(data).get(name)
    assert found is not None, f"no {name} field"
    return found.unfolded().strip()


def field_names(data: bytes) -> list[str]:
    return [field.name for field in parse(data).fields]


# -- authentication --------------------------------------------------------------------------


def test_signed_mail_from_a_designated_address_passes_and_keeps_every_byte(tmp_path: Path) -> None:
    original = signed(message())

    async def scenario() -> tuple[Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            return await send(mx, original), mx.stored()

    answer, stored = asyncio.run(scenario())
    assert answer.code == 250, answer
    (data,) = stored
    assert field_names(data)[:3] == ["Authentication-Results", "Received-SPF", "Received"]
    assert data.endswith(original)  # nothing below the new fields moved
    found = results_of(data)
    assert [(method, result) for method, result, _ in found] == [
        ("spf", "pass"),
        ("spf", "pass"),
        ("dkim", "pass"),
        ("dkim", "pass"),
        ("dmarc", "pass"),
        ("arc", "none"),
    ]
    assert found[0][2] == {"smtp.mailfrom": "laertes@sender.test"}
    assert found[1][2] == {"smtp.helo": "mail.sender.test"}
    assert {found[2][2]["header.a"], found[3][2]["header.a"]} == {"rsa-sha256", "ed25519-sha256"}
    assert found[4][2]["header.from"] == "sender.test"
    assert value_of(data, "Received-SPF").startswith(
        "pass (mx.castle.test: domain of laertes@sender.test"
    )
    assert "client-ip=127.0.0.77;" in value_of(data, "Received-SPF")


def test_a_forged_sender_under_p_reject_is_refused_at_end_of_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> tuple[Answer, Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            unsigned = await send(mx, message(), source=STRANGER)
            # A signature that no longer verifies (the body changed after signing) is no help.
            broken = await send(
                mx, signed(message()).replace(b"best safety", b"best danger"), source=STRANGER
            )
            return unsigned, broken, mx.stored()

    with caplog.at_level(logging.INFO, "elsinore"):
        unsigned, broken, stored = asyncio.run(scenario())
    assert str(unsigned) == "550 5.7.1 Message refused by the DMARC policy of sender.test"
    assert str(broken) == str(unsigned)
    assert stored == []
    # Why, for the operator: the verdict's results, then the hop's refusal.
    verdicts = [r.getMessage() for r in caplog.records if r.name == "elsinore.services.verifier"]
    assert [line.partition(": ")[2] for line in verdicts] == [
        "spf=fail helo=fail dkim=none dmarc=fail (reject) arc=none",
        "spf=fail helo=fail dkim=fail,fail dmarc=fail (reject) arc=none",
    ]


def test_a_signature_alone_passes_dmarc_from_an_address_spf_refuses(tmp_path: Path) -> None:
    # A forwarder's case (RFC 7489 §10.1): SPF fails, the aligned DKIM signature carries it.
    async def scenario() -> tuple[Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            return await send(mx, signed(message()), source=STRANGER), mx.stored()

    answer, stored = asyncio.run(scenario())
    assert answer.code == 250, answer
    (data,) = stored
    methods = [(method, result) for method, result, _ in results_of(data)]
    assert methods[0] == ("spf", "fail")
    assert ("dmarc", "pass") in methods
    assert value_of(data, "Received-SPF").startswith("fail ")


def test_spf_fail_without_a_dmarc_policy_is_accepted_with_the_result_stamped(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            answer = await send(
                mx, message("plain.test"), sender="laertes@plain.test", source=STRANGER
            )
            return answer, mx.stored()

    answer, stored = asyncio.run(scenario())
    assert answer.code == 250, answer
    (data,) = stored
    found = results_of(data)
    assert found[0][:2] == ("spf", "fail")
    assert ("dmarc", "none") in [(method, result) for method, result, _ in found]
    assert value_of(data, "Received-SPF").startswith(
        "fail (mx.castle.test: domain of laertes@plain.test does not designate 127.0.0.78"
    )


def test_a_dmarc_fail_under_p_quarantine_is_accepted_and_marked(tmp_path: Path) -> None:
    async def scenario() -> tuple[Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            answer = await send(
                mx, message("quiet.test"), sender="laertes@quiet.test", source=STRANGER
            )
            return answer, mx.stored()

    answer, stored = asyncio.run(scenario())
    assert answer.code == 250, answer
    (data,) = stored
    (dmarc,) = [entry for entry in results_of(data) if entry[0] == "dmarc"]
    assert dmarc[1] == "fail"
    assert dmarc[2] == {"header.from": "quiet.test", "policy.dmarc": "quarantine"}


def test_a_dns_failure_defers_the_message_rather_than_guess_its_policy(tmp_path: Path) -> None:
    async def scenario() -> tuple[Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            answer = await send(mx, message("unserved.test"), sender="laertes@unserved.test")
            return answer, mx.stored()

    answer, stored = asyncio.run(scenario())
    assert str(answer) == (
        "451 4.7.0 Cannot read the DMARC policy of unserved.test now; try again later"
    )
    assert stored == []


def test_a_bounce_is_checked_by_its_helo_name(tmp_path: Path) -> None:
    async def scenario() -> tuple[Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            return await send(mx, signed(message()), sender=""), mx.stored()

    answer, stored = asyncio.run(scenario())
    assert answer.code == 250, answer
    (data,) = stored
    found = results_of(data)
    assert found[0] == ("spf", "pass", {"smtp.helo": "mail.sender.test"})
    assert [method for method, _, _ in found].count("spf") == 1
    assert "identity=helo;" in value_of(data, "Received-SPF")


def test_a_chain_sealed_by_a_forwarder_is_reported_and_does_not_lift_p_reject(
    tmp_path: Path,
) -> None:
    # forward.test received sender.test's message, stated its results and sealed them.
    checked = b"Authentication-Results: forward.test; dkim=pass header.d=sender.test; arc=none\r\n"
    sealed = arc.seal(
        checked + signed(message()), "forward.test", "rsa", signing_key("rsa"), "forward.test"
    )
    # A list that tags the subject breaks the signature; the seal still verifies.
    tagged = arc.seal(
        checked + signed(message()).replace(b"Subject: ", b"Subject: [list] "),
        "forward.test",
        "rsa",
        signing_key("rsa"),
        "forward.test",
    )

    async def scenario() -> tuple[Answer, Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            intact = await send(mx, sealed, sender="bounces@forward.test")
            broken = await send(mx, tagged, sender="bounces@forward.test")
            return intact, broken, mx.stored()

    intact, broken, stored = asyncio.run(scenario())
    assert intact.code == 250, intact
    (data,) = stored
    assert results_of(data)[-1][:2] == ("arc", "pass")
    assert data.endswith(sealed)
    # RFC 8617 §7.2 lets a receiver lift a DMARC fail for sealers it trusts; we trust none.
    assert str(broken) == "550 5.7.1 Message refused by the DMARC policy of sender.test"


def test_a_message_waiting_on_dns_leaves_other_sessions_answered(tmp_path: Path) -> None:
    stall = Stall("_dmarc.slow.test.")

    async def scenario() -> tuple[list[tuple[str, int, str]], Answer, list[bytes]]:
        async with running_mx(tmp_path, stall=stall) as mx:
            waiting = asyncio.create_task(
                send(mx, signed(message("slow.test"), "slow.test"), sender="a@slow.test")
            )
            await asyncio.wait_for(stall.asked.wait(), 20)
            # The first message's verification now waits on DNS; another client is served.
            meanwhile = await asyncio.wait_for(rcpt_replies(mx, ["alice@castle.test"]), 20)
            assert not waiting.done()
            stall.release()
            return meanwhile, await asyncio.wait_for(waiting, 20), mx.stored()

    meanwhile, answer, stored = asyncio.run(scenario())
    assert [code for _, code, _ in meanwhile] == [250]
    assert answer.code == 250, answer
    (data,) = stored
    assert ("dmarc", "pass") in [(method, result) for method, result, _ in results_of(data)]


def test_results_claiming_our_authserv_id_are_removed_and_others_kept(tmp_path: Path) -> None:
    other = b"Authentication-Results: other.test; spf=pass smtp.mailfrom=sender.test\r\n"
    forged = (
        b"Authentication-Results: mx.castle.test; dkim=pass header.d=sender.test\r\n"
        + other
        + b"Authentication-Results: MX.Castle.Test;\r\n\tdmarc=pass header.from=sender.test\r\n"
    )

    async def scenario() -> tuple[Answer, Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            # The forgeries do not sway the verdict: p=reject still refuses the stranger.
            stranger = await send(mx, forged + message(), source=STRANGER)
            designated = await send(mx, forged + message())
            return stranger, designated, mx.stored()

    stranger, designated, stored = asyncio.run(scenario())
    assert stranger.code == 550
    assert designated.code == 250, designated
    (data,) = stored
    claims = [
        f.unfolded().strip().split(";")[0] for f in parse(data).get_all("Authentication-Results")
    ]
    assert claims == [MX, "other.test"]
    assert data.endswith(other + message())  # the other ADMD's field and every byte below


# -- recipients ----------------------------------------------------------------------------

#: Every relay trick, and what the MX answers at RCPT: Postfix's 554 (tests/smtp), or 553 where
#: aiosmtpd or the hop's own check refuses the path before the recipient policy reads it.
RELAY_TRICKS: list[tuple[str, int]] = [
    ("user%other.test@castle.test", 554),  # the % hack
    ("alice%castle.test@castle.test", 554),
    ("other.test!user@castle.test", 554),  # a bang path
    ("user!other.test@castle.test", 554),
    ('"user@other.test"@castle.test', 554),  # an @ hidden in quotes
    ('"user%other.test"@castle.test', 554),
    ("user@other.test@castle.test", 553),  # a second @ (aiosmtpd: malformed)
    ("@castle.test:user@other.test", 554),  # a source route to elsewhere
    ("@a.test,@castle.test:user@other.test", 554),
    ("alice@[127.0.0.1]", 554),  # domain literals, our own address included
    ("alice@[IPv6:::1]", 554),
    ("user@other.test", 554),  # plain relaying
    ("alice@sub.castle.test", 554),
    ("alice", 553),  # no domain (the hop's own check, before the alias map)
    ("alice@castle..test", 553),  # unreadable (aiosmtpd: malformed)
]


async def rcpt_replies(mx: Mx, paths: Iterable[str]) -> list[tuple[str, int, str]]:
    """RCPT TO each path (in a transaction of its own), as the client writes it."""
    client = aiosmtplib.SMTP(
        hostname=HOST,
        port=mx.port,
        source_address=(CLIENT, 0),
        local_hostname="mail.sender.test",
        start_tls=False,
        timeout=30,
    )
    await client.connect()
    replies = []
    try:
        await client.ehlo()
        for path in paths:
            await client.mail("laertes@sender.test")
            response = await client.execute_command(b"RCPT", f"TO:<{path}>".encode())
            replies.append((path, response.code, response.message))
            await client.rset()
        await client.quit()
    finally:
        client.close()
    return replies


def test_every_relay_trick_is_refused_at_rcpt(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[str, int, str]]:
        async with running_mx(tmp_path) as mx:
            return await rcpt_replies(mx, [path for path, _ in RELAY_TRICKS])

    replies = asyncio.run(scenario())
    assert [(path, code) for path, code, _ in replies] == RELAY_TRICKS
    for path, code, text in replies:
        if code == 554:
            assert text.endswith("Relay access denied"), (path, text)


def test_our_users_and_postmaster_are_accepted_and_strangers_are_unknown(tmp_path: Path) -> None:
    paths = ["alice@castle.test", "ALICE@Castle.Test", "postmaster", "PostMaster@castle.test"]

    async def scenario() -> list[tuple[str, int, str]]:
        async with running_mx(tmp_path) as mx:
            return await rcpt_replies(mx, [*paths, "bob@castle.test"])

    *ours, bob = asyncio.run(scenario())
    assert [(path, code) for path, code, _ in ours] == [(path, 250) for path in paths]
    assert bob == (
        "bob@castle.test",
        550,
        "5.1.1 <bob@castle.test>: Recipient address rejected: User unknown in virtual alias table",
    )


def test_a_user_added_after_start_receives_mail_without_a_restart(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[tuple[str, int, str]], Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            before = await rcpt_replies(mx, ["horatio@castle.test"])
            write_record(mx.users, "horatio", ["horatio@bigmail.test"], None)
            mx.clock.now += 1.0
            answer = await send(mx, signed(message()), recipients=["horatio@castle.test"])
            return before, answer, mx.stored()

    before, answer, stored = asyncio.run(scenario())
    assert [code for _, code, _ in before] == [550]
    assert answer.code == 250, answer
    assert len(stored) == 1


def test_the_users_folder_is_read_at_most_once_an_interval(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.mkdir()
    write_record(users, "alice", ["alice@bigmail.test"], None)
    clock = Clock()
    check = Recipients(
        ["castle.test"], Watcher(users, "castle.test", postmaster="p@x.test"), clock=clock
    )
    assert check("horatio@castle.test") is not None  # first RCPT: polled, no horatio yet
    write_record(users, "horatio", ["horatio@bigmail.test"], None)
    clock.now += 0.5
    assert check("horatio@castle.test") is not None  # within the interval: not read again
    clock.now += 0.5
    assert check("horatio@castle.test") is None
    (users / "horatio.json").unlink()
    (users / "broken.json").write_text("{")
    clock.now += 1.0
    # A folder that reads badly leaves the last good map in force.
    assert check("horatio@castle.test") is None


def test_addresses_known_besides_the_map_are_taken_and_relay_tricks_still_refused(
    tmp_path: Path,
) -> None:
    # The relay's reverse SRS knows bounce addresses the alias map does not hold.
    users = tmp_path / "users"
    users.mkdir()
    asked: list[str] = []

    def bounce_address(local_part: str) -> bool:
        asked.append(local_part)
        return local_part.startswith("srs0=")

    check = Recipients(
        ["castle.test"],
        Watcher(users, "castle.test", postmaster="p@x.test"),
        also=bounce_address,
    )
    assert check("SRS0=HHHH=TT=sender.test=laertes@castle.test") is None
    assert check("bob@castle.test") == Reply(
        550,
        "5.1.1",
        "<bob@castle.test>: Recipient address rejected: User unknown in virtual alias table",
    )
    for path, _ in RELAY_TRICKS:
        reply = check(path)
        assert reply is not None and reply.code >= 500, (path, reply)
    # Asked only about our domain's plain local parts, case-folded, never about a trick.
    assert asked == ["srs0=hhhh=tt=sender.test=laertes", "bob"]


# -- TLS and hostile values ---------------------------------------------------------------


def test_starttls_with_our_certificate_then_the_same_verification(tmp_path: Path) -> None:
    original = signed(message())

    async def scenario() -> tuple[Answer, list[bytes]]:
        async with running_mx(tmp_path) as mx:
            return await send(mx, original, starttls=True), mx.stored()

    answer, stored = asyncio.run(scenario())
    assert answer.code == 250, answer
    (data,) = stored
    received = value_of(data, "Received")
    assert "(using TLSv1.3 with cipher" in received
    assert "with ESMTPS id" in received
    assert ("dmarc", "pass") in [(method, result) for method, result, _ in results_of(data)]
    assert data.endswith(original)


class RawClient:
    """SMTP bytes as written, from ``source``: for what aiosmtplib would not send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, source: str = CLIENT) -> RawClient:
        reader, writer = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
        client = cls(reader, writer)
        await client.reply()  # the greeting
        return client

    async def reply(self) -> str:
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 30)
            if not line:
                raise ConnectionError("closed")
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if line[3:4] != b"-":
                return lines[-1]

    async def command(self, line: bytes) -> str:
        self.writer.write(line + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


#: HELO names and reverse-paths that reach the fields, each trying to add one of its own.
HOSTILE_HELO = [
    "mail.sender.test;dkim=pass",
    "evil\u2028X-Injected:helo",
    "evil\u0085X-Injected:helo",
    "evil\udc85\udcffX-Injected:helo",  # not UTF-8: stray bytes kept by surrogateescape
    'evil)(x\\";dmarc=pass',
]
HOSTILE_SENDER = [
    '"laertes;dkim=pass"@sender.test',
    '"a\\";dmarc=pass"@sender.test',
    '"a)(x\\\\"@sender.test',
    "a\u0085\u2028b@sender.test",
    '"a\u0085X-Injected:mailfrom"@sender.test',
    '"a\u2028X-Injected:mailfrom"@sender.test',
]


def wire(text: str) -> bytes:
    """``text`` as a client sends it: UTF-8, a stray byte (a lone surrogate) as that byte."""
    return text.encode("utf-8", "surrogateescape")


def test_hostile_helo_and_mail_from_reach_the_spool_without_adding_a_field(
    tmp_path: Path,
) -> None:
    original = signed(message())
    pairs = [(helo, "laertes@sender.test") for helo in HOSTILE_HELO]
    pairs += [("mail.sender.test", sender) for sender in HOSTILE_SENDER]

    async def scenario() -> tuple[list[str], list[bytes]]:
        answers = []
        async with running_mx(tmp_path) as mx:
            for helo, sender in pairs:
                client = await RawClient.connect(mx.port)
                assert (await client.command(b"EHLO " + wire(helo))).startswith("250 ")
                mail = await client.command(b"MAIL FROM:<" + wire(sender) + b"> SMTPUTF8")
                assert mail[:3] == "250", (sender, mail)
                assert (await client.command(b"RCPT TO:<alice@castle.test>"))[:3] == "250"
                assert (await client.command(b"DATA"))[:3] == "354"
                stuffed = original.replace(b"\r\n.", b"\r\n..")
                answers.append(await client.command(stuffed + b"."))
                await client.close()
            return answers, mx.stored()

    answers, stored = asyncio.run(scenario())
    assert all(answer.startswith("250 ") for answer in answers), answers
    assert len(stored) == len(pairs)
    for data in stored:
        assert data.endswith(original)
        head = data[: len(data) - len(original)]
        assert field_names(head) == ["Authentication-Results", "Received-SPF", "Received"]
        assert b"\x00" not in head and head.count(b"\r") == head.count(b"\r\n")
        assert head.count(b"\n") == head.count(b"\r\n")
        text = head.decode("utf-8")  # the stray byte was escaped, not copied
        assert "\u2028" not in text and "\u0085" not in text
        assert not any(line.startswith("X-Injected") for line in text.split("\r\n"))
        # Whatever the client wrote, our result list is ours: SPF twice, two signatures,
        # DMARC and ARC, with no result smuggled in through a value.
        methods = [method for method, _, _ in results_of(data)]
        assert methods == ["spf", "spf", "dkim", "dkim", "dmarc", "arc"]


#: What cannot reach a field at all: a NUL, a CR or another C0 control in the command line.
REFUSED_HELO = [b"evil\x00X-Injected:1", b"evil\rX-Injected:1", b"evil\x0bX-Injected:1"]
REFUSED_SENDER = [
    b"a\x00X-Injected:1@sender.test",
    b"a\rX-Injected:1@sender.test",
    b'"a\rX-Injected:1"@sender.test',
    b"a\x85@sender.test",  # not UTF-8
]


def test_hostile_values_that_cannot_be_written_are_refused_at_their_command(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[list[str], list[str], list[bytes]]:
        helos, senders = [], []
        async with running_mx(tmp_path) as mx:
            client = await RawClient.connect(mx.port)
            helos = [await client.command(b"EHLO " + helo) for helo in REFUSED_HELO]
            assert (await client.command(b"EHLO mail.sender.test")).startswith("250 ")
            for sender in REFUSED_SENDER:
                senders.append(await client.command(b"MAIL FROM:<" + sender + b"> SMTPUTF8"))
            await client.close()
            return helos, senders, mx.stored()

    helos, senders, stored = asyncio.run(scenario())
    assert helos == ["501 5.5.4 HELO/EHLO takes one domain name or address literal"] * 3
    assert [answer[:3] for answer in senders] == ["501", "501", "553", "553"], senders
    assert stored == []


# -- what the verdict decides (no sockets) -------------------------------------------------


def verdict(
    dmarc_result: DmarcResultName,
    policy: Policy = "none",
    *,
    spf_result: SpfResultName = "fail",
    dkim_result: DkimResultName = "fail",
    from_domain: str = "sender.test",
    spf_domain: str = "sender.test",
    dkim_domain: str = "sender.test",
) -> Verdict:
    """A verdict as stack.auth makes one: ``policy`` is the disposition after ``pct``."""
    spf = SpfResult(spf_result, "mailfrom", CLIENT, f"a@{spf_domain}", "h", spf_domain)
    signature = DkimResult(dkim_result, dkim_domain, "ed", "ed25519-sha256", "")
    outcome = DmarcOutcome(dmarc_result, from_domain, policy, policy)
    return Verdict(spf, (signature,), outcome, NO_CHAIN)


REFUSED = Reply(550, "5.7.1", "Message refused by the DMARC policy of sender.test")
DEFERRED = Reply(
    451,
    "4.7.0",
    "Cannot authenticate the message for the DMARC policy of sender.test now; try again later",
)
UNREAD = Reply(451, "4.7.0", "Cannot read the DMARC policy of sender.test now; try again later")

#: A verdict, and what the MX answers at the end of data (None: it takes the message).
DECISIONS = [
    pytest.param(verdict("fail", "reject"), REFUSED, id="dmarc fail, p=reject"),
    pytest.param(verdict("fail", "quarantine"), None, id="dmarc fail, p=quarantine"),
    # pct= left this one outside the sample: the next milder disposition (RFC 7489 §6.6.4).
    pytest.param(verdict("fail", "none"), None, id="dmarc fail outside pct"),
    pytest.param(verdict("pass"), None, id="dmarc pass"),
    pytest.param(verdict("none"), None, id="no dmarc policy"),
    pytest.param(verdict("permerror", from_domain=""), None, id="no single author"),
    pytest.param(verdict("temperror"), UNREAD, id="policy unreadable"),
    pytest.param(
        verdict("fail", "reject", dkim_result="temperror"), DEFERRED, id="aligned dkim temperror"
    ),
    pytest.param(
        verdict("fail", "reject", dkim_result="temperror", dkim_domain="lists.sender.test"),
        DEFERRED,
        id="relaxed-aligned dkim temperror",
    ),
    pytest.param(
        verdict("fail", "reject", spf_result="temperror"), DEFERRED, id="aligned spf temperror"
    ),
    pytest.param(
        verdict("fail", "quarantine", spf_result="temperror"), None, id="temperror, quarantine"
    ),
    # A temperror where no aligned pass could have been: the refusal stands, and a forger
    # cannot turn it into a deferral with a MAIL FROM or a signature of a broken domain.
    pytest.param(
        verdict("fail", "reject", spf_result="temperror", spf_domain="broken.test"),
        REFUSED,
        id="unaligned spf temperror",
    ),
    pytest.param(
        verdict("fail", "reject", dkim_result="temperror", dkim_domain="broken.test"),
        REFUSED,
        id="unaligned dkim temperror",
    ),
    pytest.param(
        verdict("fail", "reject", from_domain="évil.test\r\nX: y"),
        Reply(550, "5.7.1", "Message refused by the DMARC policy of the From domain"),
        id="hostile from domain not quoted",
    ),
]


@pytest.mark.parametrize(("case", "reply"), DECISIONS)
def test_what_each_verdict_decides(case: Verdict, reply: Reply | None) -> None:
    assert disposition(case) == reply


# -- properties: the transform itself, over the grammar and hostile text --------------------

#: castle.test as the verifier sees it offline (its key, SPF for 127.0.0.25, p=reject).
OFFLINE = castle_lookup(fixed_key())


def transaction(helo: str, sender: str) -> Transaction:
    arrival = Arrival(
        helo=helo,
        address="127.0.0.25",
        rdns=None,
        hostname=MX,
        queue_id="0123456789ABCDEF",
        recipients=("alice@castle.test",),
        date=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
    )
    return Transaction(sender, arrival.recipients, arrival)


@given(
    data=st.one_of(
        wire_messages().map(lambda entity: entity.data),
        hostile_messages(),
        st.builds(lambda data: dkim.sign(data, "castle.test", "s1", fixed_key()), st.just(MESSAGE)),
    ),
    helo=hostile_text(),
    sender=hostile_text(),
)
def test_any_message_helo_and_sender_give_a_reply_or_two_safe_fields_on_top(
    data: bytes, helo: str, sender: str
) -> None:
    verification = Verification(MX, OFFLINE)
    result = asyncio.run(verification(parse(data), transaction(helo, sender)))
    if isinstance(result, Reply):
        assert result.code in (451, 550), result
        assert str(result).isprintable() and str(result).isascii(), result
        return
    stamped = bytes(result)
    fields = [f for f in parse(stamped).fields if f.is_field]
    assert [f.name for f in fields[:2]] == ["Authentication-Results", "Received-SPF"]
    head = b"".join(f.raw for f in fields[:2])
    # Below our two fields: the message as it came, but for forged results of ours.
    rest = stamped[len(head) :]
    if b"mx.castle.test" not in data.lower():
        assert rest == data
    for line in head.split(b"\r\n")[:-1]:
        assert b"\r" not in line and b"\n" not in line and b"\0" not in line, head
        assert len(line) <= 998, head
        line.decode("utf-8")  # a stray byte was escaped, not written
    # authres reads ASCII only (RFC 8601); RFC 8616 §5 lets a value be UTF-8.  A letter in
    # place of each non-ASCII character keeps every quoted-string and dot-atom one.
    ascii_value = re.sub(r"[^\x00-\x7f]", "x", fields[0].unfolded().strip())
    header = authres.AuthenticationResultsHeader.parse_value(ascii_value)
    methods = [str(r.method) for r in header.results]
    assert methods[: methods.count("spf")] == ["spf"] * methods.count("spf")
    assert methods.count("spf") == (2 if sender else 1), methods
    assert methods[-1] == "arc" and methods.count("arc") == 1, methods
