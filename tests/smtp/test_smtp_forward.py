"""The queue runner against real servers: delivered, deferred and retried, bounced with a DSN
(never to the null sender), expired; and a hop whose downstream is down keeps its mail until
the downstream is back."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from hop_testbed import HOST, InProcessHop, hop, srv, stored, wait_until
from smtp_peers import Peer, free_port

from stack.mime import decode
from stack.mime.lossless import Message
from stack.smtp.forward import RetryPolicy
from stack.smtp.server import InboundConfig, Reroute, Transaction, stamp_received
from stack.smtp.spool import State


class Clock:
    """A clock the test moves forward: expiry is days, a test is seconds."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def submit(port: int, sender: str, recipients: list[str], data: bytes) -> str:
    """One transaction over a plain socket; returns the queue id of the 250."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        file = sock.makefile("rb")

        def reply() -> bytes:
            while True:
                line = file.readline()
                if line[3:4] == b" ":
                    return line

        reply()
        commands = [b"EHLO client.test", b"MAIL FROM:<%s>" % sender.encode()]
        commands += [b"RCPT TO:<%s>" % r.encode() for r in recipients] + [b"DATA"]
        for command in commands:
            sock.sendall(command + b"\r\n")
            assert reply()[:1] in b"23", command
        sock.sendall(data + b".\r\n")
        answer = reply()
        assert answer.startswith(b"250 2.0.0 OK queued as "), answer
        sock.sendall(b"QUIT\r\n")
        return answer.split()[-1].decode()


MESSAGE = b"From: polonius@castle.test\r\nSubject: forward me\r\n\r\nbody\r\n"


def test_5xx_bounces_with_a_dsn_to_the_sender(tmp_path: Path, peer: Peer) -> None:
    peer.recorder.refuse["ghost@castle.test"] = "550 5.1.1 no such user here"
    running = InProcessHop(tmp_path, peer.port)
    try:
        queue_id = submit(
            running.port,
            "polonius@castle.test",
            ["ophelia@castle.test", "ghost@castle.test"],
            MESSAGE,
        )
        wait_until(lambda: len(peer.messages) == 2, 20, "the message and its DSN")
        states = running.spool.states(queue_id)
    finally:
        running.close()
    assert states == {"ophelia@castle.test": State.DELIVERED, "ghost@castle.test": State.BOUNCED}
    delivered, notice = sorted(peer.messages, key=lambda m: m.sender != "polonius@castle.test")
    assert delivered.recipients == ["ophelia@castle.test"]
    assert notice.sender == "<>" and notice.recipients == ["polonius@castle.test"]
    report = decode(notice.data)
    assert report.content_type.mime_type == "multipart/report"
    assert b"ghost@castle.test" in notice.data and b"5.1.1" in notice.data


def test_the_null_sender_is_never_bounced(tmp_path: Path, peer: Peer) -> None:
    peer.recorder.refuse["ghost@castle.test"] = "550 5.1.1 no such user here"
    running = InProcessHop(tmp_path, peer.port)
    try:
        queue_id = submit(running.port, "", ["ghost@castle.test"], MESSAGE)
        wait_until(
            lambda: running.spool.states(queue_id) == {"ghost@castle.test": State.BOUNCED},
            20,
            "the bounce to be recorded",
        )
        counts = running.spool.counts()
    finally:
        running.close()
    assert peer.messages == []
    assert counts == {State.BOUNCED: 1}, "no DSN was queued"


def test_4xx_defers_and_the_retry_delivers(tmp_path: Path, peer: Peer) -> None:
    peer.recorder.data_reply = "451 4.3.0 not now"
    running = InProcessHop(tmp_path, peer.port, policy=RetryPolicy(first=0.3, factor=1.0))
    try:
        queue_id = submit(running.port, "polonius@castle.test", ["ophelia@castle.test"], MESSAGE)
        wait_until(
            lambda: running.spool.states(queue_id) == {"ophelia@castle.test": State.DEFERRED},
            20,
            "the deferral",
        )
        peer.recorder.data_reply = None
        wait_until(lambda: len(peer.messages) == 1, 20, "the retry to deliver")
        wait_until(
            lambda: running.spool.states(queue_id) == {"ophelia@castle.test": State.DELIVERED},
            10,
            "the delivery to be recorded",
        )
    finally:
        running.close()


def test_undelivered_past_expiry_bounces_with_an_expiry_dsn(tmp_path: Path) -> None:
    clock = Clock()
    closed = free_port()  # nobody listens: every attempt fails without an answer
    running = InProcessHop(
        tmp_path, closed, policy=RetryPolicy(first=0.1, factor=1.0, expire=3600.0), clock=clock
    )
    try:
        queue_id = submit(running.port, "polonius@castle.test", ["ophelia@castle.test"], MESSAGE)
        wait_until(
            lambda: running.spool.states(queue_id) == {"ophelia@castle.test": State.DEFERRED},
            20,
            "a deferral",
        )
        clock.now += 3600.0
        wait_until(
            lambda: running.spool.states(queue_id) == {"ophelia@castle.test": State.BOUNCED},
            20,
            "expiry",
        )
        [notice] = [m for m in running.spool.due(clock.now + 1) if m.queue_id != queue_id]
        report = running.spool.data(notice.queue_id)
    finally:
        running.close()
    assert notice.sender == "" and notice.recipients == ("polonius@castle.test",)
    assert report is not None
    assert b"multipart/report" in report and b"ophelia@castle.test" in report


def test_retry_waits_double_up_to_the_ceiling() -> None:
    policy = RetryPolicy(first=60.0, factor=2.0, ceiling=600.0)
    assert [policy.retry_at(n, 0.0) for n in range(6)] == [60, 120, 240, 480, 600, 600]
    assert not policy.expired(0.0, policy.expire - 1) and policy.expired(0.0, policy.expire)


def test_mail_queues_while_downstream_is_down_and_flows_when_it_returns(tmp_path: Path) -> None:
    sink = srv(tmp_path / "sink", tmp_path / "srv.log")
    relay = hop(tmp_path / "spool", sink.port, tmp_path / "hop.log")
    try:
        relay.start()
        ids = [
            submit(relay.port, "polonius@castle.test", ["ophelia@castle.test"], MESSAGE)
            for _ in range(5)
        ]
        wait_until(lambda: "deferred" in relay.log.read_text(), 20, "a deferral in the log")
        assert stored(tmp_path / "sink") == []
        sink.start()
        wait_until(lambda: len(stored(tmp_path / "sink")) == 5, 30, "the queue to flow")
        log = relay.log.read_text()
        assert all(f"{queue_id}: to=<ophelia@castle.test>" in log for queue_id in ids)
        assert relay.terminate() == 0
    finally:
        relay.close()
        sink.close()


def test_a_rerouted_envelope_is_what_the_first_attempt_delivers(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    # The relay's transform gives new recipients and a new sender (alias map, SRS): the
    # spool stores them, and the attempt started at once must use them too (it once used
    # the sender as received).
    async def reroute(message: Message, transaction: Transaction) -> Reroute:
        return Reroute(message, "SRS0=x=AA=outside.test=carol@castle.test", ("o@bigmail.test",))

    config = InboundConfig(hostname="hop.castle.test", transforms=(stamp_received, reroute))
    running = InProcessHop(tmp_path, peer.port, config=config)
    try:
        with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
            queue_id = submit(running.port, "carol@outside.test", ["ophelia@castle.test"], MESSAGE)
        wait_until(lambda: len(peer.messages) == 1, 20, "the message")
        states = running.spool.states(queue_id)
    finally:
        running.close()
    # The log says what was received and what was queued in its place.
    [line] = [r.getMessage() for r in caplog.records if "status=queued" in r.getMessage()]
    assert "from=<carol@outside.test>, to=<ophelia@castle.test>" in line
    queued = "queued as from=<SRS0=x=AA=outside.test=carol@castle.test>, to=<o@bigmail.test>"
    assert queued in line
    [delivered] = peer.messages
    assert (delivered.sender, delivered.recipients) == (
        "SRS0=x=AA=outside.test=carol@castle.test",
        ["o@bigmail.test"],
    )
    assert states == {"o@bigmail.test": State.DELIVERED}


def test_a_hop_with_clients_takes_mail_from_those_addresses_only(
    tmp_path: Path, peer: Peer
) -> None:
    # The signer signs whatever reaches it: it takes mail from submission's address only.
    config = InboundConfig(hostname="hop.castle.test", clients=frozenset({"127.0.0.2"}))
    running = InProcessHop(tmp_path, peer.port, config=config)

    def mail_from(source: str) -> bytes:
        with socket.create_connection((HOST, running.port), 10, (source, 0)) as sock:
            file = sock.makefile("rb")
            file.readline()
            sock.sendall(b"HELO client.test\r\nMAIL FROM:<a@castle.test>\r\n")
            file.readline()
            return file.readline()

    try:
        assert mail_from("127.0.0.1").startswith(b"554 5.7.1 Access denied")
        assert mail_from("127.0.0.2").startswith(b"250 2.1.0")
    finally:
        running.close()
