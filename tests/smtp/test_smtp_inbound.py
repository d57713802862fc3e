"""The hop's inbound session over a real socket: what EHLO offers, enhanced codes on every
reply, limits enforced before the data is read, the Received field, and resends known."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult
from hop_testbed import HOST, InProcessHop, wait_until
from smtp_peers import DnsThread, Peer, free_port

from stack.dns.resolver import Resolver
from stack.errors import ListenError
from stack.mime import Message, parse
from stack.mime.safe import safe_text
from stack.smtp.forward import RetryPolicy
from stack.smtp.policy import LOG_LIMIT, Limits, Reply
from stack.smtp.server import (
    Inbound,
    InboundConfig,
    InboundServer,
    Reroute,
    StrictSMTP,
    Transaction,
    confirmed_reverse_name,
    stamp_received,
)
from stack.smtp.spool import DATABASE, AsyncSpool, Spool, State


class Session:
    """A client that writes lines as given and reads whole replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> list[bytes]:
        lines: list[bytes] = []
        while True:
            line = self.file.readline()
            assert line.endswith(b"\r\n"), [*lines, line]
            lines.append(line[:-2])
            if line[3:4] == b" ":
                return lines

    def send(self, data: bytes) -> list[bytes]:
        self.sock.sendall(data)
        return self.reply()

    def start_data(self) -> None:
        """EHLO, one sender and one recipient, and DATA: the session is in the message's text."""
        self.send(b"EHLO client.test\r\n")
        assert self.send(b"MAIL FROM:<a@client.test>\r\n")[0].startswith(b"250 ")
        assert self.send(b"RCPT TO:<o@castle.test>\r\n")[0].startswith(b"250 ")
        assert self.send(b"DATA\r\n")[0].startswith(b"354 ")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def hop(tmp_path: Path, peer: Peer) -> Iterator[InProcessHop]:
    config = InboundConfig(hostname="hop.castle.test", limits=Limits(recipients=3, size=10_000))
    running = InProcessHop(tmp_path, peer.port, config=config)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def held(tmp_path: Path) -> Iterator[InProcessHop]:
    """A hop whose downstream is down: what it queues stays in its spool, to be read there
    (forwarded, a message's bytes leave the spool as soon as it is delivered)."""
    config = InboundConfig(hostname="hop.castle.test", limits=Limits(recipients=3, size=10_000))
    running = InProcessHop(tmp_path, free_port(), config=config)
    try:
        yield running
    finally:
        running.close()


def test_ehlo_offers_size_8bitmime_smtputf8_pipelining_and_enhanced_codes(
    hop: InProcessHop,
) -> None:
    session = Session(hop.port)
    assert session.greeting[0].startswith(b"220 hop.castle.test ")
    ehlo = session.send(b"EHLO client.test\r\n")
    keywords = {line[4:].split(b" ")[0] for line in ehlo[1:]}
    assert {b"SIZE", b"8BITMIME", b"SMTPUTF8", b"PIPELINING", b"ENHANCEDSTATUSCODES"} <= keywords
    assert b"250-SIZE 10000" in ehlo
    # RFC 2034: the replies to EHLO carry no enhanced codes, every later one does.
    assert not [line for line in ehlo if re.match(rb"\d{3}[ -]\d\.\d{1,3}\.\d", line)]
    assert session.send(b"NOOP\r\n") == [b"250 2.0.0 OK"]
    assert session.send(b"DATA\r\n")[0].startswith(b"503 5.5.1")
    assert session.send(b"FROB\r\n")[0].startswith(b"500 5.5.2")
    session.close()


def test_repeated_ehlo_does_not_grow_the_mail_command_limit(hop: InProcessHop) -> None:
    session = Session(hop.port)
    for _ in range(30):
        session.send(b"EHLO client.test\r\n")
    long_sender = b"MAIL FROM:<" + b"a" * 600 + b"@client.test>\r\n"
    assert session.send(long_sender)[0].startswith(b"500 5.5.2")
    session.close()


def test_size_over_the_limit_is_refused_at_mail_before_any_data(hop: InProcessHop) -> None:
    session = Session(hop.port)
    session.send(b"EHLO client.test\r\n")
    assert session.send(b"MAIL FROM:<a@client.test> SIZE=10001\r\n")[0].startswith(b"552 5.3.4")
    session.close()


def test_recipients_over_the_limit_get_452(hop: InProcessHop) -> None:
    session = Session(hop.port)
    session.send(b"EHLO client.test\r\nMAIL FROM:<a@client.test>\r\n")
    session.reply()
    for n in range(3):
        assert session.send(b"RCPT TO:<r%d@castle.test>\r\n" % n) == [b"250 2.1.5 Recipient OK"]
    assert session.send(b"RCPT TO:<r3@castle.test>\r\n") == [b"452 4.5.3 Too many recipients"]
    session.close()


def test_pipelined_transaction_gets_one_reply_per_command(hop: InProcessHop, peer: Peer) -> None:
    session = Session(hop.port)
    session.send(b"EHLO client.test\r\n")
    session.sock.sendall(b"MAIL FROM:<>\r\nRCPT TO:<ophelia@castle.test>\r\nDATA\r\n")
    assert session.reply() == [b"250 2.1.0 Sender OK"]
    assert session.reply() == [b"250 2.1.5 Recipient OK"]
    assert session.reply()[0].startswith(b"354")
    session.sock.sendall(b"Subject: bounce\r\n\r\nbody\r\n.\r\nNOOP\r\n")
    assert session.reply()[0].startswith(b"250 2.0.0 OK queued as ")
    assert session.reply() == [b"250 2.0.0 OK"]
    session.close()
    wait_until(lambda: len(peer.messages) == 1, 20, "the message to be forwarded")
    assert peer.messages[0].sender == "<>"  # aiosmtpd's spelling of the null sender


def test_hop_prepends_received_and_keeps_every_other_byte(hop: InProcessHop, peer: Peer) -> None:
    original = b"Subject: raw\r\nX-Odd:  spacing\t\r\n\r\nbody \r\n\r\n"
    session = Session(hop.port)
    session.send(b"EHLO client.test\r\n")
    session.send(b"MAIL FROM:<a@client.test>\r\n")
    session.send(b"RCPT TO:<ophelia@castle.test>\r\n")
    session.send(b"DATA\r\n")
    queued = session.send(original + b".\r\n")[0]
    session.close()
    wait_until(lambda: len(peer.messages) == 1, 20, "the message to be forwarded")
    data = peer.messages[0].data
    received = parse(data).fields[0]
    assert received.name == "Received"
    assert data[len(received.raw) :] == original
    queue_id = queued.rsplit(b" ", 1)[-1].decode()
    assert f"id <{queue_id}@hop.castle.test>" in received.unfolded()
    assert "for <ophelia@castle.test>" in received.unfolded()


def test_a_resend_from_an_upstream_hop_is_accepted_once(
    hop: InProcessHop, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    upstream = (
        b"Received: from a (unknown [127.0.0.2])\r\n\tby up.castle.test via tcp with ESMTP"
        b" id <0661BF78AD8008DF654AB3CC@up.castle.test>\r\n\tfor <o@castle.test>; "
        b"Thu, 03 Dec 2026 19:00:00 +0000\r\nSubject: twice\r\n\r\nbody\r\n"
    )
    answers = []
    for _ in range(2):
        session = Session(hop.port)
        session.send(b"EHLO up.castle.test\r\n")
        session.send(b"MAIL FROM:<a@client.test>\r\n")
        session.send(b"RCPT TO:<o@castle.test>\r\n")
        session.send(b"DATA\r\n")
        with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
            answers.append(session.send(upstream + b".\r\n")[0])
        session.close()
    assert answers[0] == answers[1], "the resend gets the first copy's queue id"
    # The log says what the resend was a copy of, and which upstream id said so.
    first = answers[0].rsplit(b" ", 1)[-1].decode()
    upstream_id = "0661BF78AD8008DF654AB3CC@up.castle.test"
    resend = status_lines(caplog)[-1]
    assert resend.endswith(f", status=duplicate of {first} from {upstream_id}")
    # A different message behind the same upstream id is a different message.
    session = Session(hop.port)
    session.send(b"EHLO up.castle.test\r\n")
    session.send(b"MAIL FROM:<a@client.test>\r\n")
    session.send(b"RCPT TO:<o@castle.test>\r\n")
    session.send(b"DATA\r\n")
    other = session.send(upstream.replace(b"twice", b"other") + b".\r\n")[0]
    session.close()
    assert other != answers[0]
    wait_until(lambda: len(peer.messages) == 2, 20, "two messages to be forwarded")
    subjects = sorted(bytes(parse(m.data).fields[2].raw) for m in peer.messages)
    assert subjects == [b"Subject: other\r\n", b"Subject: twice\r\n"]
    queue_id = answers[0].rsplit(b" ", 1)[-1].decode()
    wait_until(
        lambda: hop.spool.states(queue_id) == {"o@castle.test": State.DELIVERED}, 10, "delivered"
    )


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        (b"HELO two words\r\n", b"501 5.5.4"),
        (b"EHLO two words\r\n", b"501 5.5.4 HELO/EHLO takes one domain name or address literal"),
        (b"MAIL FROM:<no-domain>\r\n", b"553 5.1.7"),
    ],
)
def test_bad_helo_and_sender_are_refused_with_enhanced_codes(
    hop: InProcessHop, command: bytes, reply: bytes
) -> None:
    session = Session(hop.port)
    if command.startswith(b"MAIL"):
        session.send(b"EHLO client.test\r\n")
    assert session.send(command)[0].startswith(reply)
    session.close()


REVERSE_ZONE = """\
$TTL 300
@   SOA ns.castle.test. hostmaster.castle.test. 1 3600 600 86400 300
@   NS  ns.castle.test.
1.0.0 PTR client.castle.test.
2.0.0 PTR liar.castle.test.
"""
FORWARD_ZONE = """\
$TTL 300
@      SOA ns hostmaster 1 3600 600 86400 300
@      NS  ns
ns     A   127.0.0.1
client A   127.0.0.1
liar   A   127.0.0.99
"""


@pytest.mark.parametrize(
    ("client", "written"),
    [("127.0.0.1", "client.castle.test [127.0.0.1]"), ("127.0.0.2", "unknown [127.0.0.2]")],
)
def test_received_names_the_client_only_by_forward_confirmed_reverse_dns(
    tmp_path: Path, peer: Peer, client: str, written: str
) -> None:
    zones = DnsThread({"127.in-addr.arpa.": REVERSE_ZONE, "castle.test.": FORWARD_ZONE})
    resolver = Resolver(forwarders=[zones.endpoint], timeout=1.0, retries=0)
    running = InProcessHop(tmp_path, peer.port, resolver=resolver)
    try:
        with socket.create_connection((HOST, running.port), source_address=(client, 0)) as s:
            file = s.makefile("rb")
            file.readline()
            s.sendall(b"HELO c\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<o@castle.test>\r\n")
            s.sendall(b"DATA\r\n")
            for _ in range(4):
                file.readline()
            s.sendall(b"Subject: rdns\r\n\r\n.\r\n")
            assert file.readline().startswith(b"250 2.0.0")
        wait_until(lambda: len(peer.messages) == 1, 20, "the message to be forwarded")
    finally:
        running.close()
        zones.close()
    assert f"from c ({written})".encode() in peer.messages[0].data


IP6_ZONE = """\
$TTL 300
@   SOA ns.castle.test. hostmaster.castle.test. 1 3600 600 86400 300
@   NS  ns.castle.test.
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR six.castle.test.
"""
SIX_ZONE = """\
$TTL 300
@   SOA ns hostmaster 1 3600 600 86400 300
@   NS  ns
ns  A   127.0.0.1
six A    127.0.0.37
six AAAA 2001:db8::25
"""


def test_a_client_over_ipv6_is_named_by_its_ptr_confirmed_with_aaaa() -> None:
    # The address is only looked up, never connected to: its PTR, then the name's AAAA
    # (an A record of the same name says nothing about an IPv6 client).
    zones = DnsThread({"8.b.d.0.1.0.0.2.ip6.arpa.": IP6_ZONE, "castle.test.": SIX_ZONE})
    resolver = Resolver(forwarders=[zones.endpoint], timeout=1.0, retries=0)
    try:
        named = asyncio.run(confirmed_reverse_name(resolver, "2001:db8::25"))
        stranger = asyncio.run(confirmed_reverse_name(resolver, "2001:db8::26"))
    finally:
        zones.close()
    assert (named, stranger) == ("six.castle.test", None)


def test_smtputf8_addresses_pass_through_and_received_says_utf8smtp(tmp_path: Path) -> None:
    peer = Peer(HOST, free_port(), name="sink.castle.test", enable_SMTPUTF8=True)
    peer.start()
    running = InProcessHop(tmp_path, peer.port)
    try:
        session = Session(running.port)
        session.send(b"EHLO client.test\r\n")
        sender = "hamlet@dänemark.test".encode()
        recipient = "ophélie@castle.test".encode()
        assert session.send(b"MAIL FROM:<" + sender + b"> SMTPUTF8 BODY=8BITMIME\r\n")[
            0
        ].startswith(b"250")
        assert session.send(b"RCPT TO:<" + recipient + b">\r\n")[0].startswith(b"250")
        session.send(b"DATA\r\n")
        body = "Subject: ünïcödé\r\n\r\nÆble\r\n".encode()
        assert session.send(body + b".\r\n")[0].startswith(b"250 2.0.0")
        session.close()
        wait_until(lambda: len(peer.messages) == 1, 20, "the message to be forwarded")
    finally:
        running.close()
        peer.stop()
    [message] = peer.messages
    assert message.sender == "hamlet@dänemark.test"
    assert message.recipients == ["ophélie@castle.test"]
    assert message.data.endswith(body)
    assert b"with UTF8SMTP id" in message.data


def test_a_transform_that_refuses_answers_its_reply_and_stores_nothing(
    tmp_path: Path, peer: Peer
) -> None:
    def no_attachments(message: Message, transaction: Transaction) -> Message | Reply:
        if message.mime_type.startswith("multipart/"):
            return Reply(550, "5.7.1", "No multipart mail here")
        message.prepend("X-Checked", "by the test's transform")
        return message

    config = InboundConfig(hostname="hop.castle.test", transforms=(stamp_received, no_attachments))
    running = InProcessHop(tmp_path, peer.port, config=config)
    try:
        answers = []
        for content_type in (b"multipart/mixed; boundary=x", b"text/plain"):
            session = Session(running.port)
            session.start_data()
            data = b"Content-Type: " + content_type + b"\r\n\r\nbody\r\n.\r\n"
            answers.append(session.send(data)[0])
            session.close()
        wait_until(lambda: len(peer.messages) == 1, 20, "the accepted message")
        counts = running.spool.counts()
    finally:
        running.close()
    assert answers[0] == b"550 5.7.1 No multipart mail here"
    assert answers[1].startswith(b"250 2.0.0 OK queued as ")
    assert counts == {State.DELIVERED: 1}
    names = [field.name for field in parse(peer.messages[0].data).fields]
    assert names == ["X-Checked", "Received", "Content-Type"]


def test_a_message_that_went_round_a_loop_is_refused_with_5_4_6(hop: InProcessHop) -> None:
    trace = b"Received: from a by b via tcp with ESMTP; Thu, 03 Dec 2026 19:00:00 +0000\r\n"
    answers = []
    for hops in (49, 50):
        session = Session(hop.port)
        session.start_data()
        answers.append(session.send(trace * hops + b"Subject: loop\r\n\r\n.\r\n")[0])
        session.close()
    assert answers[0].startswith(b"250 2.0.0")
    assert answers[1] == b"554 5.4.6 Too many hops: 50 Received fields (loop?)"


def stamped(hop: InProcessHop, helo: bytes, recipient: bytes) -> bytes:
    """The bytes the hop stored for one message from ``helo`` to ``recipient``."""
    session = Session(hop.port)
    assert session.send(b"EHLO " + helo + b"\r\n")[-1].startswith(b"250 ")
    assert session.send(b"MAIL FROM:<a@client.test>\r\n")[0].startswith(b"250 ")
    assert session.send(b"RCPT TO:<" + recipient + b">\r\n")[0].startswith(b"250 ")
    session.send(b"DATA\r\n")
    answer = session.send(b"Subject: hostile\r\n\r\nbody\r\n.\r\n")[0]
    session.close()
    assert answer.startswith(b"250 2.0.0 OK queued as "), answer
    data = hop.spool.data(answer.rsplit(b" ", 1)[-1].decode())
    assert data is not None
    return data


@pytest.mark.parametrize(
    ("helo", "recipient"),
    [
        # Within RFC 5321's 512-octet command line: 500 stray 8-bit bytes, each escaped to
        # four characters, are about 2,000 characters of HELO.
        (b"\x85" * 500, b"o@castle.test"),
        # C1 controls in UTF-8 (CSI), six characters each once escaped: 1,500 of HELO and,
        # as long as the RCPT limits allow, 720 of recipient.
        (b"\xc2\x9b" * 250, b"o@" + b"\xc2\x9b" * 120),
        # Every parenthesis quoted in the comment: 1,008 characters.
        (b"()" * 252, b"o@castle.test"),
    ],
    ids=["8-bit-helo", "c1-controls", "parentheses"],
)
def test_a_hostile_helo_or_recipient_is_stamped_in_one_valid_received_field(
    held: InProcessHop, helo: bytes, recipient: bytes
) -> None:
    data = stamped(held, helo, recipient)
    fields = [field for field in parse(data).fields if field.is_field]
    assert [field.name for field in fields] == ["Received", "Subject"]
    lines = fields[0].raw[:-2].split(b"\r\n")
    assert max(map(len, lines)) <= 998, [len(line) for line in lines]
    assert all(b"\r" not in line and b"\n" not in line and b"\0" not in line for line in lines)
    assert "by hop.castle.test via tcp with" in fields[0].unfolded()


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        (b"MAIL FROM:<a\xff@client.test>\r\n", b"553 5.1.7 Bad sender address: not UTF-8"),
        (b"RCPT TO:<o@castle.test\xfe>\r\n", b"553 5.1.3 Bad recipient address: not UTF-8"),
    ],
)
def test_an_address_that_is_not_utf8_is_refused_before_data(
    hop: InProcessHop, command: bytes, reply: bytes
) -> None:
    # The spool stores addresses as UTF-8: taken, it made every DATA fail with 451.
    session = Session(hop.port)
    session.send(b"EHLO client.test\r\n")
    if command.startswith(b"RCPT"):
        session.send(b"MAIL FROM:<a@client.test>\r\n")
    assert session.send(command)[0].startswith(reply)
    session.close()


def test_the_log_line_of_a_hostile_helo_is_one_short_line(
    held: InProcessHop, caplog: pytest.LogCaptureFixture
) -> None:
    # 500 stray 8-bit bytes escape to 2,000 characters: the log repeats at most LOG_LIMIT.
    with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
        stamped(held, b"\x85" * 500, b"o@castle.test")
    queued = [r.getMessage() for r in caplog.records if "status=queued" in r.getMessage()]
    assert len(queued) == 1
    assert "\n" not in queued[0] and "\r" not in queued[0]
    assert len(queued[0]) < 2 * LOG_LIMIT + 200, len(queued[0])


def test_helo_is_answered_with_the_hop_name_and_no_enhanced_code(hop: InProcessHop) -> None:
    # RFC 5321 4.1.1.1: 250 and the server's name; RFC 2034 3: no enhanced code on HELO.
    session = Session(hop.port)
    assert session.send(b"HELO client.test\r\n") == [b"250 hop.castle.test"]
    assert session.send(b"MAIL FROM:<a@client.test>\r\n") == [b"250 2.1.0 Sender OK"]
    session.close()


def test_data_with_an_argument_is_a_syntax_error(hop: InProcessHop) -> None:
    # RFC 5321 4.1.1.4: DATA takes no parameter.
    session = Session(hop.port)
    session.send(b"EHLO client.test\r\n")
    session.send(b"MAIL FROM:<a@client.test>\r\n")
    session.send(b"RCPT TO:<o@castle.test>\r\n")
    assert session.send(b"DATA now\r\n") == [b"501 5.5.4 Syntax: DATA"]
    assert session.send(b"DATA\r\n")[0].startswith(b"354 ")
    assert session.send(b"Subject: ok\r\n\r\n.\r\n")[0].startswith(b"250 2.0.0 OK queued as ")
    session.close()


def test_mail_may_grow_by_what_size_and_smtputf8_add_and_no_more(hop: InProcessHop) -> None:
    # RFC 5321 4.5.3.1.4: 512 octets with the CRLF; RFC 1870 adds 26 for SIZE=, RFC 6531
    # 3.4 adds 10 for SMTPUTF8: 548 octets with the CRLF must be read, 551 need not be.
    def mail_line(octets: int) -> bytes:
        fixed = len(b"MAIL FROM:<@client.test> SIZE=100 SMTPUTF8\r\n")
        return b"MAIL FROM:<" + b"a" * (octets - fixed) + b"@client.test> SIZE=100 SMTPUTF8\r\n"

    session = Session(hop.port)
    session.send(b"EHLO client.test\r\n")
    longest = mail_line(548)
    assert len(longest) == 548
    # Read, then judged: the address is over RFC 5321's 256-octet path, not the line long.
    assert session.send(longest)[0].startswith(b"553 5.1.7 Bad sender address: longer than")
    assert session.send(mail_line(551)) == [b"500 5.5.2 Command line too long"]
    session.close()


def test_a_problem_in_the_data_is_answered_after_its_end_and_the_session_goes_on(
    hop: InProcessHop,
) -> None:
    # RFC 5321 4.5.3.1.6: a text line of at most 1000 octets with its CRLF.  The reply
    # comes after <CRLF>.<CRLF> and ends the transaction; the next one starts afresh.
    session = Session(hop.port)
    session.start_data()
    answer = session.send(b"Subject: long\r\n\r\n" + b"x" * 1000 + b"\r\n.\r\n")
    assert answer[0].startswith(b"500 5.5.2 Line too long at byte ")
    assert session.send(b"RCPT TO:<o@castle.test>\r\n") == [b"503 5.5.1 Error: need MAIL command"]
    assert session.send(b"MAIL FROM:<a@client.test>\r\n") == [b"250 2.1.0 Sender OK"]
    session.close()
    assert hop.spool.counts() == {}


def test_data_read_slowly_keeps_the_session_alive_past_the_timeout(
    tmp_path: Path, peer: Peer
) -> None:
    # The idle timeout (RFC 5321 4.5.3.2.7) runs from the last bytes read, not from DATA.
    config = InboundConfig(hostname="hop.castle.test", timeout=1.5)
    running = InProcessHop(tmp_path, peer.port, config=config)
    try:
        session = Session(running.port)
        session.start_data()
        session.sock.sendall(b"Subject: slow\r\n\r\n")
        for _ in range(8):  # 2.4 s in all, each gap well inside the timeout
            time.sleep(0.3)
            session.sock.sendall(b"line\r\n")
        assert session.send(b".\r\n")[0].startswith(b"250 2.0.0 OK queued as ")
        session.close()
    finally:
        running.close()


def test_a_client_gone_during_data_leaves_nothing_and_the_hop_serves_on(
    hop: InProcessHop,
) -> None:
    session = Session(hop.port)
    session.start_data()
    session.sock.sendall(b"Subject: cut\r\n\r\nhalf a mess")
    session.close()
    other = Session(hop.port)
    assert other.send(b"EHLO client.test\r\n")[-1].startswith(b"250 ")
    other.close()
    assert hop.spool.counts() == {}


def test_stopping_finishes_the_transaction_in_progress_then_says_421(hop: InProcessHop) -> None:
    # RFC 5321 3.8: a server that must shut down answers 421; a transaction already begun is
    # let finish first (DESIGN: nothing lost), a new one is refused.  A client that has
    # said nothing yet has no transaction to wait for.
    busy, idle, silent = Session(hop.port), Session(hop.port), Session(hop.port)
    busy.send(b"EHLO client.test\r\n")
    assert busy.send(b"MAIL FROM:<a@client.test>\r\n")[0].startswith(b"250 ")
    busy.send(b"RCPT TO:<o@castle.test>\r\n")
    idle.send(b"EHLO client.test\r\n")
    stopped = asyncio.run_coroutine_threadsafe(hop.server.stop(grace=3600), hop.loop)
    wait_until(lambda: hop.server.handler.stopping, 10, "the hop to begin stopping")
    assert idle.send(b"MAIL FROM:<b@client.test>\r\n") == [
        b"421 4.3.2 Service shutting down; try again later"
    ]
    assert not stopped.done(), "the hop waits for the transaction in progress"
    busy.send(b"DATA\r\n")
    assert busy.send(b"Subject: last\r\n\r\nbody\r\n.\r\n")[0].startswith(b"250 2.0.0 OK queued")
    stopped.result(30)  # once the transaction is over, not at the end of the grace
    for session in (busy, idle, silent):
        assert session.reply() == [b"421 4.3.2 Service shutting down; try again later"]
        assert session.file.read() == b""
        session.close()


async def listen_once(spool: Path, port: int) -> int:
    """Start a hop's inbound server on ``port``, stop it; the port it bound."""
    spooled = AsyncSpool(Spool(spool))
    server = InboundServer(Inbound(InboundConfig(hostname="hop.castle.test"), spooled), HOST, port)
    try:
        return (await server.start())[1]
    finally:
        await server.stop(grace=0)
        await spooled.aclose()


def test_a_hop_stopped_with_connections_closing_binds_its_port_again(
    tmp_path: Path, peer: Peer
) -> None:
    # The hop closes first, so its side of the connection waits in TIME_WAIT: a restarted
    # hop must be able to listen on the same port at once (SO_REUSEADDR).
    first = InProcessHop(tmp_path / "first", peer.port)
    session = Session(first.port)
    session.send(b"EHLO client.test\r\n")
    first.close()
    assert session.reply() == [b"421 4.3.2 Service shutting down; try again later"]
    session.close()
    assert asyncio.run(listen_once(tmp_path / "again", first.port)) == first.port


def test_a_port_in_use_is_a_listen_error_naming_it(tmp_path: Path) -> None:
    with socket.create_server((HOST, 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ListenError, match=rf"^cannot listen on {HOST}:{port}: address already"):
            asyncio.run(listen_once(tmp_path, port))


def stamped_received(hop: InProcessHop, greeting: bytes, *before_mail: bytes) -> str:
    """The Received field the hop stamped on one message, unfolded, after ``greeting``
    (EHLO or HELO) and the commands ``before_mail``."""
    session = Session(hop.port)
    assert session.send(greeting + b"\r\n")[-1].startswith(b"250 ")
    for command in before_mail:
        assert session.send(command + b"\r\n")[0][:1] == b"2", command
    session.send(b"MAIL FROM:<a@client.test>\r\n")
    session.send(b"RCPT TO:<o@castle.test>\r\n")
    session.send(b"DATA\r\n")
    answer = session.send(b"Subject: trace\r\n\r\nbody\r\n.\r\n")[0]
    session.close()
    data = hop.spool.data(answer.rsplit(b" ", 1)[-1].decode())
    assert data is not None, answer
    received = parse(data).get("Received")
    assert received is not None
    return received.unfolded()


def test_received_names_the_protocol_helo_or_ehlo_and_the_time_in_utc(held: InProcessHop) -> None:
    # RFC 5321 4.4 and RFC 3848: "with SMTP" after HELO, "with ESMTP" after EHLO; the date
    # is RFC 5322's, here always in UTC (+0000: "-0000" would say the zone is unknown).
    helo, ehlo = stamped_received(held, b"HELO client.test"), stamped_received(held, b"EHLO c.test")
    assert " with SMTP id <" in helo
    assert " with ESMTP id <" in ehlo
    for received in (helo, ehlo):
        assert re.search(r"; \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$", received), (
            received
        )


def test_received_says_esmtpa_after_a_login(tmp_path: Path, peer: Peer) -> None:
    # RFC 3848: ESMTPA, mail from a client that authenticated (AUTH, RFC 4954).
    def anyone(*_: object) -> AuthResult:
        return AuthResult(success=True)

    options = {"authenticator": anyone, "auth_require_tls": False}
    config = InboundConfig(hostname="hop.castle.test", session_options=options)
    running = InProcessHop(tmp_path, free_port(), config=config)  # kept in the spool
    try:
        login = b"AUTH PLAIN " + base64.b64encode(b"\0ophelia\0rosemary")
        received = stamped_received(running, b"EHLO client.test", login)
    finally:
        running.close()
    assert " with ESMTPA id <" in received


def test_a_message_refused_for_its_hops_is_logged_with_the_reply(
    hop: InProcessHop, caplog: pytest.LogCaptureFixture
) -> None:
    trace = b"Received: from a by b via tcp with ESMTP; Thu, 03 Dec 2026 19:00:00 +0000\r\n"
    session = Session(hop.port)
    session.start_data()
    with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
        session.send(trace * 50 + b"Subject: loop\r\n\r\n.\r\n")
    session.close()
    [line] = status_lines(caplog)
    assert line.endswith(", status=rejected (554 5.4.6 Too many hops: 50 Received fields (loop?))")


def status_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The inbound side's lines (the queue runner's say ``to=``, ``relay=`` and their own
    ``status=``)."""
    return [r.getMessage() for r in caplog.records if ": client=" in r.getMessage()]


def test_the_queued_log_line_names_client_helo_envelope_and_size(
    held: InProcessHop, caplog: pytest.LogCaptureFixture
) -> None:
    # Postfix's shape, one line per message: what an operator greps for.
    with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
        data = stamped(held, b"client.test", b"o@castle.test")
    [line] = status_lines(caplog)
    queue_id = line.split(":", 1)[0]
    assert line == (
        f"{queue_id}: client=unknown[127.0.0.1], helo=client.test, from=<a@client.test>,"
        f" to=<o@castle.test>, size={len(data)}, status=queued"
    )


def test_a_rerouted_envelope_is_queued_and_logged_beside_the_one_received(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    # The relay's SRS sender and alias targets: what is queued is the new envelope, and the
    # log names both, each address cut to LOG_LIMIT as every client-chosen value is.
    sender, far = "srs0=" + "s" * 300 + "@castle.test", "p" * 300 + "@elsewhere.test"

    def reroute(message: Message, transaction: Transaction) -> Reroute:
        return Reroute(message, sender, ("q@elsewhere.test", far))

    config = InboundConfig(hostname="hop.castle.test", transforms=(stamp_received, reroute))
    running = InProcessHop(tmp_path, free_port(), config=config)
    try:
        with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
            data = stamped(running, b"client.test", b"o@castle.test")
        [line] = status_lines(caplog)
        queue_id = line.split(":", 1)[0]
        recipients = set(running.spool.states(queue_id))
    finally:
        running.close()
    assert recipients == {"q@elsewhere.test", far}
    assert line == (
        f"{queue_id}: client=unknown[127.0.0.1], helo=client.test, from=<a@client.test>,"
        f" to=<o@castle.test>, size={len(data)},"
        f" queued as from=<{safe_text(sender, limit=LOG_LIMIT)}>,"
        f" to=<q@elsewhere.test>,<{safe_text(far, limit=LOG_LIMIT)}>, status=queued"
    )
    assert len(safe_text(far, limit=LOG_LIMIT)) < len(far)


def test_a_transform_that_leaves_no_recipient_is_refused_not_queued(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    def nobody(message: Message, transaction: Transaction) -> Reroute:
        return Reroute(message, transaction.sender, ())

    config = InboundConfig(hostname="hop.castle.test", transforms=(stamp_received, nobody))
    running = InProcessHop(tmp_path, peer.port, config=config)
    try:
        session = Session(running.port)
        session.start_data()
        with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
            answer = session.send(b"Subject: gone\r\n\r\n.\r\n")
        session.close()
        counts = running.spool.counts()
    finally:
        running.close()
    assert answer == [b"554 5.5.1 No valid recipients"]
    assert counts == {}
    [line] = status_lines(caplog)
    assert line.endswith(
        ", helo=client.test, from=<a@client.test>, to=<o@castle.test>,"
        " status=rejected (554 5.5.1 No valid recipients)"
    )


def test_a_spool_that_cannot_store_is_answered_451_and_logged(
    hop: InProcessHop, caplog: pytest.LogCaptureFixture
) -> None:
    # DESIGN: 250 only once the spool has the message; a spool that cannot take it (here
    # another process holds its database's write lock past the busy timeout) says "later".
    session = Session(hop.port)
    session.start_data()
    blocker = sqlite3.connect(hop.spool.directory / DATABASE, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
            answer = session.send(b"Subject: nowhere\r\n\r\n.\r\n")
    finally:
        blocker.close()
    session.close()
    assert answer == [b"451 4.3.0 Temporary failure writing the queue; try again later"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    [error] = [e for e in errors if "cannot store" in e]
    queue_id = error.split(":", 1)[0]
    assert re.fullmatch(r"[0-9A-F]{24}", queue_id), error
    assert error == f"{queue_id}: cannot store the message: database is locked"
    assert hop.spool.counts() == {}


def test_a_new_message_whose_first_attempt_fails_is_retried_after_the_first_wait(
    tmp_path: Path,
) -> None:
    # RetryPolicy: the wait after the first failed attempt is ``first``; the queue runner
    # is handed the new message as never tried.
    now = 1_900_000_000.0
    running = InProcessHop(
        tmp_path, free_port(), policy=RetryPolicy(first=60.0, factor=2.0), clock=lambda: now
    )
    try:
        stamped(running, b"client.test", b"o@castle.test")
        wait_until(lambda: running.spool.next_attempt() != now, 20, "the first attempt")
        assert running.spool.next_attempt() == now + 60.0
    finally:
        running.close()


def test_an_internal_hop_refuses_and_logs_a_client_that_is_not_its_upstream(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    config = InboundConfig(hostname="hop.castle.test", clients=frozenset({"127.0.0.2"}))
    running = InProcessHop(tmp_path, peer.port, config=config)
    try:
        session = Session(running.port)
        session.send(b"EHLO client.test\r\n")
        with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
            answer = session.send(b"MAIL FROM:<a@client.test>\r\n")
        session.close()
    finally:
        running.close()
    assert answer[0].startswith(b"554 5.7.1 ")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["refused mail from 127.0.0.1: not an upstream of this hop"]


def test_commands_pipelined_after_the_data_are_read_in_order_past_a_read_chunk(
    hop: InProcessHop,
) -> None:
    # RFC 2920: what follows <CRLF>.<CRLF> in the same write is the client's next commands.
    # Here a second transaction and more commands than one read of its data takes (64 KiB):
    # while the first message is stored they all reach the stream's buffer, so that some
    # are still there, behind the ones read with the data, when the second one's end is found.
    session = Session(hop.port)
    session.start_data()
    noops = 12_000
    session.sock.sendall(
        b"Subject: first\r\n\r\nbody\r\n.\r\n"
        b"MAIL FROM:<a@client.test>\r\nRCPT TO:<o@castle.test>\r\nDATA\r\n"
        b"Subject: second\r\n\r\nbody\r\n.\r\n" + b"NOOP\r\n" * noops + b"QUIT\r\n"
    )
    assert session.reply()[0].startswith(b"250 2.0.0 OK queued as ")
    assert session.reply() == [b"250 2.1.0 Sender OK"]
    assert session.reply() == [b"250 2.1.5 Recipient OK"]
    assert session.reply()[0].startswith(b"354 ")
    assert session.reply()[0].startswith(b"250 2.0.0 OK queued as ")
    replies = [session.reply() for _ in range(noops + 1)]
    session.close()
    assert replies[:-1] == [[b"250 2.0.0 OK"]] * noops
    assert replies[-1][0].startswith(b"221 ")


def test_replies_before_ehlo_carry_enhanced_codes_too(hop: InProcessHop) -> None:
    # RFC 2034 3: every reply but the greeting and the replies to HELO and EHLO.
    session = Session(hop.port)
    assert session.send(b"NOOP\r\n") == [b"250 2.0.0 OK"]
    assert session.send(b"MAIL FROM:<a@client.test>\r\n")[0].startswith(b"503 5.5.1 ")
    session.close()


def test_a_session_class_names_its_commands_for_aiosmtpd(tmp_path: Path) -> None:
    # aiosmtpd finds a session's smtp_* and auth_* methods through dir(); StrictSMTP lists
    # them once per class, so a subclass's own commands are found as well as the base's.
    class Chatty(StrictSMTP):
        async def smtp_XYZZY(self, arg: str) -> None:
            await self.push("250 nothing happens")

    async def names() -> list[str]:
        spooled = AsyncSpool(Spool(tmp_path))
        try:
            return dir(Chatty(Inbound(InboundConfig(hostname="hop.castle.test"), spooled)))
        finally:
            await spooled.aclose()

    listed = set(asyncio.run(names()))
    assert {"smtp_XYZZY", "smtp_DATA", "smtp_EHLO", "smtp_MAIL", "auth_PLAIN"} <= listed
    assert all(name.startswith(("smtp_", "auth_")) for name in listed)


def test_a_hop_listens_on_its_own_address_only(tmp_path: Path) -> None:
    # DESIGN: every host of the simulated internet has its own loopback address, each MX on
    # its own port 25: a hop bound to one must leave the others' free.
    async def neighbours() -> tuple[bool, bool]:
        spooled = AsyncSpool(Spool(tmp_path))
        inbound = Inbound(InboundConfig(hostname="hop.castle.test"), spooled)
        server = InboundServer(inbound, "127.0.0.2", free_port("127.0.0.2"))
        try:
            _, port = await server.start()
            reached = []
            for host in ("127.0.0.2", "127.0.0.3"):
                try:
                    _, writer = await asyncio.open_connection(host, port)
                except OSError:
                    reached.append(False)
                else:
                    writer.close()
                    reached.append(True)
            return reached[0], reached[1]
        finally:
            await server.stop(grace=0)
            await spooled.aclose()

    assert asyncio.run(neighbours()) == (True, False)


def test_an_idle_client_is_let_go_after_the_configured_timeout(tmp_path: Path, peer: Peer) -> None:
    # RFC 5321 4.5.3.2.7: the server waits for the next command only so long.
    config = InboundConfig(hostname="hop.castle.test", timeout=0.5)
    running = InProcessHop(tmp_path, peer.port, config=config)
    try:
        session = Session(running.port)
        session.send(b"EHLO client.test\r\n")
        assert session.file.read() == b""  # closed by the hop well within the socket's 10 s
        session.close()
    finally:
        running.close()


def test_the_log_line_cuts_each_long_address_the_client_chose(
    held: InProcessHop, caplog: pytest.LogCaptureFixture
) -> None:
    # Within RFC 5321's limits (a 64-octet local part, a 256-octet path) an address is long
    # enough to need cutting to LOG_LIMIT; each is cut on its own.
    sender = "s" * 64 + "@" + "d" * 180 + ".test"
    recipients = ["r" * 64 + "@" + "c" * 180 + ".test", "o@castle.test"]
    session = Session(held.port)
    session.send(b"EHLO client.test\r\n")
    assert session.send(f"MAIL FROM:<{sender}>\r\n".encode())[0].startswith(b"250 ")
    for recipient in recipients:
        assert session.send(f"RCPT TO:<{recipient}>\r\n".encode())[0].startswith(b"250 ")
    session.send(b"DATA\r\n")
    with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
        answer = session.send(b"Subject: long\r\n\r\n.\r\n")[0]
    session.close()
    queue_id = answer.rsplit(b" ", 1)[-1].decode()
    data = held.spool.data(queue_id)
    assert data is not None
    [line] = status_lines(caplog)
    cut = [safe_text(address, limit=LOG_LIMIT) for address in (sender, *recipients)]
    assert len(cut[0]) < len(sender)
    assert line == (
        f"{queue_id}: client=unknown[127.0.0.1], helo=client.test, from=<{cut[0]}>,"
        f" to=<{cut[1]}>,<{cut[2]}>, size={len(data)}, status=queued"
    )


def test_a_long_confirmed_client_name_is_cut_in_the_log_line_too(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    # The PTR name is the client's choice as much as its HELO (its own reverse zone).
    labels = ".".join(c * 50 for c in "wxyz")
    reverse = REVERSE_ZONE + f"3.0.0 PTR {labels}.castle.test.\n"
    forward = FORWARD_ZONE + f"{labels} A 127.0.0.3\n"
    zones = DnsThread({"127.in-addr.arpa.": reverse, "castle.test.": forward})
    resolver = Resolver(forwarders=[zones.endpoint], timeout=1.0, retries=0)
    running = InProcessHop(tmp_path, peer.port, resolver=resolver)
    try:
        with socket.create_connection((HOST, running.port), source_address=("127.0.0.3", 0)) as s:
            file = s.makefile("rb")
            file.readline()
            s.sendall(b"HELO c\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<o@castle.test>\r\n")
            s.sendall(b"DATA\r\n")
            for _ in range(4):
                file.readline()
            with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
                s.sendall(b"Subject: rdns\r\n\r\n.\r\n")
                assert file.readline().startswith(b"250 2.0.0")
    finally:
        running.close()
        zones.close()
    [line] = status_lines(caplog)
    name = safe_text(f"{labels}.castle.test", limit=LOG_LIMIT)
    assert len(name) < len(labels)
    assert f": client={name}[127.0.0.3], helo=c, " in line, line
