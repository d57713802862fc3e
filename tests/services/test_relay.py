"""The relay on the hop: alias map, SRS both ways, an ARC seal, and delivery by smarthost or MX.

A relay hop (inbound server, spool, queue runner, outbound client) runs in a thread of its
own, in front of a recording SMTP sink; castle.test's sealing key is served by a real DNS
primary and read back through our resolver.  Everything listens on 127.0.0.0/8, on ports the
kernel picked; every wait is bounded.  The alias map's clock is the test's, so a reload is
caused by moving it, never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hop_testbed import wait_until
from hypothesis import assume, given
from hypothesis import strategies as st
from smtp_peers import DnsThread, Peer, Received, free_port

from harness.strategies import Entity, domains, hostile_text, local_parts, wire_messages
from harness.strategies.auth import hostile_messages
from stack.auth import arc, keys
from stack.auth.errors import SigningKeyError
from stack.auth.keys import SigningKey
from stack.auth.lookup import StaticLookup
from stack.auth.publish import selector_name, txt_rdata, zone_line
from stack.dns.blocking import BlockingResolver
from stack.dns.resolver import Resolver
from stack.mime.lossless import parse
from stack.relay.aliases import MAX_TARGETS, Watcher, write_record
from stack.relay.srs import Srs, SrsError
from stack.services.relay import MAX_EXPANSION, Route, Routing, Sealer, relay_outbound
from stack.smtp.client import Outbound
from stack.smtp.forward import QueueRunner, RetryPolicy
from stack.smtp.policy import Reply
from stack.smtp.received import Arrival
from stack.smtp.server import (
    Inbound,
    InboundConfig,
    InboundServer,
    Reroute,
    Transaction,
    stamp_received,
)
from stack.smtp.spool import AsyncSpool, Spool, State
from stack.smtp.tls import LocalAuthority

pytestmark = pytest.mark.timeout(120)

T = TypeVar("T")

HOST = "127.0.0.1"
DOMAIN = "castle.test"
VERIFIER = "mx.castle.test"  # the authserv-id of the verifier's Authentication-Results
SECRET = b"elsinore relay tests"
POSTMASTER_TARGET = "hostmaster@outpost.test"
#: RFC 5321 Dot-string (4.1.2), with RFC 6531's UTF-8: what a path carries unquoted.
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff]"
_DOT_STRING = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")

#: Mail from outside, as the spamfilter hands it to the relay: the verifier's stamp on top.
INBOUND = (
    b"Authentication-Results: mx.castle.test; spf=pass smtp.mailfrom=wittenberg.test;\r\n"
    b" arc=none\r\n"
    b"From: Horatio <horatio@wittenberg.test>\r\n"
    b"To: alice@castle.test\r\n"
    b"Subject: a truant disposition\r\n"
    b"Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <truant@wittenberg.test>\r\n"
    b"\r\n"
    b"A truant disposition, good my lord.\r\n"
)
#: Mail from one of our users, as the signer hands it on: no verifier saw it.
OUTBOUND = (
    b"From: Alice <alice@castle.test>\r\n"
    b"To: bob@outpost.test\r\n"
    b"Subject: the players\r\n"
    b"Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <players@castle.test>\r\n"
    b"\r\n"
    b"The play's the thing.\r\n"
)


@cache
def sealing_key() -> SigningKey:
    return keys.generate("rsa")


def zone(origin: str, *records: str) -> str:
    return (
        f"$ORIGIN {origin}.\n$TTL 300\n"
        f"@ IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n"
        f"@ IN NS ns.{origin}.\nns IN A {HOST}\n" + "".join(f"{r}\n" for r in records)
    )


def castle_zone() -> str:
    return zone(DOMAIN, zone_line(selector_name("arc", DOMAIN), sealing_key().record()))


class RelayHop:
    """The relay's hop, wired as the service runner wires it, on a loop in a thread."""

    def __init__(self, spool: Path, routing: Routing, outbound: Callable[[], Outbound]) -> None:
        self.config = InboundConfig(
            hostname="relay.castle.test",
            transforms=(stamp_received, routing),
            recipients=routing.check_recipient,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        self.spool = Spool(spool)

        async def build() -> tuple[AsyncSpool, Outbound, QueueRunner, InboundServer]:
            spooled = AsyncSpool(self.spool)
            client = outbound()
            runner = QueueRunner(
                spooled,
                client,
                reporting_mta="relay.castle.test",
                policy=RetryPolicy(first=0.2, factor=1.0),
                scan_interval=0.1,
            )
            server = InboundServer(Inbound(self.config, spooled, runner.enqueue), HOST, 0)
            await server.start()
            return spooled, client, runner, server

        self.spooled, self.outbound, self.runner, self.server = self.run(build())
        self.port = self.server.port
        self.running = self.run(self._start_runner())

    async def _start_runner(self) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(self.runner.run())

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def send(self, sender: str, recipients: list[str], data: bytes) -> None:
        with smtplib.SMTP(HOST, self.port, timeout=20) as client:
            client.sendmail(sender, recipients, data)

    def close(self) -> None:
        async def stop() -> None:
            await self.server.stop(grace=5)
            await self.runner.stop(grace=2)
            self.running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.running
            await self.outbound.aclose()
            await self.spooled.aclose()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass
class Clock:
    """The alias map's clock: moved by the test, read by the hop's thread."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Relay:
    hop: RelayHop
    sink: Peer
    users: Path
    clock: Clock
    srs: Srs
    dns: DnsThread

    def delivered(self, count: int = 1) -> list[Received]:
        wait_until(lambda: len(self.sink.messages) >= count, 20, f"{count} message(s) at the sink")
        return self.sink.messages


def make_routing(users: Path, clock: Clock, *, sealer: Sealer | None = None) -> Routing:
    aliases = Watcher(users, DOMAIN, postmaster=POSTMASTER_TARGET)
    return Routing(aliases, Srs([SECRET], DOMAIN), sealer=sealer, clock=clock)


@pytest.fixture
def users(tmp_path: Path) -> Path:
    folder = tmp_path / "users"
    folder.mkdir()
    write_record(folder, "alice", ["alice@bigmail.test"], None)
    return folder


@pytest.fixture
def relay(tmp_path: Path, users: Path) -> Iterator[Relay]:
    """A sealing relay whose smarthost is a sink, and castle.test's DNS."""
    dns = DnsThread({DOMAIN: castle_zone()})
    sink = Peer(HOST, free_port(), name="smarthost.castle.test")
    sink.start()
    clock = Clock()
    sealer = Sealer(DOMAIN, "arc", sealing_key(), VERIFIER)
    routing = make_routing(users, clock, sealer=sealer)
    hop = RelayHop(
        tmp_path / "spool",
        routing,
        lambda: relay_outbound("relay.castle.test", smarthost=(HOST, sink.port), timeout=10),
    )
    try:
        yield Relay(hop, sink, users, clock, routing.srs, dns)
    finally:
        hop.close()
        sink.stop()
        dns.close()


def verify_arc(data: bytes, dns: DnsThread) -> arc.ArcChain:
    """The chain as a receiver sees it: the key read from the primary through our resolver."""
    with BlockingResolver(Resolver(forwarders=[dns.endpoint], timeout=2)) as lookup:
        return arc.verify_chain(data, lookup)


def field_names(data: bytes) -> list[str]:
    return [f.name for f in parse(data).fields if f.is_field]


# -- through the hop -------------------------------------------------------------------------


def test_forwarded_mail_reaches_the_target_from_an_srs_sender_under_a_seal_that_verifies(
    relay: Relay,
) -> None:
    relay.hop.send("horatio@wittenberg.test", ["alice@castle.test"], INBOUND)
    (got,) = relay.delivered()
    assert got.recipients == ["alice@bigmail.test"]
    assert got.sender.startswith("SRS0=")
    assert got.sender.endswith("@castle.test")
    assert relay.srs.reverse(got.sender) == "horatio@wittenberg.test"
    assert got.data.endswith(INBOUND)
    assert field_names(got.data)[:4] == [
        "ARC-Seal",
        "ARC-Message-Signature",
        "ARC-Authentication-Results",
        "Received",
    ]
    chain = verify_arc(got.data, relay.dns)
    assert (chain.result, chain.instances) == ("pass", 1), chain.reason


def test_a_bounce_to_the_srs_address_goes_back_to_the_original_sender(relay: Relay) -> None:
    rewritten = relay.srs.forward("horatio@wittenberg.test")
    bounce = INBOUND.replace(b"Subject: a truant", b"Subject: Undelivered: a truant")
    relay.hop.send("", [rewritten], bounce)
    (got,) = relay.delivered()
    # aiosmtpd keeps the null reverse-path as "<>".
    assert (got.sender, got.recipients) == ("<>", ["horatio@wittenberg.test"])
    assert got.data.endswith(bounce)


@pytest.mark.parametrize("failure", ["bad hash", "expired"])
def test_an_srs_address_that_is_forged_or_expired_is_refused_at_rcpt(
    relay: Relay, failure: str
) -> None:
    if failure == "bad hash":
        genuine = relay.srs.forward("horatio@wittenberg.test")
        digest = genuine.split("=")[1]
        address = genuine.replace(digest, "AAAA" if digest != "AAAA" else "BBBB", 1)
    else:
        weeks_ago = Srs([SECRET], DOMAIN, clock=lambda: time.time() - 30 * 86400)
        address = weeks_ago.forward("horatio@wittenberg.test")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        relay.hop.send("", [address], INBOUND)
    code, text = refused.value.recipients[address]
    assert code == 550
    assert text.decode() == (
        f"5.1.1 <{address}>: Recipient address rejected: invalid SRS address ({failure})"
    )
    assert relay.sink.messages == []


@pytest.mark.parametrize("recipient", ["postmaster@castle.test", "Postmaster"])
def test_postmaster_works_without_a_record(relay: Relay, recipient: str) -> None:
    assert not (relay.users / "postmaster.json").exists()
    relay.hop.send("horatio@wittenberg.test", [recipient], INBOUND)
    (got,) = relay.delivered()
    assert got.recipients == [POSTMASTER_TARGET]


def test_a_user_added_after_start_is_routed_without_a_restart(relay: Relay) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        relay.hop.send("horatio@wittenberg.test", ["bob@castle.test"], INBOUND)
    assert refused.value.recipients["bob@castle.test"][0] == 550
    write_record(relay.users, "bob", ["bob@outpost.test"], None)
    relay.clock.now += 1.0  # the map is looked at again once a second
    relay.hop.send("horatio@wittenberg.test", ["bob@castle.test"], INBOUND)
    (got,) = relay.delivered()
    assert got.recipients == ["bob@outpost.test"]


def test_outbound_mail_passes_with_its_sender_unchanged_and_no_seal(relay: Relay) -> None:
    relay.hop.send("alice@castle.test", ["bob@outpost.test"], OUTBOUND)
    (got,) = relay.delivered()
    assert (got.sender, got.recipients) == ("alice@castle.test", ["bob@outpost.test"])
    assert field_names(got.data)[0] == "Received"
    assert not any(name.startswith("ARC-") for name in field_names(got.data))
    assert got.data.endswith(OUTBOUND)


@dataclass
class Remote:
    """outpost.test's MX on an address of its own, found through its zone, and our relay."""

    hop: RelayHop
    mx: Peer


@pytest.fixture
def remote(tmp_path: Path, users: Path, request: pytest.FixtureRequest) -> Iterator[Remote]:
    """The relay trusts one CA; the MX's certificate comes from it, or (``stranger``) from a
    CA of its own.  The MX listens on a high port unless we are root, reached through the
    outbound client's port option (DNS gives addresses, not ports)."""
    trusted = LocalAuthority()
    ca_file = trusted.write(tmp_path / "ca.pem")
    issuer = (
        LocalAuthority("a stranger") if getattr(request, "param", "") == "stranger" else trusted
    )
    # An address of its own, so that port 25 is free on it even when tests run in parallel
    # (secrets, not random: pytest-randomly gives every worker the same seed).
    mx_host = f"127.{1 + secrets.randbelow(254)}.25.{2 + secrets.randbelow(253)}"
    mx_port = 25 if os.geteuid() == 0 and not listening(mx_host, 25) else free_port(mx_host)
    tls = issuer.issue(["mx.outpost.test"]).server_context()
    mx = Peer(mx_host, mx_port, name="mx.outpost.test", tls_context=tls)
    mx.start()
    dns = DnsThread({"outpost.test": zone("outpost.test", "@ IN MX 10 mx", f"mx IN A {mx_host}")})
    hop = RelayHop(
        tmp_path / "spool",
        make_routing(users, Clock()),
        lambda: relay_outbound(
            "relay.castle.test",
            resolvers=[dns.endpoint],
            ca_file=ca_file,
            port=mx_port,
            timeout=10,
        ),
    )
    try:
        yield Remote(hop, mx)
    finally:
        hop.close()
        mx.stop()
        dns.close()


def listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def test_mx_delivery_finds_the_exchanger_through_our_resolver_and_verifies_its_tls(
    remote: Remote,
) -> None:
    remote.hop.send("alice@castle.test", ["bob@outpost.test"], OUTBOUND)
    wait_until(lambda: bool(remote.mx.messages), 20, "the message at outpost.test's MX")
    (got,) = remote.mx.messages
    assert (got.sender, got.recipients, got.tls) == (
        "alice@castle.test",
        ["bob@outpost.test"],
        True,
    )
    assert got.data.endswith(OUTBOUND)


@pytest.mark.parametrize("remote", ["stranger"], indirect=True)
def test_an_mx_certificate_the_ca_did_not_issue_defers_the_mail_never_sends_it_in_clear(
    remote: Remote,
) -> None:
    remote.hop.send("alice@castle.test", ["bob@outpost.test"], OUTBOUND)
    spool = remote.hop.spool
    wait_until(lambda: spool.counts().get(State.DEFERRED) == 1, 20, "the failed attempt")
    assert remote.mx.recorder.connections >= 1
    assert remote.mx.messages == []


# -- the transform itself, without sockets ---------------------------------------------------


def transaction(sender: str, *recipients: str) -> Transaction:
    arrival = Arrival(
        helo="spamfilter.castle.test",
        address=HOST,
        rdns=None,
        hostname="relay.castle.test",
        queue_id="4QueueIdTest",
        recipients=recipients,
        date=datetime(2026, 11, 25, 12, tzinfo=UTC),
    )
    return Transaction(sender, recipients, arrival)


def transform(routing: Routing, data: bytes, sender: str, *recipients: str) -> Reroute | Reply:
    return asyncio.run(routing(parse(data), transaction(sender, *recipients)))


def test_a_recipient_whose_record_went_away_after_rcpt_is_never_dropped(users: Path) -> None:
    write_record(users, "bob", ["bob@outpost.test"], None)
    clock = Clock()
    routing = make_routing(users, clock)
    assert routing.check_recipient("bob@castle.test") is None
    (users / "bob.json").unlink()
    clock.now += 1.0
    # With alice still good, the whole message waits: a retry has RCPT refuse bob alone.
    both = transform(
        routing, INBOUND, "horatio@wittenberg.test", "alice@castle.test", "bob@castle.test"
    )
    assert isinstance(both, Reply)
    assert (both.code, both.enhanced) == (451, "4.3.0")
    alone = transform(routing, INBOUND, "horatio@wittenberg.test", "bob@castle.test")
    assert alone == Reply(
        550,
        "5.1.1",
        "<bob@castle.test>: Recipient address rejected: User unknown in virtual alias table",
    )


def test_the_map_is_read_again_at_most_once_a_second(users: Path) -> None:
    clock = Clock()
    routing = make_routing(users, clock)
    write_record(users, "bob", ["bob@outpost.test"], None)
    clock.now += 0.999
    assert routing.check_recipient("bob@castle.test") is not None
    clock.now += 0.001
    assert routing.check_recipient("bob@castle.test") is None


def test_aliases_in_our_domain_are_followed_once_each(users: Path) -> None:
    write_record(users, "info", ["alice@castle.test", "bob@castle.test"], None)
    write_record(users, "bob", ["bob@outpost.test", "info@castle.test", "alice@bigmail.test"], None)
    write_record(users, "loop", ["loop@castle.test"], None)
    routing = make_routing(users, Clock())
    result = transform(routing, INBOUND, "horatio@wittenberg.test", "INFO@castle.test")
    assert isinstance(result, Reroute)
    assert result.recipients == ("alice@bigmail.test", "bob@outpost.test")
    refused = routing.route("loop@castle.test")
    assert isinstance(refused, Reply)
    assert (refused.code, refused.enhanced) == (550, "5.1.1")


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("", ""),
        ("ophelia@castle.test", "ophelia@castle.test"),
        ("horatio@wittenberg.test", "SRS0="),
        ("x@[192.0.2.1=2]", "x@[192.0.2.1=2]"),  # SRS cannot reverse it: kept, not lost
    ],
)
def test_only_forwarded_mail_from_elsewhere_gets_an_srs_sender(
    users: Path, sender: str, expected: str
) -> None:
    routing = make_routing(users, Clock())
    result = transform(routing, INBOUND, sender, "alice@castle.test")
    assert isinstance(result, Reroute)
    assert result.sender.startswith(expected) if expected else result.sender == ""
    outbound = transform(routing, OUTBOUND, sender, "bob@outpost.test")
    assert isinstance(outbound, Reroute)
    assert outbound.sender == sender


def test_mail_stamped_by_another_verifier_is_not_sealed(users: Path) -> None:
    sealer = Sealer(DOMAIN, "arc", sealing_key(), VERIFIER)
    routing = make_routing(users, Clock(), sealer=sealer)
    theirs = INBOUND.replace(b"mx.castle.test;", b"mx.bigmail.test;")
    result = transform(routing, theirs, "horatio@wittenberg.test", "alice@castle.test")
    assert isinstance(result, Reroute)
    assert bytes(result.message) == theirs


def test_a_message_that_cannot_be_sealed_is_forwarded_unsealed(
    users: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sealer = Sealer(DOMAIN, "arc", sealing_key(), VERIFIER)
    routing = make_routing(users, Clock(), sealer=sealer)
    # Ours by its authserv-id, but no result dkimpy can read: nothing to seal.
    unreadable = b"Authentication-Results: mx.castle.test; ???\r\n" + INBOUND.split(b"\r\n", 2)[2]
    result = transform(routing, unreadable, "horatio@wittenberg.test", "alice@castle.test")
    assert isinstance(result, Reroute)
    assert result.recipients == ("alice@bigmail.test",)
    assert bytes(result.message) == unreadable
    assert "forwarded unsealed" in caplog.text


def test_a_sealer_refuses_a_key_arc_cannot_use() -> None:
    with pytest.raises(SigningKeyError):
        Sealer(DOMAIN, "arc", keys.generate("ed25519"), VERIFIER)


# -- properties over the grammar ---------------------------------------------------------------

STAMP = (
    b"Authentication-Results: mx.castle.test; spf=pass smtp.mailfrom=wittenberg.test; arc=none\r\n"
)


@pytest.fixture(scope="module")
def module_users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("users")
    write_record(folder, "alice", ["alice@bigmail.test"], None)
    write_record(folder, "info", ["alice@castle.test", "info@castle.test"], None)
    return folder


@pytest.fixture(scope="module")
def sealing_routing(module_users: Path) -> Routing:
    return make_routing(
        module_users, Clock(), sealer=Sealer(DOMAIN, "arc", sealing_key(), VERIFIER)
    )


def arc_lookup() -> StaticLookup:
    record = txt_rdata(sealing_key().record()).to_text()
    return StaticLookup({(f"arc._domainkey.{DOMAIN}", "TXT"): [record]})


@given(entity=wire_messages())
def test_any_forwarded_message_keeps_every_byte_under_a_seal_that_verifies(
    sealing_routing: Routing, entity: Entity
) -> None:
    data = STAMP + entity.data
    result = transform(sealing_routing, data, "horatio@wittenberg.test", "alice@castle.test")
    assert isinstance(result, Reroute)
    sealed = bytes(result.message)
    assert sealed.endswith(data)
    assert field_names(sealed)[0] == "ARC-Seal"
    chain = arc.verify_chain(sealed, arc_lookup())
    assert chain.result == "pass", chain.reason


@given(data=hostile_messages())
def test_any_hostile_message_is_forwarded_sealed_or_not_never_refused(
    sealing_routing: Routing, data: bytes
) -> None:
    stamped = STAMP + data
    result = transform(sealing_routing, stamped, "horatio@wittenberg.test", "alice@castle.test")
    assert isinstance(result, Reroute)
    assert result.recipients == ("alice@bigmail.test",)
    assert bytes(result.message).endswith(stamped)


@given(local=local_parts(), domain=domains())
def test_a_bounce_to_any_rewritten_sender_goes_back_to_that_sender(
    sealing_routing: Routing, local: str, domain: str
) -> None:
    srs = sealing_routing.srs
    sender = on_the_wire(local, domain)
    try:
        rewritten = srs.forward(sender)
    except SrsError:
        assume(False)  # what SRS cannot rewrite is sent from the sender as it is (tested above)
    assume(rewritten != sender)  # a sender of ours is not rewritten
    route = sealing_routing.route(rewritten)
    assert isinstance(route, Route), route
    assert route.targets == (sender,)


@given(local=st.one_of(local_parts(), hostile_text()), srs_shaped=st.booleans())
def test_no_recipient_of_ours_is_ever_routed_back_into_our_domain(
    sealing_routing: Routing, local: str, srs_shaped: bool
) -> None:
    # A target of ours would come back to the verifier: a loop, not a delivery.
    recipient = f"SRS0={local}@{DOMAIN}" if srs_shaped else f"{local}@{DOMAIN}"
    route = sealing_routing.route(recipient)
    assert (sealing_routing.check_recipient(recipient) is None) == isinstance(route, Route)
    if isinstance(route, Route):
        assert route.forwarded
        assert route.targets
        assert not any(target.lower().endswith(f"@{DOMAIN}") for target in route.targets)
    else:
        assert 500 <= route.code < 600  # refused for good: a retry would not route it


def on_the_wire(local: str, domain: str) -> str:
    """``local@domain`` as an SMTP path writes it: the local-part quoted unless a dot-string."""
    if _DOT_STRING.fullmatch(local):
        return f"{local}@{domain}"
    escaped = local.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"@{domain}'


def test_a_bounce_reversed_to_an_address_of_ours_is_expanded_not_sent_back_to_us(
    users: Path,
) -> None:
    # SRS in a domain of its own rewrites our own senders too; their bounces come back to
    # an address of ours, which has a record like any other.
    srs = Srs([SECRET], "srs.castle.test")
    routing = Routing(Watcher(users, DOMAIN, postmaster=POSTMASTER_TARGET), srs, clock=Clock())
    rewritten = srs.forward("alice@castle.test")
    assert rewritten.endswith("@srs.castle.test")
    assert routing.route(rewritten) == Route(rewritten, ("alice@bigmail.test",), forwarded=True)


def test_an_alias_that_expands_past_the_limit_is_refused_at_rcpt(users: Path) -> None:
    names = [f"list{n}" for n in range(MAX_EXPANSION // MAX_TARGETS + 1)]
    for name in names:
        targets = [f"{name}.{n}@outpost.test" for n in range(MAX_TARGETS)]
        write_record(users, name, targets, None)
    write_record(users, "everyone", [f"{name}@castle.test" for name in names], None)
    routing = make_routing(users, Clock())
    refusal = routing.check_recipient("everyone@castle.test")
    assert refusal is not None
    assert (refusal.code, refusal.enhanced) == (550, "5.7.0")
    assert routing.check_recipient("list0@castle.test") is None
