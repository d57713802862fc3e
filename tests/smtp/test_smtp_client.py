"""The outbound client against real SMTP servers and a real DNS primary on 127.0.0.0/8.

mail.test's zone gives each behaviour of RFC 5321 section 5.1 a domain of its own; the SMTP
peers listen on the addresses it names, all on one port the kernel picked.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import aiosmtplib
import pytest
from hop_testbed import InProcessHop
from smtp_peers import DnsThread, Peer, free_port

from stack.dns.addresses import Endpoint
from stack.dns.resolver import Resolver
from stack.smtp.client import Outbound, RecipientResult
from stack.smtp.tls import LocalAuthority, client_context

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")

ZONE = """\
$TTL 300
@             SOA ns hostmaster 1 3600 600 86400 300
@             NS  ns
ns            A   127.0.0.1
ordered       MX  10 dead.ordered
ordered       MX  20 second.ordered
ordered       MX  30 third.ordered
dead.ordered  A   127.0.0.71
second.ordered A  127.0.0.72
third.ordered A   127.0.0.73
twins         MX  10 a.twins
twins         MX  10 b.twins
a.twins       A   127.0.0.74
b.twins       A   127.0.0.75
bare          A   127.0.0.76
nullmx        MX  0 .
tls           MX  10 mx.tls
mx.tls        A   127.0.0.77
plain         MX  10 mx.plain
mx.plain      A   127.0.0.78
mixednull     MX  0 .
mixednull     MX  10 mx.plain
allnull       MX  0 .
allnull       MX  10 .
hollow        TXT "no MX and no address here"
ghostly       MX  10 ghost.ghostly
tlspair       MX  10 mx.tls
tlspair       MX  20 mx.plain
partial       MX  10 ghost.partial
partial       MX  20 mx.plain
many          MX  1 h1.many
h1.many      A   127.0.0.101
many          MX  2 h2.many
h2.many      A   127.0.0.102
many          MX  3 h3.many
h3.many      A   127.0.0.103
many          MX  4 h4.many
h4.many      A   127.0.0.104
many          MX  5 h5.many
h5.many      A   127.0.0.105
many          MX  6 h6.many
h6.many      A   127.0.0.106
many          MX  7 h7.many
h7.many      A   127.0.0.107
many          MX  8 h8.many
h8.many      A   127.0.0.108
many          MX  9 h9.many
h9.many      A   127.0.0.109
many          MX  10 h10.many
h10.many      A   127.0.0.110
many          MX  11 h11.many
h11.many      A   127.0.0.111
"""

MESSAGE = b"From: a@castle.test\r\nTo: b@mail.test\r\nSubject: hi\r\n\r\nhello\r\n"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def dns_server() -> Iterator[Endpoint]:
    server = DnsThread({"mail.test.": ZONE})
    try:
        yield server.endpoint
    finally:
        server.close()


@pytest.fixture
def resolver(dns_server: Endpoint) -> Resolver:
    return Resolver(forwarders=[dns_server], timeout=1.0, retries=0)


@pytest.fixture
def port() -> int:
    return free_port("127.0.0.72")


@pytest.fixture
def peers(port: int) -> Iterator[dict[str, Peer]]:
    """Started on demand by :func:`start`; every one is stopped at the end."""
    started: dict[str, Peer] = {}
    yield started
    for peer in started.values():
        peer.stop()


def start(peers: dict[str, Peer], host: str, port: int, **options: Any) -> Peer:
    peer = Peer(host, port, **options)
    peer.start()
    peers[host] = peer
    return peer


def outbound(resolver: Resolver | None, port: int, **options: Any) -> Outbound:
    return Outbound(helo="out.castle.test", resolver=resolver, port=port, timeout=5, **options)


async def deliver_once(box: Outbound, recipients: list[str], data: bytes = MESSAGE) -> Any:
    try:
        return await box.deliver("a@castle.test", recipients, data)
    finally:
        await box.aclose()


def test_mx_hosts_are_tried_by_preference_past_a_dead_one(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    second = start(peers, "127.0.0.72", port)
    third = start(peers, "127.0.0.73", port)
    [result] = run(deliver_once(outbound(resolver, port), ["b@ordered.mail.test"]))
    assert result.delivered, result
    assert result.remote == f"second.ordered.mail.test[127.0.0.72]:{port}"
    assert len(second.messages) == 1
    assert third.messages == []


class Listener:
    """A TCP server on ``host:port`` whose thread hands each connection to :meth:`take`,
    until :meth:`full` or :meth:`close`; the servers below say what SMTP servers never do."""

    def __init__(self, host: str, port: int) -> None:
        self.listener = socket.create_server((host, port))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.full():
            try:
                connection, (client, _) = self.listener.accept()
            except OSError:
                return
            self.take(connection, client)
        self.listener.close()  # no more: a client is refused

    def full(self) -> bool:
        return False

    def take(self, connection: socket.socket, client: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        # close() alone leaves the thread blocked in accept(); shutdown() wakes it.
        with contextlib.suppress(OSError):  # closed already, once full
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)


class DropsAtMail(Listener):
    """A server on ``host:port`` that greets, answers EHLO, and hangs up at MAIL; or, given
    a refusing ``greeting``, says it and hangs up at once."""

    def __init__(self, host: str, port: int, greeting: bytes = b"220 drops.test ESMTP") -> None:
        self.greeting = greeting
        super().__init__(host, port)

    def take(self, connection: socket.socket, client: str) -> None:
        with connection, connection.makefile("rb") as lines:
            connection.sendall(self.greeting + b"\r\n")
            if not self.greeting.startswith(b"220"):
                return
            for line in lines:
                if not line.upper().startswith(b"EHLO"):
                    break
                connection.sendall(b"250-drops.test\r\n250 8BITMIME\r\n")


def test_a_host_that_hangs_up_before_the_transaction_is_passed_for_the_next(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    dropper = DropsAtMail("127.0.0.71", port)
    try:
        second = start(peers, "127.0.0.72", port)
        [result] = run(deliver_once(outbound(resolver, port), ["b@ordered.mail.test"]))
    finally:
        dropper.close()
    assert result.delivered, result
    assert len(second.messages) == 1


def test_a_554_greeting_from_the_only_host_fails_permanently(resolver: Resolver, port: int) -> None:
    refuser = DropsAtMail("127.0.0.76", port, b"554 5.7.1 no SMTP service for you")
    try:
        [result] = run(deliver_once(outbound(resolver, port), ["b@bare.mail.test"]))
    finally:
        refuser.close()
    assert (result.code, result.enhanced, result.permanent) == (554, "5.7.1", True)
    assert result.text == "no SMTP service for you"
    assert result.remote == f"bare.mail.test[127.0.0.76]:{port}"


def test_equal_preferences_are_tried_in_random_order(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    a = start(peers, "127.0.0.74", port)
    b = start(peers, "127.0.0.75", port)

    async def twenty_fresh_clients() -> None:
        for _ in range(20):
            [result] = await deliver_once(outbound(resolver, port), ["b@twins.mail.test"])
            assert result.delivered, result

    run(twenty_fresh_clients())
    # Both are used; the chance that 20 fair draws all pick one is 2 in a million.
    assert len(a.messages) + len(b.messages) == 20
    assert a.messages
    assert b.messages


def test_a_domain_without_mx_gets_mail_at_its_own_address(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    bare = start(peers, "127.0.0.76", port)
    [result] = run(deliver_once(outbound(resolver, port), ["b@bare.mail.test"]))
    assert result.delivered, result
    assert result.remote == f"bare.mail.test[127.0.0.76]:{port}"
    assert bare.messages[0].recipients == ["b@bare.mail.test"]


def test_null_mx_fails_permanently_without_connecting(resolver: Resolver, port: int) -> None:
    [result] = run(deliver_once(outbound(resolver, port), ["b@nullmx.mail.test"]))
    assert (result.code, result.enhanced, result.remote) == (556, "5.1.10", "")
    assert result.permanent
    assert "null MX" in result.text


def test_a_domain_that_does_not_exist_fails_permanently(resolver: Resolver, port: int) -> None:
    [result] = run(deliver_once(outbound(resolver, port), ["b@gone.mail.test"]))
    assert (result.code, result.enhanced) == (550, "5.1.2")
    assert result.permanent
    assert result.text == "gone.mail.test: no such domain"


def test_dns_failure_is_temporary_and_never_raises(port: int) -> None:
    dead_dns = Resolver(forwarders=[Endpoint("127.0.0.1", free_port())], timeout=0.2, retries=0)
    [result] = run(deliver_once(outbound(dead_dns, port), ["b@ordered.mail.test"]))
    assert (result.code, result.enhanced) == (0, "4.4.3")
    assert result.text.startswith("DNS: ")
    assert not result.delivered
    assert not result.permanent


def test_smarthost_takes_every_recipient_in_one_transaction(
    port: int, peers: dict[str, Peer]
) -> None:
    relay = start(peers, "127.0.0.72", port)
    recipients = ["x@gone.mail.test", "y@elsewhere.test", "z@nullmx.mail.test"]
    box = outbound(None, 25, smarthost=("127.0.0.72", port))
    results = run(deliver_once(box, recipients))
    assert [r.recipient for r in results] == recipients
    assert all(r.delivered for r in results)
    assert len(relay.messages) == 1
    assert relay.messages[0].recipients == recipients


def test_each_recipient_gets_its_own_reply_in_order(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port)
    plain.recorder.refuse["no@plain.mail.test"] = "550 5.1.1 no such user here"
    recipients = ["one@plain.mail.test", "no@plain.mail.test", "two@plain.mail.test"]
    results: list[RecipientResult] = run(deliver_once(outbound(resolver, port), recipients))
    assert [(r.recipient, r.code) for r in results] == [
        ("one@plain.mail.test", 250),
        ("no@plain.mail.test", 550),
        ("two@plain.mail.test", 250),
    ]
    refused = results[1]
    assert (refused.enhanced, refused.text, refused.permanent) == (
        "5.1.1",
        "no such user here",
        True,
    )
    assert results[0].text == "queued by 127.0.0.78"
    assert {r.remote for r in results} == {f"mx.plain.mail.test[127.0.0.78]:{port}"}
    assert plain.messages[0].recipients == ["one@plain.mail.test", "two@plain.mail.test"]


def test_a_temporary_reply_to_data_is_retried_later(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port)
    plain.recorder.data_reply = "451 4.3.0 try again later"
    [result] = run(deliver_once(outbound(resolver, port), ["b@plain.mail.test"]))
    assert (result.code, result.enhanced, result.delivered, result.permanent) == (
        451,
        "4.3.0",
        False,
        False,
    )
    assert (result.text, result.remote) == (
        "try again later",
        f"mx.plain.mail.test[127.0.0.78]:{port}",
    )


def test_message_bytes_arrive_unchanged(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port)
    data = MESSAGE + b".a line that starts with a dot\r\n8-bit: \xc3\xa9t\xc3\xa9\r\n.\r\n..\r\n"
    [result] = run(deliver_once(outbound(resolver, port), ["b@plain.mail.test"], data))
    assert result.delivered, result
    assert plain.messages[0].data == data


def test_a_message_over_the_servers_size_fails_permanently_before_data(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port, data_size_limit=100)
    [result] = run(deliver_once(outbound(resolver, port), ["b@plain.mail.test"], MESSAGE * 3))
    assert (result.code, result.enhanced, result.permanent) == (552, "5.3.4", True)
    assert result.remote == f"mx.plain.mail.test[127.0.0.78]:{port}"  # whose SIZE it was
    assert plain.messages == []


def test_an_internationalised_address_goes_with_smtputf8(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port)
    [result] = run(deliver_once(outbound(resolver, port), ["pölönius@plain.mail.test"]))
    assert result.delivered, result
    assert plain.messages[0].recipients == ["pölönius@plain.mail.test"]


def test_an_internationalised_address_fails_where_smtputf8_is_not_offered(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port, enable_SMTPUTF8=False)
    [result] = run(deliver_once(outbound(resolver, port), ["pölönius@plain.mail.test"]))
    assert (result.code, result.enhanced, result.permanent) == (553, "5.6.7", True)
    assert result.remote == f"mx.plain.mail.test[127.0.0.78]:{port}"
    assert "smtputf8" in result.text.lower(), result.text  # why, for the DSN
    assert plain.messages == []


def test_starttls_verified_against_a_local_ca(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    ca = LocalAuthority()
    tls = start(
        peers, "127.0.0.77", port, tls_context=ca.issue(["mx.tls.mail.test"]).server_context()
    )
    box = outbound(resolver, port, tls_context=client_context(ca_pem=ca.certificate_pem))
    [result] = run(deliver_once(box, ["b@tls.mail.test"]))
    assert result.delivered, result
    assert tls.messages[0].tls


def test_a_certificate_the_ca_did_not_issue_defers_the_message(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    tls = start(
        peers,
        "127.0.0.77",
        port,
        tls_context=LocalAuthority().issue(["mx.tls.mail.test"]).server_context(),
    )
    other_ca = LocalAuthority("another CA")
    box = outbound(resolver, port, tls_context=client_context(ca_pem=other_ca.certificate_pem))
    [result] = run(deliver_once(box, ["b@tls.mail.test"]))
    assert (result.code, result.enhanced, result.permanent) == (0, "4.7.5", False)
    assert "certificate verify failed" in result.text
    assert tls.messages == []


def test_a_certificate_for_another_name_defers_the_message(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    ca = LocalAuthority()
    start(peers, "127.0.0.77", port, tls_context=ca.issue(["impostor.test"]).server_context())
    box = outbound(resolver, port, tls_context=client_context(ca_pem=ca.certificate_pem))
    [result] = run(deliver_once(box, ["b@tls.mail.test"]))
    assert (result.code, result.enhanced) == (0, "4.7.5")


def test_opportunistic_tls_encrypts_without_a_ca(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    tls = start(
        peers, "127.0.0.77", port, tls_context=LocalAuthority().issue(["x"]).server_context()
    )
    [result] = run(deliver_once(outbound(resolver, port), ["b@tls.mail.test"]))
    assert result.delivered, result
    assert tls.messages[0].tls


def test_opportunistic_tls_sends_in_clear_when_not_offered(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port)
    [result] = run(deliver_once(outbound(resolver, port), ["b@plain.mail.test"]))
    assert result.delivered, result
    assert not plain.messages[0].tls


def test_required_tls_defers_when_the_server_does_not_offer_it(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port)
    box = outbound(resolver, port, starttls="required")
    [result] = run(deliver_once(box, ["b@plain.mail.test"]))
    assert (result.code, result.enhanced, result.permanent) == (0, "4.7.0", False)
    assert result.remote == f"mx.plain.mail.test[127.0.0.78]:{port}"
    assert plain.messages == []


def broken_tls() -> ssl.SSLContext:
    """A server context no client of ours can shake hands with: TLS 1.2 with PSK ciphers
    only, which a client without a pre-shared key never offers."""
    context = LocalAuthority().issue(["mx.tls.mail.test"]).server_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("PSK")
    return context


def test_opportunistic_tls_without_a_ca_falls_back_to_clear_text_after_a_failed_handshake(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    broken = start(peers, "127.0.0.77", port, tls_context=broken_tls())
    [result] = run(deliver_once(outbound(resolver, port), ["b@tls.mail.test"]))
    assert result.delivered, result
    assert not broken.messages[0].tls


def test_a_failed_handshake_is_never_clear_text_when_a_ca_is_configured(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    broken = start(peers, "127.0.0.77", port, tls_context=broken_tls())
    verified = client_context(ca_pem=LocalAuthority().certificate_pem)
    [result] = run(
        deliver_once(outbound(resolver, port, tls_context=verified), ["b@tls.mail.test"])
    )
    assert (result.code, result.enhanced) == (0, "4.7.5")
    assert broken.messages == []


def test_never_means_clear_text_even_when_tls_is_offered(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    tls = start(
        peers, "127.0.0.77", port, tls_context=LocalAuthority().issue(["x"]).server_context()
    )
    [result] = run(deliver_once(outbound(resolver, port, starttls="never"), ["b@tls.mail.test"]))
    assert result.delivered, result
    assert not tls.messages[0].tls


def test_one_session_carries_consecutive_messages(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port)
    box = outbound(resolver, port)

    async def five_messages() -> list[RecipientResult]:
        results = []
        for _ in range(5):
            results += await box.deliver("a@castle.test", ["b@plain.mail.test"], MESSAGE)
        await box.aclose()
        return results

    assert all(result.delivered for result in run(five_messages()))
    assert len(plain.messages) == 5
    assert plain.recorder.connections == 1


def test_a_session_the_server_closed_while_idle_is_replaced(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    # aiosmtpd closes a session idle for ``timeout`` seconds with a 421.
    plain = start(peers, "127.0.0.78", port, timeout=0.3)
    box = outbound(resolver, port)

    async def two_messages_a_while_apart() -> list[RecipientResult]:
        first = await box.deliver("a@castle.test", ["b@plain.mail.test"], MESSAGE)
        for _ in range(500):  # until the server has closed it (at most 10 s)
            if plain.recorder.open_now == 0:
                break
            await asyncio.sleep(0.02)
        second = await box.deliver("a@castle.test", ["b@plain.mail.test"], MESSAGE)
        await box.aclose()
        return first + second

    assert all(result.delivered for result in run(two_messages_a_while_apart()))
    assert len(plain.messages) == 2
    assert plain.recorder.connections == 2


def test_sessions_to_one_destination_stay_within_the_limit(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port)
    box = outbound(resolver, port, per_destination=3)

    async def twelve_at_once() -> list[list[RecipientResult]]:
        sends = [box.deliver("a@castle.test", ["b@plain.mail.test"], MESSAGE) for _ in range(12)]
        results = await asyncio.gather(*sends)
        await box.aclose()
        return results

    assert all(result.delivered for [result] in run(twelve_at_once()))
    assert len(plain.messages) == 12
    assert plain.recorder.most_open <= 3
    assert plain.recorder.connections <= 3


def test_nothing_listening_is_a_temporary_failure_that_never_raises(port: int) -> None:
    box = outbound(None, 25, smarthost=("127.0.0.72", port))
    [result] = run(deliver_once(box, ["b@plain.mail.test"]))
    assert (result.code, result.enhanced, result.permanent) == (0, "4.4.1", False)
    assert result.remote == f"127.0.0.72[127.0.0.72]:{port}"
    assert result.text == "connection refused"


def test_an_address_without_a_domain_is_refused_without_a_look_up(port: int) -> None:
    unused = Resolver(forwarders=[Endpoint("127.0.0.1", free_port())], timeout=0.1, retries=0)
    [result] = run(deliver_once(outbound(unused, port), ["postmaster"]))
    assert (result.code, result.enhanced, result.permanent) == (553, "5.1.3", True)
    assert (result.recipient, result.remote) == ("postmaster", "")
    assert "domain" in result.text


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_host_that_refused_a_connection_is_not_tried_again_for_a_while() -> None:
    # Postfix's destination status cache: with the downstream down, a scan of a thousand
    # due messages is one connection attempt and a thousand deferrals, not a thousand
    # attempts.
    port = free_port()
    clock = Clock()
    outbound = Outbound(
        helo="hop.castle.test",
        smarthost=("127.0.0.1", port),
        dead_host_seconds=30.0,
        clock=clock,
        timeout=5,
    )
    peer = Peer("127.0.0.1", port, name="sink.castle.test")

    async def attempt() -> RecipientResult:
        return (await outbound.deliver("a@castle.test", ["b@mail.test"], MESSAGE))[0]

    async def scenario() -> list[RecipientResult]:
        results = [await attempt()]  # nobody listens: refused
        peer.start()  # the sink is back, but the hop does not know yet
        try:
            clock.now += 29.0
            results.append(await attempt())
            clock.now += 1.0
            results.append(await attempt())
        finally:
            await outbound.aclose()
            peer.stop()
        return results

    refused, skipped, delivered = run(scenario())
    assert (refused.code, refused.enhanced, refused.text) == (0, "4.4.1", "connection refused")
    assert (skipped.code, skipped.enhanced, skipped.remote) == (0, "4.4.1", refused.remote)
    assert skipped.text == "connection refused less than 30 s ago: not tried again yet"
    assert delivered.delivered, delivered
    assert peer.recorder.connections == 1  # the skipped attempt made no connection


class Silent(Listener):
    """A host on ``host:port`` that takes connections and then says nothing, or hangs up at
    once (``hang_up``): a server that is there but is no SMTP server."""

    def __init__(self, host: str, port: int, *, hang_up: bool = False) -> None:
        self.hang_up = hang_up
        self.held: list[socket.socket] = []
        super().__init__(host, port)

    def take(self, connection: socket.socket, client: str) -> None:
        if self.hang_up:
            connection.close()
        else:
            self.held.append(connection)

    def close(self) -> None:
        super().close()
        for connection in self.held:
            connection.close()


def test_a_host_that_never_greets_is_deferred_as_timed_out(port: int) -> None:
    # RFC 5321 4.5.3.2.1: the client waits for the greeting only so long.
    mute = Silent("127.0.0.72", port)
    try:
        box = Outbound(helo="out.castle.test", smarthost=("127.0.0.72", port), timeout=0.5)
        [result] = run(deliver_once(box, ["b@plain.mail.test"]))
    finally:
        mute.close()
    assert (result.code, result.enhanced, result.text) == (0, "4.4.1", "timed out")


def test_a_host_that_hangs_up_at_once_is_deferred_with_what_happened(port: int) -> None:
    rude = Silent("127.0.0.72", port, hang_up=True)
    try:
        [result] = run(
            deliver_once(outbound(None, 25, smarthost=("127.0.0.72", port)), ["b@x.test"])
        )
    finally:
        rude.close()
    assert (result.code, result.enhanced) == (0, "4.4.1")
    assert result.text.endswith(": Unexpected EOF received"), result.text


def test_implicit_tls_to_a_clear_text_server_is_deferred_naming_the_tls_failure(
    port: int, peers: dict[str, Peer]
) -> None:
    start(peers, "127.0.0.72", port)
    box = outbound(None, 25, smarthost=("127.0.0.72", port), implicit_tls=True)
    [result] = run(deliver_once(box, ["b@x.test"]))
    assert (result.code, result.enhanced, result.text) == (0, "4.4.1", "wrong version number")


def test_a_session_whose_recipients_were_all_refused_is_reset_and_reused(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    # RFC 5321 4.1.1.5: RSET ends the failed transaction; the session carries the next one.
    plain = start(peers, "127.0.0.78", port)
    plain.recorder.refuse["no@plain.mail.test"] = "550 5.1.1 no such user here"
    box = outbound(resolver, port)

    async def refused_then_taken() -> list[RecipientResult]:
        results = await box.deliver("a@castle.test", ["no@plain.mail.test"], MESSAGE)
        results += await box.deliver("a@castle.test", ["yes@plain.mail.test"], MESSAGE)
        await box.aclose()
        return results

    refused, taken = run(refused_then_taken())
    assert (refused.code, refused.enhanced) == (550, "5.1.1")
    assert taken.delivered, taken
    assert plain.recorder.connections == 1
    assert [m.recipients for m in plain.messages] == [["yes@plain.mail.test"]]


def test_the_hosts_remembered_as_dead_are_bounded_the_oldest_forgotten_first(
    resolver: Resolver, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past the bound, the hosts whose time is up go, then the ones that failed longest ago;
    # a host that fails again counts from its last failure.
    monkeypatch.setattr("stack.smtp.client.MAX_DEAD_HOSTS", 3)
    clock = Clock()
    box = outbound(resolver, port, dead_host_seconds=30.0, clock=clock)

    async def attempt(last_octet: int) -> str:
        [result] = await box.deliver("a@castle.test", [f"b@[127.0.0.{last_octet}]"], MESSAGE)
        assert (result.code, result.enhanced) == (0, "4.4.1"), result
        return result.text

    async def scenario() -> list[str]:
        texts = [await attempt(81)]  # nobody listens on any of these: refused
        clock.now += 10.0
        texts += [await attempt(82), await attempt(83)]
        clock.now += 20.0  # 81's time is up, 82's and 83's is not
        texts.append(await attempt(84))  # the bound: 81 goes, whose time is up
        texts += [await attempt(82), await attempt(83)]
        clock.now += 1.0
        texts.append(await attempt(85))  # the bound, all still dead: 82, the oldest, goes
        texts += [await attempt(83), await attempt(82)]  # and 82 failing again pushes out 83
        texts += [await attempt(84), await attempt(85), await attempt(83)]
        await box.aclose()
        return texts

    refused, skipped = "connection refused", "connection refused less than 30 s ago: not tried"
    texts = run(scenario())
    assert [text.startswith(skipped) for text in texts] == [
        *(False, False, False),  # 81, 82, 83 refused
        False,  # 84
        *(True, True),  # 82 and 83 remembered
        False,  # 85
        *(True, False),  # 83 remembered, 82 forgotten
        *(True, True, False),  # 84 and 85 remembered, 83 forgotten
    ]
    assert all(text == refused for text in texts if not text.startswith(skipped))


#: A reply of a script that hangs up instead of answering.
HANG_UP = b""
#: A reply of a script that never comes: the server reads on and says nothing.
SILENCE = b"..."


class Scripted(Listener):
    """An SMTP server on ``host:port`` that answers each command from a script, for the
    replies aiosmtpd never gives: ``script`` maps a verb (``b"."`` is the end of the data) to
    its successive replies, the last one repeated; ``HANG_UP`` closes the connection instead,
    ``SILENCE`` answers nothing, and a 421 closes it after the reply.  Each connection is
    served in a thread of its own; after ``accept`` of them, no more are taken (refused).
    Every line read, the data included, is kept in ``lines``; ``connections`` counts them."""

    DEFAULT: ClassVar[dict[bytes, list[bytes]]] = {
        b"EHLO": [b"250-scripted.test\r\n250 8BITMIME"],
        b"HELO": [b"250 scripted.test"],
        b"MAIL": [b"250 2.1.0 ok"],
        b"RCPT": [b"250 2.1.5 ok"],
        b"DATA": [b"354 go ahead"],
        b".": [b"250 2.0.0 queued"],
        b"RSET": [b"250 2.0.0 ok"],
        b"QUIT": [b"221 2.0.0 bye"],
    }

    def __init__(
        self, host: str, port: int, script: dict[bytes, list[bytes]], accept: int | None = None
    ) -> None:
        self.script = {**self.DEFAULT, **script}
        self.accept = accept
        self.said: dict[bytes, int] = {}
        self.lines: list[bytes] = []
        self.connections = 0
        self.clients: list[str] = []  # the address each connection came from
        super().__init__(host, port)

    def full(self) -> bool:
        return self.accept is not None and self.connections >= self.accept

    def take(self, connection: socket.socket, client: str) -> None:
        self.connections += 1
        self.clients.append(client)
        threading.Thread(target=self._session, args=(connection,), daemon=True).start()

    def _session(self, connection: socket.socket) -> None:
        # A client may go away without waiting for the last reply (a broken pipe): done.
        with contextlib.suppress(OSError), connection, connection.makefile("rb") as lines:
            connection.sendall(b"220 scripted.test ESMTP\r\n")
            in_data = False
            for line in lines:
                self.lines.append(line)
                if in_data and line != b".\r\n":
                    continue
                verb = b"." if in_data else line[:4].upper()
                answer = self._next(verb)
                if answer == HANG_UP:
                    break
                if answer == SILENCE:
                    continue
                connection.sendall(answer + b"\r\n")
                in_data = verb == b"DATA" and answer.startswith(b"354")
                if verb == b"QUIT" or answer.startswith(b"421"):
                    break  # RFC 5321 3.8: a 421 closes the connection

    def _next(self, verb: bytes) -> bytes:
        replies = self.script.get(verb, [b"502 5.5.1 not here"])
        count = self.said[verb] = self.said.get(verb, 0) + 1
        return replies[min(count, len(replies)) - 1]

    def commands(self, verb: bytes) -> list[bytes]:
        return [line.rstrip(b"\r\n") for line in self.lines if line[:4].upper() == verb]


@pytest.fixture
def scripted(port: int) -> Iterator[Callable[..., Scripted]]:
    """Starts a :class:`Scripted` server on 127.0.0.72 (the smarthost of ``smarthost()``)."""
    servers: list[Scripted] = []

    def start_scripted(accept: int | None = None, **script: list[bytes]) -> Scripted:
        verbs = {(b"." if verb == "end" else verb.encode()): r for verb, r in script.items()}
        servers.append(Scripted("127.0.0.72", port, verbs, accept))
        return servers[-1]

    yield start_scripted
    for server in servers:
        server.close()


def smarthost(port: int, **options: Any) -> Outbound:
    return outbound(None, 25, smarthost=("127.0.0.72", port), **options)


def test_a_server_that_does_not_know_ehlo_is_greeted_with_helo(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # RFC 5321 3.2: a client whose EHLO is refused as unknown may fall back to HELO.
    server = scripted(EHLO=[b"500 5.5.2 what?"])
    [result] = run(deliver_once(smarthost(port), ["b@x.test"]))
    assert result.delivered, result
    # RFC 5321 4.1.1.1: the client's own name, as configured, both times.
    assert server.commands(b"EHLO") == [b"EHLO out.castle.test"]
    assert server.commands(b"HELO") == [b"HELO out.castle.test"]
    # Without EHLO no extension is known: MAIL carries no parameter.
    assert server.commands(b"MAIL") == [b"MAIL FROM:<a@castle.test>"]


@pytest.mark.parametrize("code", [400, 421, 450])
def test_a_temporary_refusal_of_ehlo_defers_without_trying_helo(
    port: int, scripted: Callable[..., Scripted], code: int
) -> None:
    # Any 4yz (RFC 5321 4.2.1): the server is there and knows EHLO, but not now.
    server = scripted(EHLO=[b"%d 4.3.2 too busy, come back later" % code])
    [result] = run(deliver_once(smarthost(port), ["b@x.test"]))
    assert (result.code, result.enhanced, result.text) == (
        code,
        "4.3.2",
        "too busy, come back later",
    )
    assert not result.permanent
    assert server.commands(b"HELO") == []


def test_mail_states_the_size_and_8bit_body_where_they_are_offered(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # RFC 1870: SIZE=octets; RFC 6152: BODY=8BITMIME for data that is not 7-bit.  A SIZE
    # without a number, or of 0, sets no maximum (RFC 1870 section 4).
    eight_bit = MESSAGE + "é\r\n".encode()
    server = scripted(EHLO=[b"250-scripted.test\r\n250-8BITMIME\r\n250 SIZE 0"])
    results = run(deliver_once(smarthost(port), ["b@x.test"], eight_bit))
    results += run(deliver_once(smarthost(port), ["b@x.test"]))
    assert all(result.delivered for result in results), results
    # Keywords and values are case-insensitive (RFC 5321 2.4).
    assert [line.upper() for line in server.commands(b"MAIL")] == [
        b"MAIL FROM:<A@CASTLE.TEST> SIZE=%d BODY=8BITMIME" % len(eight_bit),
        b"MAIL FROM:<A@CASTLE.TEST> SIZE=%d" % len(MESSAGE),
    ]


def test_a_size_offered_without_a_number_sets_no_maximum(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    server = scripted(EHLO=[b"250-scripted.test\r\n250 SIZE"])
    [result] = run(deliver_once(smarthost(port), ["b@x.test"]))
    assert result.delivered, result
    [mail] = server.commands(b"MAIL")
    assert mail.upper() == b"MAIL FROM:<A@CASTLE.TEST> SIZE=%d" % len(MESSAGE)


def test_data_that_does_not_end_a_line_is_ended_with_crlf(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    # RFC 5321 4.1.1.4: the data's end, <CRLF>.<CRLF>, needs the last line ended first.
    plain = start(peers, "127.0.0.78", port)
    [result] = run(deliver_once(outbound(resolver, port), ["b@plain.mail.test"], b"Subject: x"))
    assert result.delivered, result
    assert plain.messages[0].data == b"Subject: x\r\n"


def test_a_421_to_mail_on_a_reused_session_moves_the_message_to_a_fresh_one(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # A server that closes an idle session answers the next command with 421 (RFC 5321
    # 3.8): nothing of the message was sent, so it goes again on a new connection.
    server = scripted(MAIL=[b"250 2.1.0 ok", b"421 4.4.2 idle too long", b"250 2.1.0 ok"])
    box = smarthost(port)

    async def two_messages() -> list[RecipientResult]:
        results = await box.deliver("a@castle.test", ["b@x.test"], MESSAGE)
        results += await box.deliver("a@castle.test", ["c@x.test"], MESSAGE)
        await box.aclose()
        return results

    assert all(result.delivered for result in run(two_messages()))
    assert server.connections == 2
    assert len(server.commands(b"MAIL")) == 3


def test_a_421_to_mail_on_a_fresh_session_is_the_servers_answer(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    server = scripted(MAIL=[b"421 4.3.2 shutting down"])
    [result] = run(deliver_once(smarthost(port), ["b@x.test"]))
    assert (result.code, result.enhanced, result.permanent) == (421, "4.3.2", False)
    assert server.connections == 1


def test_a_refused_sender_stands_for_every_recipient(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    server = scripted(MAIL=[b"553 5.1.8 sender domain unknown"])
    results = run(deliver_once(smarthost(port), ["b@x.test", "c@y.test"]))
    assert [(r.recipient, r.code, r.enhanced, r.text) for r in results] == [
        ("b@x.test", 553, "5.1.8", "sender domain unknown"),
        ("c@y.test", 553, "5.1.8", "sender domain unknown"),
    ]
    assert server.commands(b"RCPT") == []
    assert server.commands(b"RSET") == [b"RSET"]


def test_a_connection_lost_during_the_recipients_defers_them_all(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    scripted(RCPT=[b"250 2.1.5 ok", HANG_UP])
    results = run(deliver_once(smarthost(port), ["b@x.test", "c@x.test", "d@x.test"]))
    assert [(r.recipient, r.code, r.enhanced) for r in results] == [
        ("b@x.test", 0, "4.4.2"),
        ("c@x.test", 0, "4.4.2"),
        ("d@x.test", 0, "4.4.2"),
    ]
    assert not any(result.permanent for result in results)
    assert {r.remote for r in results} == {f"127.0.0.72[127.0.0.72]:{port}"}


def test_a_connection_lost_after_the_data_is_retried_later(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # The server may have the message: a retry, the "at least once" of RFC 5321 6.1.
    scripted(end=[HANG_UP])
    [result] = run(deliver_once(smarthost(port), ["b@x.test"]))
    assert (result.code, result.enhanced, result.delivered, result.permanent) == (
        0,
        "4.4.2",
        False,
        False,
    )
    assert result.remote == f"127.0.0.72[127.0.0.72]:{port}"
    assert result.text, "what happened, for the log and a later DSN"


def test_an_address_literal_goes_to_that_address_and_a_bad_one_fails_permanently(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    # RFC 5321 4.1.3: a domain may be an address literal; one that is no address is an
    # error no retry can fix (and never a name to look up: "localhost" would be one).
    plain = start(peers, "127.0.0.78", port)
    good, bad = run(deliver_once(outbound(resolver, port), ["b@[127.0.0.78]", "c@[localhost]"]))
    assert (bad.code, bad.enhanced, bad.permanent) == (553, "5.1.2", True)
    assert bad.text == "bad address literal [localhost]"
    assert good.delivered, good
    assert good.remote == f"127.0.0.78[127.0.0.78]:{port}"
    assert plain.messages[0].recipients == ["b@[127.0.0.78]"]


def test_a_smarthost_named_by_address_is_not_looked_up_and_one_by_name_is(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port)
    [literal] = run(deliver_once(outbound(resolver, port), ["c@[localhost]"]))
    assert literal.code == 553  # as above: before anything could look a name up
    by_address = outbound(resolver, 25, smarthost=("127.0.0.78", port))
    by_name = outbound(resolver, 25, smarthost=("mx.plain.mail.test", port))
    [addressed] = run(deliver_once(by_address, ["b@x.test"]))
    [named] = run(deliver_once(by_name, ["b@x.test"]))
    assert addressed.delivered, addressed
    assert addressed.remote == f"127.0.0.78[127.0.0.78]:{port}"
    assert named.delivered, named
    assert named.remote == f"mx.plain.mail.test[127.0.0.78]:{port}"
    assert len(plain.messages) == 2


@pytest.mark.parametrize(
    "goodbye",
    [HANG_UP, SILENCE, b"554 5.3.0 no goodbye for you"],
    ids=["hangs-up", "never-answers", "refuses"],
)
def test_closing_idle_sessions_never_raises_nor_waits_on_a_server_that_will_not_say_goodbye(
    port: int, scripted: Callable[..., Scripted], goodbye: bytes
) -> None:
    # aclose says QUIT (RFC 5321 4.1.1.10) and waits for the 221 a little, not forever.
    server = scripted(QUIT=[goodbye])
    box = smarthost(port)

    async def deliver_then_close() -> list[RecipientResult]:
        results = await box.deliver("a@castle.test", ["b@x.test"], MESSAGE)
        await asyncio.wait_for(box.aclose(), 30)
        return results

    [result] = run(deliver_then_close())
    assert result.delivered, result
    assert server.commands(b"QUIT") == [b"QUIT"]


def test_size_is_a_maximum_a_message_may_reach_and_one_over_it_keeps_the_session(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # RFC 1870 4: SIZE is the largest message the server takes, so one of exactly that size
    # goes; a bigger one is refused before MAIL, and the session carries the next message.
    server = scripted(EHLO=[b"250-scripted.test\r\n250 SIZE %d" % len(MESSAGE)])
    box = smarthost(port)

    async def too_big_then_just_right() -> list[RecipientResult]:
        results = await box.deliver("a@castle.test", ["b@x.test"], MESSAGE + b"x\r\n")
        results += await box.deliver("a@castle.test", ["b@x.test"], MESSAGE)
        await box.aclose()
        return results

    too_big, just_right = run(too_big_then_just_right())
    assert (too_big.code, too_big.enhanced, too_big.permanent) == (552, "5.3.4", True)
    assert f"SIZE {len(MESSAGE)}" in too_big.text, too_big.text
    assert too_big.remote == f"127.0.0.72[127.0.0.72]:{port}"
    assert just_right.delivered, just_right
    assert server.connections == 1
    assert len(server.commands(b"MAIL")) == 1


@pytest.mark.parametrize("verb", ["MAIL", "RCPT"])
@pytest.mark.parametrize(
    ("reply", "taken"),
    [(b"200 ok", True), (b"250 2.1.0 ok", True), (b"300 what?", False)],
)
def test_only_a_2yz_reply_accepts_mail_or_rcpt(
    port: int, scripted: Callable[..., Scripted], verb: str, reply: bytes, taken: bool
) -> None:
    # RFC 5321 4.2.1: 2yz is a positive completion, whatever y and z; a 3yz to MAIL or RCPT
    # (only DATA may have one) accepts nothing.
    server = scripted(**{verb: [reply]})
    [result] = run(deliver_once(smarthost(port), ["b@x.test"]))
    assert result.delivered is taken, result
    if taken:  # accepted means the message went: DATA and its end were answered
        assert server.commands(b"DATA") == [b"DATA"]
        assert result.text == "queued"
    else:
        assert (result.code, result.permanent) == (300, False)
        assert server.commands(b"DATA") == []
        assert server.commands(b"RSET") == [b"RSET"]


STARTTLS_OFFERED = b"250-scripted.test\r\n250-STARTTLS\r\n250 8BITMIME"


def test_a_454_to_starttls_leaves_opportunistic_tls_in_clear_text(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # RFC 3207 4: after a 454 the session goes on unencrypted; opportunistic TLS takes that.
    server = scripted(EHLO=[STARTTLS_OFFERED], STAR=[b"454 4.7.0 TLS not available now"])
    [result] = run(deliver_once(smarthost(port), ["b@x.test"]))
    assert result.delivered, result
    assert server.commands(b"STAR") == [b"STARTTLS"]
    assert len(server.commands(b"MAIL")) == 1


def test_a_454_to_starttls_defers_when_tls_is_required(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    server = scripted(EHLO=[STARTTLS_OFFERED], STAR=[b"454 4.7.0 TLS not available now"])
    [result] = run(deliver_once(smarthost(port, starttls="required"), ["b@x.test"]))
    assert (result.code, result.enhanced, result.permanent) == (454, "4.7.0", False)
    assert result.remote == f"127.0.0.72[127.0.0.72]:{port}"
    assert server.commands(b"MAIL") == []


def test_connections_leave_from_the_configured_source_address(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # A service's own address, so that the receiver's SPF and reverse DNS see that one.
    server = scripted()
    [result] = run(deliver_once(smarthost(port, source_address="127.0.0.9"), ["b@x.test"]))
    assert result.delivered, result
    assert server.clients == ["127.0.0.9"]


def test_implicit_tls_verifies_the_server_against_the_configured_ca(
    tmp_path: Path, peer: Peer
) -> None:
    # RFC 8314's port 465: TLS from the first byte, the certificate checked as for STARTTLS.
    ca = LocalAuthority()
    context = ca.issue(["127.0.0.1"]).server_context()
    hop = InProcessHop(tmp_path, peer.port, tls_context=context, implicit_tls=True)
    try:
        box = Outbound(
            helo="out.castle.test",
            smarthost=("127.0.0.1", hop.port),
            implicit_tls=True,
            tls_context=client_context(ca_pem=ca.certificate_pem),
            timeout=5,
        )
        [result] = run(deliver_once(box, ["o@castle.test"]))
    finally:
        hop.close()
    assert result.delivered, result
    assert result.text.startswith("OK queued as ")


@pytest.mark.parametrize(
    "domain",
    [
        # RFC 7505 3 forbids a null MX beside others; where one is, the real ones are used.
        "mixednull.mail.test",
        "partial.mail.test",  # an exchanger without an address, before one with an address
    ],
)
def test_an_exchanger_that_cannot_take_mail_is_passed_for_the_next(
    resolver: Resolver, port: int, peers: dict[str, Peer], domain: str
) -> None:
    plain = start(peers, "127.0.0.78", port)
    [result] = run(deliver_once(outbound(resolver, port), [f"b@{domain}"]))
    assert result.delivered, result
    assert result.remote == f"mx.plain.mail.test[127.0.0.78]:{port}"
    assert len(plain.messages) == 1


def test_exchangers_none_of_which_has_an_address_defer_naming_the_reason(
    resolver: Resolver, port: int
) -> None:
    # Unlike a domain without MX (RFC 5321 5.1), a named exchanger may get its address later.
    [result] = run(deliver_once(outbound(resolver, port), ["b@ghostly.mail.test"]))
    assert (result.code, result.enhanced, result.permanent) == (0, "4.4.4", False)
    assert result.text == "ghost.ghostly.mail.test: no address"


def test_at_most_ten_addresses_are_tried_for_one_destination(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    # Postfix's smtp_mx_address_limit: the eleventh exchanger is never reached, so a dead
    # domain costs ten refused connections, not as many as it publishes.
    eleventh = start(peers, "127.0.0.111", port)
    [result] = run(deliver_once(outbound(resolver, port), ["b@many.mail.test"]))
    assert (result.code, result.enhanced, result.text) == (0, "4.4.1", "connection refused")
    assert result.remote == f"h10.many.mail.test[127.0.0.110]:{port}"
    assert eleventh.recorder.connections == 0


def test_an_outbound_needs_somewhere_to_send_and_room_for_one_session(port: int) -> None:
    with pytest.raises(ValueError, match="resolver"):
        Outbound(helo="out.castle.test")
    with pytest.raises(ValueError, match="per_destination"):
        Outbound(helo="out.castle.test", smarthost=("127.0.0.72", port), per_destination=0)
    Outbound(helo="out.castle.test", smarthost=("127.0.0.72", port), per_destination=1)


def test_recipients_of_one_domain_however_spelled_share_one_transaction(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    # Domains are case-insensitive (RFC 5321 2.4).
    plain = start(peers, "127.0.0.78", port)
    recipients = ["b@Plain.Mail.Test", "c@plain.mail.test"]
    results = run(deliver_once(outbound(resolver, port), recipients))
    assert all(result.delivered for result in results), results
    assert [m.recipients for m in plain.messages] == [recipients]


def test_by_default_at_most_ten_sessions_go_to_one_destination(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    plain = start(peers, "127.0.0.78", port)
    box = Outbound(helo="out.castle.test", resolver=resolver, port=port, timeout=5)

    async def fifteen_at_once() -> list[list[RecipientResult]]:
        sends = [box.deliver("a@castle.test", ["b@plain.mail.test"], MESSAGE) for _ in range(15)]
        results = await asyncio.gather(*sends)
        await box.aclose()
        return results

    assert all(result.delivered for [result] in run(fifteen_at_once()))
    assert plain.recorder.most_open <= 10


def test_by_default_a_refused_host_is_tried_again_at_once(port: int) -> None:
    # Remembering dead hosts is the queue runner's choice (dead_host_seconds), off unless set.
    box = Outbound(helo="out.castle.test", smarthost=("127.0.0.72", port), timeout=5)

    async def twice() -> list[RecipientResult]:
        results = await box.deliver("a@castle.test", ["b@x.test"], MESSAGE)
        results += await box.deliver("a@castle.test", ["b@x.test"], MESSAGE)
        await box.aclose()
        return results

    assert [result.text for result in run(twice())] == ["connection refused"] * 2


def test_the_only_host_hanging_up_before_mail_defers_the_message_naming_it(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    scripted(MAIL=[HANG_UP])
    [result] = run(deliver_once(smarthost(port), ["b@x.test"]))
    assert (result.code, result.enhanced, result.permanent) == (0, "4.4.2", False)
    assert result.remote == f"127.0.0.72[127.0.0.72]:{port}"
    assert "lost connection" in result.text


def test_a_host_whose_handshake_fails_is_passed_for_the_next_exchanger(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    # RFC 5321 5.1: on to the next host; with a CA configured, never clear text to this one.
    broken = start(peers, "127.0.0.77", port, tls_context=broken_tls())
    plain = start(peers, "127.0.0.78", port)
    verified = client_context(ca_pem=LocalAuthority().certificate_pem)
    box = outbound(resolver, port, tls_context=verified)
    [result] = run(deliver_once(box, ["b@tlspair.mail.test"]))
    assert result.delivered, result
    assert result.remote == f"mx.plain.mail.test[127.0.0.78]:{port}"
    assert broken.messages == []
    assert len(plain.messages) == 1


def test_a_clear_text_retry_that_cannot_connect_defers_with_its_reason(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # Opportunistic TLS without a CA tries again in clear text after a failed handshake;
    # when that connection fails too, its reason is the one given.
    scripted(accept=1, EHLO=[STARTTLS_OFFERED], STAR=[b"220 2.0.0 go ahead"])
    [result] = run(deliver_once(smarthost(port), ["b@x.test"]))
    assert (result.code, result.enhanced, result.text) == (0, "4.4.1", "connection refused")


def test_sessions_from_one_source_address_each_get_a_port_of_their_own(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    server = scripted()
    first, second = (
        smarthost(port, source_address="127.0.0.9"),
        smarthost(port, source_address="127.0.0.9"),
    )

    async def both_open_at_once() -> list[RecipientResult]:
        results = await first.deliver("a@castle.test", ["b@x.test"], MESSAGE)
        results += await second.deliver("a@castle.test", ["c@x.test"], MESSAGE)
        await asyncio.gather(first.aclose(), second.aclose())
        return results

    assert all(result.delivered for result in run(both_open_at_once()))
    assert server.clients == ["127.0.0.9", "127.0.0.9"]


AUTH_OFFERED = b"250-scripted.test\r\n250-AUTH PLAIN\r\n250 8BITMIME"


def log_in(smtp: aiosmtplib.SMTP) -> Awaitable[Any]:
    return smtp.login("ophelia", "rosemary")


def test_a_login_runs_on_each_new_session_before_mail(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # RFC 4954: AUTH after EHLO (and TLS), before the transaction.
    server = scripted(EHLO=[AUTH_OFFERED], AUTH=[b"235 2.7.0 welcome"])
    [result] = run(deliver_once(smarthost(port, login=log_in), ["b@x.test"]))
    assert result.delivered, result
    verbs = [line[:4].upper() for line in server.lines]
    assert verbs[:3] == [b"EHLO", b"AUTH", b"MAIL"]


def test_a_refused_login_stands_for_every_recipient(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    server = scripted(EHLO=[AUTH_OFFERED], AUTH=[b"535 5.7.8 bad credentials"])
    results = run(deliver_once(smarthost(port, login=log_in), ["b@x.test", "c@y.test"]))
    assert [(r.code, r.enhanced, r.text) for r in results] == [
        (535, "5.7.8", "bad credentials")
    ] * 2
    assert all(r.remote == f"127.0.0.72[127.0.0.72]:{port}" for r in results)
    assert server.commands(b"MAIL") == []


def test_a_host_is_remembered_as_dead_for_a_fraction_of_a_second_too() -> None:
    port = free_port()
    clock = Clock()
    box = Outbound(
        helo="hop.castle.test",
        smarthost=("127.0.0.1", port),
        dead_host_seconds=0.5,
        clock=clock,
        timeout=5,
    )

    async def attempts() -> list[str]:
        texts = []
        for step in (0.0, 0.4, 0.1):
            clock.now += step
            [result] = await box.deliver("a@castle.test", ["b@mail.test"], MESSAGE)
            texts.append(result.text)
        return texts

    assert run(attempts()) == [
        "connection refused",
        "connection refused less than 0.5 s ago: not tried again yet",
        "connection refused",
    ]


def test_an_ipv6_address_literal_is_reached_at_that_address_its_tag_in_any_case(
    resolver: Resolver, port: int, peers: dict[str, Peer]
) -> None:
    # RFC 5321 4.1.3: "[IPv6:...]".  An IPv4-mapped address, so that the connection stays
    # on 127.0.0.78; the two spellings are one destination and one transaction.
    plain = start(peers, "127.0.0.78", port)
    recipients = ["b@[IPv6:::ffff:127.0.0.78]", "c@[ipv6:::FFFF:127.0.0.78]"]
    results = run(deliver_once(outbound(resolver, port), recipients))
    assert all(result.delivered for result in results), results
    assert {r.remote for r in results} == {f"::ffff:127.0.0.78[IPv6:::ffff:127.0.0.78]:{port}"}
    assert [m.recipients for m in plain.messages] == [recipients]


def test_a_domain_whose_every_mx_is_null_accepts_no_mail(resolver: Resolver, port: int) -> None:
    # RFC 7505 3: a null MX says the domain takes no mail; more than one of them (which the
    # RFC forbids) says it no less, and never "try again later".
    [result] = run(deliver_once(outbound(resolver, port), ["b@allnull.mail.test"]))
    assert (result.code, result.enhanced, result.permanent) == (556, "5.1.10", True)


def test_a_domain_without_mx_or_address_fails_permanently(resolver: Resolver, port: int) -> None:
    # RFC 5321 5.1: no MX, so the domain itself is the host; with no address it has none.
    [result] = run(deliver_once(outbound(resolver, port), ["b@hollow.mail.test"]))
    assert (result.code, result.enhanced, result.permanent) == (550, "5.1.2", True)
    assert result.text == "hollow.mail.test: no MX and no address"


def test_an_internationalised_address_is_sent_with_the_smtputf8_parameter(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # RFC 6531 3.4: MAIL says SMTPUTF8 when the envelope needs it.
    server = scripted(EHLO=[b"250-scripted.test\r\n250-8BITMIME\r\n250 SMTPUTF8"])
    [result] = run(deliver_once(smarthost(port), ["pölönius@x.test"]))
    assert result.delivered, result
    [mail] = server.commands(b"MAIL")
    assert mail.upper().endswith(b" SMTPUTF8")


def test_a_smarthost_by_a_name_without_address_defers_never_bounces(
    resolver: Resolver, port: int
) -> None:
    # Our own configuration's fault: the message waits for it to be put right.
    box = outbound(resolver, 25, smarthost=("ghost.ghostly.mail.test", port))
    [result] = run(deliver_once(box, ["b@x.test"]))
    assert (result.code, result.enhanced, result.permanent) == (0, "4.4.4", False)


def test_a_domain_called_smarthost_is_looked_up_like_any_other(
    resolver: Resolver, port: int
) -> None:
    [result] = run(deliver_once(outbound(resolver, port), ["b@smarthost"]))
    assert not result.delivered
    assert result.remote == ""


def test_a_reply_to_mail_that_is_no_smtp_reply_defers_the_message(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    scripted(MAIL=[b"hello there"])
    [result] = run(deliver_once(smarthost(port), ["b@x.test"]))
    assert (result.code, result.enhanced, result.permanent) == (0, "4.4.2", False)
    assert result.text.startswith("MAIL FROM: "), result.text
    assert result.remote == f"127.0.0.72[127.0.0.72]:{port}"


def test_a_server_silent_after_the_data_is_deferred_as_timed_out(
    port: int, scripted: Callable[..., Scripted]
) -> None:
    # RFC 5321 4.5.3.2.6: the client waits for the reply to the data only so long; the
    # server may have the message, so it is tried again later.
    scripted(end=[SILENCE])
    box = Outbound(helo="out.castle.test", smarthost=("127.0.0.72", port), timeout=0.5)
    [result] = run(deliver_once(box, ["b@x.test"]))
    assert (result.code, result.enhanced, result.text) == (0, "4.4.2", "timed out")
