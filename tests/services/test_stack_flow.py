"""The whole domain at work: `elsinore stack up` in processes of its own, mail in and out.

The test bed is a small internet on one /24 of loopback: a root DNS server delegating
``castle.test`` (ours, made by ``stack init``) and ``outside.test`` (another domain, with
SPF, DKIM and a DMARC policy of reject), and a recording sink that stands for the world the
relay delivers to (the relay's smarthost).  Mail from outside comes from its own address,
so SPF sees the address the outside domain publishes, or another.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
import pytest
from smtp_peers import DnsThread, Peer, Received, loopback_slash24

from harness.cli import cli
from stack.auth import dkim, spf
from stack.auth.keys import SigningKey, generate
from stack.auth.passwords import hash_password
from stack.auth.publish import selector_name, zone_line
from stack.cli import run
from stack.config import StackConfig, load
from stack.dns.addresses import Endpoint
from stack.dns.blocking import BlockingResolver
from stack.dns.resolver import Resolver
from stack.mime import parse
from stack.relay.aliases import write_record
from stack.services.cli import stack_status
from stack.smtp.tls import client_context

ROOT = os.geteuid() == 0
PASSWORD = "correct horse battery staple"
OUTSIDE_SELECTOR = "out1"


@dataclass
class World:
    directory: Path
    config: StackConfig
    base: str
    sink: Peer
    outside_key: SigningKey
    lookup: BlockingResolver

    @property
    def outside_mta(self) -> str:
        return self.base + "202"

    def address(self, service: str, index: int = 0) -> Endpoint:
        return self.config.service(service).endpoints()[index]

    def wait_for_sink(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.sink.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the sink has {len(self.sink.messages)} of {count} messages")
            time.sleep(0.05)
        return self.sink.messages


def _zones(
    base: str, world_port: int, outside_key: SigningKey
) -> tuple[dict[str, str], dict[str, str]]:
    reverse = ".".join(reversed(base.rstrip(".").split("."))) + ".in-addr.arpa."
    root = {
        ".": "\n".join(
            [
                "$ORIGIN .",
                "@ 3600 IN SOA ns.root. hostmaster.root. 1 3600 600 86400 300",
                "@ 3600 IN NS ns.root.",
                f"ns.root. 3600 IN A {base}200",
                "castle.test. 3600 IN NS ns.castle.test.",
                f"ns.castle.test. 3600 IN A {base}1",
                "outside.test. 3600 IN NS ns.outside.test.",
                f"ns.outside.test. 3600 IN A {base}201",
                f"{reverse} 3600 IN NS ns.castle.test.",
            ]
        )
        + "\n"
    }
    record = zone_line(selector_name(OUTSIDE_SELECTOR, "outside.test"), outside_key.record())
    outside = {
        "outside.test": "\n".join(
            [
                "$ORIGIN outside.test.",
                "@ 3600 IN SOA ns hostmaster 1 3600 600 86400 300",
                "@ 3600 IN NS ns",
                f"ns 3600 IN A {base}201",
                f'@ 3600 IN TXT "v=spf1 ip4:{base}202 -all"',
                '_dmarc 3600 IN TXT "v=DMARC1; p=reject"',
                f"mail 3600 IN A {base}202",
                record,
            ]
        )
        + "\n"
    }
    return root, outside


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("world")
    base = loopback_slash24(str(tmp))
    port = 53 if ROOT else 5353
    outside_key = generate("rsa")
    root_zone, outside_zone = _zones(base, port, outside_key)
    root = DnsThread(root_zone, base + "200", port)
    outside = DnsThread(outside_zone, base + "201", port)
    sink = Peer(base + "203", 2525, name="sink.bigmail.test")
    sink.start()
    directory = tmp / "castle"
    high = [] if ROOT else ["--high-ports"]
    assert (
        run(
            cli(),
            [
                "stack",
                "init",
                str(directory),
                "--domain",
                "castle.test",
                "--addresses",
                base + "0/24",
                "--postmaster",
                "admin@bigmail.test",
                "--root",
                base + "200",
                "--smarthost",
                f"{base}203:2525",
                *high,
            ],
        )
        == 0
    )
    write_record(directory / "users", "alice", ["alice@bigmail.test"], hash_password(PASSWORD))
    config = load(directory)
    log = (tmp / "stack.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "stack", "stack", "up", str(directory)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    resolver = Resolver(forwarders=[config.service("resolver").listen[0]])
    lookup = BlockingResolver(resolver)
    try:
        _wait(
            lambda: all(e["state"] == "up" for e in stack_status(config)["services"].values()),
            90,
            "every service",
        )
        yield World(directory, config, base, sink, outside_key, lookup)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
            lookup.close()
            sink.stop()
            root.close()
            outside.close()
            print((tmp / "stack.log").read_text())


def _message(sender: str, recipient: str, subject: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\n"
        f"Date: {email.utils.formatdate()}\r\nMessage-ID: <{time.time_ns()}@test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Hello from the test bed.\r\n"
    ).encode()


def _fields(data: bytes, name: str) -> list[str]:
    return [field.unfolded().strip() for field in parse(data).get_all(name)]


async def _send(
    world: World,
    service: str,
    sender: str,
    recipients: list[str],
    data: bytes,
    *,
    source: str | None = None,
    user: str | None = None,
    password: str | None = None,
    index: int = 0,
) -> None:
    endpoint = world.address(service, index)
    implicit = endpoint in world.config.service(service).listen_tls
    client = aiosmtplib.SMTP(
        hostname=endpoint.host,
        port=endpoint.port,
        source_address=(source, 0) if source else None,
        use_tls=implicit,
        start_tls=not implicit,
        tls_context=client_context(world.directory / "tls" / "ca.crt"),
        local_hostname="mail.outside.test",
        timeout=30,
    )
    async with client:
        if user is not None:
            await client.login(user, password or "")
        await client.sendmail(sender, recipients, data)


def test_mail_submitted_leaves_the_relay_signed_twice_with_one_received_per_hop(
    world: World,
) -> None:
    before = len(world.sink.messages)
    data = _message("alice@castle.test", "bob@outpost.test", "out")
    asyncio.run(
        _send(
            world,
            "submission",
            "alice@castle.test",
            ["bob@outpost.test"],
            data,
            user="alice",
            password=PASSWORD,
        )
    )
    received = world.wait_for_sink(before + 1)[before]
    assert received.recipients == ["bob@outpost.test"]
    assert received.sender == "alice@castle.test"
    assert received.data.endswith(data)
    results = dkim.verify_all(received.data, world.lookup)
    assert [r.result for r in results] == ["pass", "pass"]
    assert {r.algorithm for r in results} == {"rsa-sha256", "ed25519-sha256"}
    trace = _fields(received.data, "Received")
    assert len(trace) == 3  # submission, signer, relay
    assert "with ESMTPSA" in trace[-1]


def _from_outside(world: World, subject: str) -> tuple[bytes, Received]:
    """carol@outside.test's signed message to alice@castle.test, sent from outside.test's
    own address to our MX; returns it and what the relay delivered of it."""
    before = len(world.sink.messages)
    data = dkim.sign(
        _message("carol@outside.test", "alice@castle.test", subject),
        "outside.test",
        OUTSIDE_SELECTOR,
        world.outside_key,
    )
    sender, recipients = "carol@outside.test", ["alice@castle.test"]
    asyncio.run(_send(world, "verifier", sender, recipients, data, source=world.outside_mta))
    return data, world.wait_for_sink(before + 1)[before]


def test_mail_from_outside_reaches_the_target_stamped_and_srs_keeps_spf_passing(
    world: World,
) -> None:
    data, received = _from_outside(world, "in")
    assert received.recipients == ["alice@bigmail.test"]
    assert received.sender.startswith("SRS0=") and received.sender.endswith("@castle.test")
    assert received.data.endswith(data)
    [spf_field] = _fields(received.data, "Received-SPF")
    assert spf_field.startswith("pass")
    [results] = _fields(received.data, "Authentication-Results")
    assert re.search(r"\bspf=pass\b", results)
    assert re.search(r"\bdkim=pass\b", results)
    assert re.search(r"\bdmarc=pass\b", results)
    assert _fields(received.data, "X-Spamtacus")[0] in {"yes", "no", "unknown"}
    assert _fields(received.data, "ARC-Seal")
    # Each hop connects from its own address, named by forward-confirmed reverse DNS.
    trace = _fields(received.data, "Received")
    assert len(trace) == 3
    relay, spamfilter, verifier = trace
    assert f"(spamfilter.castle.test [{world.address('spamfilter').host}])" in relay
    assert f"(mx.castle.test [{world.address('verifier').host}])" in spamfilter
    assert f"[{world.outside_mta}]" in verifier
    # At the target, the relay's address sends for the SRS sender's domain: SPF passes.
    relay = world.address("relay").host
    result = spf.check_host(relay, received.sender, "relay.castle.test", world.lookup)
    assert result.result == "pass"


def test_a_bounce_from_the_target_comes_back_to_the_original_sender(world: World) -> None:
    _, forwarded = _from_outside(world, "will bounce")
    before = len(world.sink.messages)
    bounce = _message("mailer-daemon@bigmail.test", forwarded.sender, "Undelivered Mail")
    asyncio.run(_send(world, "verifier", "", [forwarded.sender], bounce, source=world.outside_mta))
    returned = world.wait_for_sink(before + 1)[before]
    assert returned.recipients == ["carol@outside.test"]
    assert returned.sender == "<>"  # aiosmtpd writes the null reverse-path so


def test_a_spoofed_sender_is_refused_by_dmarc(world: World) -> None:
    data = _message("carol@outside.test", "alice@castle.test", "spoofed")
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        asyncio.run(
            _send(
                world,
                "verifier",
                "carol@outside.test",
                ["alice@castle.test"],
                data,
                source=world.base + "250",
            )
        )
    assert refused.value.code == 550
    assert "5.7.1" in refused.value.message


@pytest.mark.parametrize(
    "recipient",
    [
        "alice%bigmail.test@castle.test",
        "@castle.test:alice@bigmail.test",
        "bigmail.test!alice@castle.test",
        '"alice@bigmail.test"@castle.test',
        "alice@bigmail.test@castle.test",
        "alice@[127.0.0.1]",
        "alice@bigmail.test",
    ],
)
def test_every_relay_trick_is_refused_at_rcpt(world: World, recipient: str) -> None:
    data = _message("carol@outside.test", recipient, "trick")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        asyncio.run(
            _send(
                world, "verifier", "carol@outside.test", [recipient], data, source=world.outside_mta
            )
        )
    [error] = refused.value.recipients
    assert 500 <= error.code < 600


def test_wrong_password_is_refused(world: World) -> None:
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
        asyncio.run(
            _send(
                world,
                "submission",
                "alice@castle.test",
                ["bob@outpost.test"],
                _message("alice@castle.test", "bob@outpost.test", "x"),
                user="alice",
                password="wrong",
            )
        )
    assert refused.value.code == 535
    assert "5.7.8" in refused.value.message


def test_sending_as_someone_else_is_refused(world: World) -> None:
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        asyncio.run(
            _send(
                world,
                "submission",
                "mallory@castle.test",
                ["bob@outpost.test"],
                _message("mallory@castle.test", "bob@outpost.test", "x"),
                user="alice",
                password=PASSWORD,
            )
        )
    assert "5.7.1" in refused.value.message


@pytest.mark.parametrize("service", ["signer", "spamfilter", "relay"])
def test_the_internal_hops_take_mail_from_their_upstream_only(world: World, service: str) -> None:
    endpoint = world.address(service)
    with socket.create_connection(
        (endpoint.host, endpoint.port), 10, (world.outside_mta, 0)
    ) as conn:
        conn.settimeout(10)
        assert conn.recv(512).startswith(b"220")
        conn.sendall(b"HELO client.test\r\nMAIL FROM:<carol@outside.test>\r\n")
        replies = b""
        while replies.count(b"\r\n") < 2:
            replies += conn.recv(4096)
        assert replies.split(b"\r\n")[1].startswith(b"554 5.7.1"), replies


def test_auth_is_not_offered_before_tls(world: World) -> None:
    endpoint = world.address("submission")
    with socket.create_connection((endpoint.host, endpoint.port), 10) as conn:
        conn.settimeout(10)
        assert conn.recv(512).startswith(b"220")
        conn.sendall(b"EHLO client.test\r\n")
        ehlo = _read_reply(conn)
        assert b"AUTH" not in ehlo
        conn.sendall(b"AUTH PLAIN AGFsaWNlAHdyb25n\r\n")
        reply = _read_reply(conn)
        assert reply[:1] == b"5"


def _read_reply(conn: socket.socket) -> bytes:
    data = b""
    while not re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", data):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("service", ["verifier", "signer", "spamfilter", "relay", "submission"])
@pytest.mark.parametrize("ending", [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"])
def test_no_bare_line_end_ends_the_data_of_any_service(
    world: World, service: str, ending: bytes
) -> None:
    endpoint = world.address(service)
    # The internal hops take mail from their upstream only: come from there.
    upstream = {"signer": "submission", "spamfilter": "verifier", "relay": "spamfilter"}
    source = world.address(upstream[service]).host if service in upstream else None
    with socket.create_connection(
        (endpoint.host, endpoint.port), 10, None if source is None else (source, 0)
    ) as raw:
        raw.settimeout(10)
        conn = raw
        assert conn.recv(512).startswith(b"220")
        conn.sendall(b"EHLO client.test\r\n")
        _read_reply(conn)
        sender, recipient = b"<>", b"postmaster@castle.test"
        if service == "submission":
            conn.sendall(b"STARTTLS\r\n")
            assert _read_reply(conn).startswith(b"220")
            context = client_context(world.directory / "tls" / "ca.crt")
            conn = context.wrap_socket(raw, server_hostname=endpoint.host)
            conn.sendall(b"EHLO client.test\r\n")
            _read_reply(conn)
            token = base64.b64encode(f"\0alice\0{PASSWORD}".encode())
            conn.sendall(b"AUTH PLAIN " + token + b"\r\n")
            assert _read_reply(conn).startswith(b"235")
            sender, recipient = b"<alice@castle.test>", b"bob@outpost.test"
        conn.sendall(b"MAIL FROM:" + sender + b"\r\nRCPT TO:<" + recipient + b">\r\nDATA\r\n")
        replies = b""
        while replies.count(b"\r\n") < 3:
            replies += conn.recv(4096)
        assert b"354" in replies, replies
        smuggled = b"MAIL FROM:<x@outside.test>\r\nRCPT TO:<postmaster@castle.test>\r\n"
        conn.sendall(b"Subject: x\r\n\r\nbody" + ending + smuggled + b"DATA\r\n")
        reply = _read_reply(conn)
        # Refused at once (bare line ends are refused, as Postfix's
        # smtpd_forbid_bare_newline does) and the connection closed: the smuggled commands
        # are never read as commands.
        assert reply.startswith(b"521"), reply
        assert conn.recv(4096) == b""
