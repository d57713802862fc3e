"""The queue runner against real servers: delivered, deferred and retried, bounced with a DSN
(never to the null sender), expired; and a hop whose downstream is down keeps its mail until
the downstream is back."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from hop_testbed import HOST, InProcessHop, hop, srv, stored, wait_until
from smtp_peers import Peer, free_port

from stack.mime import decode
from stack.mime.lossless import Message
from stack.mime.model import Data, Parts
from stack.smtp.client import Outbound
from stack.smtp.forward import QueueRunner, RetryPolicy
from stack.smtp.server import InboundConfig, Reroute, Transaction, stamp_received
from stack.smtp.spool import AsyncSpool, Incoming, Queued, Spool, State, new_queue_id


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


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time five hours behind UTC (POSIX TZ, no zone database needed)."""
    monkeypatch.setenv("TZ", "EST5")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


def report_blocks(data: bytes) -> list[dict[str, str]]:
    """The blocks of a DSN's message/delivery-status part: per message, then per recipient."""
    mail = decode(data, strict=True)
    assert isinstance(mail.body, Parts)
    status = mail.body.parts[1].body
    assert isinstance(status, Data)
    blocks = status.data.decode("ascii").strip().split("\r\n\r\n")
    return [dict(line.split(": ", 1) for line in block.split("\r\n")) for block in blocks]


def report_fields(data: bytes) -> dict[str, str]:
    """The per-message fields of a DSN's message/delivery-status part (its first block)."""
    return report_blocks(data)[0]


def test_the_dsn_dates_the_arrival_at_its_instant_whatever_the_local_zone(
    tmp_path: Path, peer: Peer, far_from_utc: None
) -> None:
    # RFC 3464 2.2.5: Arrival-Date is when the message arrived; the spool keeps it as a
    # POSIX time, which names one instant, whatever zone the machine's clock shows.
    clock = Clock()
    peer.recorder.refuse["ghost@castle.test"] = "550 5.1.1 no such user here"
    running = InProcessHop(tmp_path, peer.port, clock=clock)
    try:
        submit(running.port, "polonius@castle.test", ["ghost@castle.test"], MESSAGE)
        wait_until(lambda: len(peer.messages) == 1, 20, "the DSN")
    finally:
        running.close()
    [notice] = peer.messages
    arrival = parsedate_to_datetime(report_fields(notice.data)["Arrival-Date"])
    assert arrival.timestamp() == clock.now


def test_a_bounce_sends_one_dsn_recorded_under_its_own_queue_id(tmp_path: Path, peer: Peer) -> None:
    peer.recorder.refuse["ghost@castle.test"] = "550 5.1.1 no such user here"
    running = InProcessHop(tmp_path, peer.port)
    try:
        queue_id = submit(running.port, "polonius@castle.test", ["ghost@castle.test"], MESSAGE)
        wait_until(
            lambda: running.spool.counts() == {State.BOUNCED: 1, State.DELIVERED: 1},
            20,
            "the bounce and the DSN's delivery to be recorded",
        )
        [notice] = peer.messages
        assert running.spool.states(queue_id) == {"ghost@castle.test": State.BOUNCED}
        # The DSN names its own queue id in its Received and its report: it is that id
        # the spool recorded as delivered, so no scan sends the DSN a second time.
        assert report_fields(notice.data)["Reporting-MTA"] == "dns; hop.castle.test"
    finally:
        running.close()


def test_a_deferred_dsn_waits_the_first_backoff_like_any_new_message(
    tmp_path: Path, peer: Peer
) -> None:
    clock = Clock()
    peer.recorder.refuse["ghost@castle.test"] = "550 5.1.1 no such user here"
    peer.recorder.refuse["polonius@castle.test"] = "451 4.2.0 mailbox busy"
    running = InProcessHop(tmp_path, peer.port, policy=RetryPolicy(first=60.0), clock=clock)
    try:
        submit(running.port, "polonius@castle.test", ["ghost@castle.test"], MESSAGE)
        wait_until(
            lambda: running.spool.counts() == {State.BOUNCED: 1, State.DEFERRED: 1},
            20,
            "the DSN's first attempt to be deferred",
        )
        next_attempt = running.spool.next_attempt()
    finally:
        running.close()
    assert next_attempt == clock.now + 60.0


class QueueOnly:
    """The spool, the outbound client and the queue runner on the test's own event loop, with
    no inbound server: the test hands messages over as the inbound handler does.  Its scan
    interval is an hour, so that what happens sooner is the runner's doing, not a scan's."""

    def __init__(
        self,
        directory: Path,
        port: int,
        policy: RetryPolicy,
        concurrency: int = 50,
        scan_interval: float = 3600.0,
    ) -> None:
        self.spool = AsyncSpool(Spool(directory))
        self.outbound = Outbound(helo="hop.castle.test", smarthost=(HOST, port), timeout=10)
        self.runner = QueueRunner(
            self.spool,
            self.outbound,
            reporting_mta="hop.castle.test",
            policy=policy,
            concurrency=concurrency,
            scan_interval=scan_interval,
        )

    async def __aenter__(self) -> QueueOnly:
        self.running = asyncio.create_task(self.runner.run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.runner.stop(grace=2)
        self.running.cancel()
        await self.outbound.aclose()
        await self.spool.aclose()

    async def hand_over(self, sender: str, recipients: tuple[str, ...], data: bytes) -> str:
        """Store a message and start on it, as the inbound handler does; its queue id."""
        now = time.time()
        stored = await self.spool.store(Incoming(sender, recipients, data, new_queue_id(now), now))
        self.runner.enqueue(Queued(stored.queue_id, sender, recipients, data, now, 0))
        return stored.queue_id


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_deferral_due_before_the_next_scan_brings_the_scan_forward(
    tmp_path: Path, peer: Peer
) -> None:
    # A deferral due sooner than the next scan must not wait for it (here a 0.2 s retry
    # against a scan an hour away).
    peer.recorder.data_reply = "451 4.3.0 not now"

    async def scenario() -> None:
        async with QueueOnly(tmp_path, peer.port, RetryPolicy(first=0.2, factor=1.0)) as queue:
            started = time.time()
            await queue.hand_over("a@castle.test", ("o@castle.test",), MESSAGE)
            # Until the first attempt is recorded deferred: its retry is 0.2 s after it.
            while (await queue.spool.next_attempt() or 0.0) < started + 0.2:
                await asyncio.sleep(0.02)
            peer.recorder.data_reply = None
            await until(lambda: bool(peer.messages), "the retry")

    asyncio.run(scenario())
    assert [m.data for m in peer.messages] == [MESSAGE]


def test_a_dsn_goes_out_at_once_and_the_log_names_its_queue_id(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    # The DSN is a message like any other (RFC 5321 6.1: from the null sender), started at
    # once as a new message is, not left for a scan an hour away.
    peer.recorder.refuse["ghost@castle.test"] = "550 5.1.1 no such user here"

    async def scenario() -> str:
        async with QueueOnly(tmp_path, peer.port, RetryPolicy()) as queue:
            sender, recipients = "polonius@castle.test", ("ghost@castle.test",)
            queue_id = await queue.hand_over(sender, recipients, MESSAGE)
            await until(lambda: bool(peer.messages), "the DSN")
            while await queue.spool.next_attempt() is not None:
                await asyncio.sleep(0.02)  # until the DSN's delivery is recorded
            return queue_id

    with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
        queue_id = asyncio.run(scenario())
    [notice] = peer.messages
    assert (notice.sender, notice.recipients) == ("<>", ["polonius@castle.test"])
    [line] = [r.getMessage() for r in caplog.records if "non-delivery" in r.getMessage()]
    matched = re.fullmatch(rf"{queue_id}: sender non-delivery notification: ([0-9A-F]+)", line)
    assert matched is not None, line
    spool = Spool(tmp_path)
    try:
        assert spool.states(matched.group(1)) == {"polonius@castle.test": State.DELIVERED}
    finally:
        spool.close()


def test_a_message_found_expired_is_not_tried_again_and_bounces_as_expired(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    # Deferred, then the clock passes the expiry before the next attempt: the runner gives
    # it up without trying (RFC 3463 X.4.7, delivery time expired) and tells the sender.
    clock = Clock()
    peer.recorder.data_reply = "451 4.3.0 not now"
    policy = RetryPolicy(first=60.0, expire=3600.0)
    running = InProcessHop(tmp_path, peer.port, policy=policy, clock=clock)
    try:
        with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
            queue_id = submit(running.port, "polonius@castle.test", ["o@castle.test"], MESSAGE)
            wait_until(
                lambda: running.spool.states(queue_id) == {"o@castle.test": State.DEFERRED},
                20,
                "the deferral",
            )
            peer.recorder.data_reply = None  # were it tried again, it would be delivered
            clock.now += 3600.0
            wait_until(lambda: len(peer.messages) == 1, 20, "the DSN")
        states = running.spool.states(queue_id)
    finally:
        running.close()
    assert states == {"o@castle.test": State.BOUNCED}
    [notice] = peer.messages
    assert notice.recipients == ["polonius@castle.test"]
    recipient = report_blocks(notice.data)[1]
    assert recipient["Action"] == "failed" and recipient["Status"] == "4.4.7"
    assert recipient["Diagnostic-Code"] == "X-Elsinore; delivery time expired"
    assert "Remote-MTA" not in recipient
    [line] = [r.getMessage() for r in caplog.records if "status=expired" in r.getMessage()]
    assert line.endswith(
        ": to=<o@castle.test>, relay=none, status=expired (4.4.7 delivery time expired)"
    )


def test_an_attempt_that_fails_on_a_bug_keeps_the_message_for_the_next_scan(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    # A message whose DSN cannot be built (its arrival is before any date a DSN can write,
    # so it is long expired and due at every scan) is neither lost nor retried in a loop:
    # the attempt is logged as failed, the message stays queued, and the next scan (an hour
    # away here) is its next chance.
    arrival = -1e20

    async def scenario() -> str:
        async with QueueOnly(tmp_path, peer.port, RetryPolicy()) as queue:
            sender, recipients = "polonius@castle.test", ("ghost@castle.test",)
            broken = Incoming(sender, recipients, MESSAGE, new_queue_id(time.time()), arrival)
            await queue.spool.store(broken)
            queue.runner.enqueue(Queued(broken.queue_id, sender, recipients, MESSAGE, arrival, 0))
            await until(lambda: logged(caplog, "delivery attempt failed"), "the failed attempt")
            # Another message goes through meanwhile: time enough for a loop to show.
            await queue.hand_over(sender, ("o@castle.test",), MESSAGE)
            await until(lambda: bool(peer.messages), "the other message")
            return broken.queue_id

    with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
        queue_id = asyncio.run(scenario())
    failures = [r for r in caplog.records if "delivery attempt failed" in r.getMessage()]
    assert [r.getMessage() for r in failures] == [f"{queue_id}: delivery attempt failed"]
    assert failures[0].exc_info is not None  # the traceback is logged: it is a bug
    spool = Spool(tmp_path)
    try:
        assert spool.states(queue_id) == {"ghost@castle.test": State.QUEUED}
    finally:
        spool.close()


def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


def test_a_4xx_is_tried_again_after_the_first_backoff_and_the_log_says_when(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    peer.recorder.data_reply = "451 4.3.0 not now"
    running = InProcessHop(tmp_path, peer.port, policy=RetryPolicy(first=60.0), clock=clock)
    try:
        with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
            queue_id = submit(running.port, "polonius@castle.test", ["o@castle.test"], MESSAGE)
            wait_until(
                lambda: running.spool.states(queue_id) == {"o@castle.test": State.DEFERRED},
                20,
                "the deferral",
            )
        next_attempt = running.spool.next_attempt()
    finally:
        running.close()
    assert next_attempt == clock.now + 60.0
    [line] = [r.getMessage() for r in caplog.records if "status=deferred" in r.getMessage()]
    assert line.endswith(", status=deferred, retry in 60s (451 4.3.0 not now)")


def test_a_message_handed_over_while_stopping_is_left_for_the_restart(
    tmp_path: Path, peer: Peer
) -> None:
    async def scenario() -> str:
        async with QueueOnly(tmp_path, peer.port, RetryPolicy()) as queue:
            await queue.runner.stop()
            queue_id = await queue.hand_over("a@castle.test", ("o@castle.test",), MESSAGE)
            await asyncio.sleep(0.2)  # time for an attempt that should not start
            return queue_id

    queue_id = asyncio.run(scenario())
    assert peer.recorder.connections == 0
    spool = Spool(tmp_path)
    try:
        assert spool.states(queue_id) == {"o@castle.test": State.QUEUED}
    finally:
        spool.close()


def test_a_message_waiting_for_a_slot_is_delivered_whole(tmp_path: Path, peer: Peer) -> None:
    # With every slot taken, a message handed over waits without its bytes in memory; they
    # are read from the spool when its turn comes.
    first_rcpt, go_on = threading.Event(), threading.Event()

    def hold_the_first(address: str) -> None:
        first_rcpt.set()
        go_on.wait(10)

    peer.recorder.on_rcpt = hold_the_first
    second = MESSAGE.replace(b"forward me", b"wait for a slot")

    async def scenario() -> None:
        async with QueueOnly(tmp_path, peer.port, RetryPolicy(), concurrency=1) as queue:
            await queue.hand_over("a@castle.test", ("o@castle.test",), MESSAGE)
            await until(first_rcpt.is_set, "the first attempt to hold the only slot")
            await queue.hand_over("a@castle.test", ("p@castle.test",), second)
            go_on.set()
            await until(lambda: len(peer.messages) == 2, "both messages")

    try:
        asyncio.run(scenario())
    finally:
        go_on.set()
    assert sorted(m.data for m in peer.messages) == sorted([MESSAGE, second])


def test_a_scan_does_not_start_again_a_message_in_flight(tmp_path: Path, peer: Peer) -> None:
    # The runner scans every 0.1 s here; the message stays due while its attempt waits on a
    # slow server, and every scan that finds it must leave it to that attempt.
    at_rcpt, go_on = threading.Event(), threading.Event()

    def slow(address: str) -> None:
        at_rcpt.set()
        go_on.wait(10)

    peer.recorder.on_rcpt = slow
    running = InProcessHop(tmp_path, peer.port)
    try:
        queue_id = submit(running.port, "polonius@castle.test", ["o@castle.test"], MESSAGE)
        wait_until(at_rcpt.is_set, 20, "the attempt to reach RCPT")
        time.sleep(0.5)  # scans run meanwhile
        go_on.set()
        wait_until(
            lambda: running.spool.states(queue_id) == {"o@castle.test": State.DELIVERED},
            20,
            "the delivery",
        )
    finally:
        go_on.set()
        running.close()  # lets any attempt under way finish
    assert len(peer.messages) == 1


def test_each_bounce_is_one_log_line_with_what_the_server_said_cut_short(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    # One line per recipient, as Postfix logs: the relay, the outcome and the reply, with
    # what others chose (the address, the reply's text) escaped and cut short.
    long_recipient = "o" * 64 + "@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 40 + ".castle.test"
    peer.recorder.refuse["ghost@castle.test"] = "550 no such user here"  # no enhanced code
    peer.recorder.refuse[long_recipient] = "550 5.1.1 " + "x" * 450
    running = InProcessHop(tmp_path, peer.port)
    try:
        with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
            queue_id = submit(running.port, "", ["ghost@castle.test", long_recipient], MESSAGE)
            wait_until(
                lambda: set(running.spool.states(queue_id).values()) == {State.BOUNCED},
                20,
                "both bounces",
            )
    finally:
        running.close()
    relay = f"relay={HOST}[{HOST}]:{peer.port}"
    lines = [r.getMessage() for r in caplog.records if "status=bounced" in r.getMessage()]
    assert (
        f"{queue_id}: to=<ghost@castle.test>, {relay}, status=bounced (550 no such user here)"
        in lines
    )
    [long_line] = [line for line in lines if "ghost" not in line]
    recipient = long_line.split("to=<", 1)[1].split(">", 1)[0]
    assert recipient.endswith("\\...") and len(recipient) <= 200
    said = long_line.split("status=bounced (", 1)[1].removesuffix(")")
    assert said.startswith("550 5.1.1 xxx") and said.endswith("\\...") and len(said) <= 400


def test_the_next_scan_tries_again_what_failed_on_a_bug(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    # The scan is the safety net: what an attempt left undone (here a bug, every time) is
    # tried again each scan_interval, without anything else waking the runner.
    arrival = -1e20  # long expired, and its DSN cannot be written

    async def scenario() -> None:
        policy = RetryPolicy()
        async with QueueOnly(tmp_path, peer.port, policy, scan_interval=0.2) as queue:
            sender, recipients = "polonius@castle.test", ("ghost@castle.test",)
            broken = Incoming(sender, recipients, MESSAGE, new_queue_id(time.time()), arrival)
            await queue.spool.store(broken)

            def failures() -> int:
                return sum("delivery attempt failed" in r.getMessage() for r in caplog.records)

            await until(lambda: failures() >= 3, "three scans to try it")

    with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
        asyncio.run(scenario())


def test_stop_gives_deliveries_their_grace_then_leaves_them_for_the_restart(
    tmp_path: Path, peer: Peer
) -> None:
    at_rcpt, go_on = threading.Event(), threading.Event()

    def stuck(address: str) -> None:
        at_rcpt.set()
        go_on.wait(10)

    peer.recorder.on_rcpt = stuck

    async def scenario() -> str:
        async with QueueOnly(tmp_path, peer.port, RetryPolicy()) as queue:
            queue_id = await queue.hand_over("a@castle.test", ("o@castle.test",), MESSAGE)
            await until(at_rcpt.is_set, "the delivery to get stuck")
            await queue.runner.stop(grace=0.2)  # returns, the stuck delivery cancelled
            go_on.set()
            return queue_id

    try:
        queue_id = asyncio.run(scenario())
    finally:
        go_on.set()
    assert peer.messages == []
    spool = Spool(tmp_path)
    try:
        assert spool.states(queue_id) == {"o@castle.test": State.QUEUED}
    finally:
        spool.close()
