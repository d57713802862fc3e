"""The spool's contract as its documentation states it: queue ids, which messages are due and
in what order, when a message's bytes are dropped and how long its row is kept, and what
every waiter of a group commit learns."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from stack.smtp.spool import (
    KEEP_FINISHED,
    AsyncSpool,
    Incoming,
    Outcome,
    Queued,
    Result,
    Spool,
    SpoolError,
    State,
    Stored,
    Write,
    new_queue_id,
)

DATA = b"Subject: spooled\r\n\r\nbody\r\n"


class Clock:
    """A clock the test sets: the spool reads it when a message finishes and when it opens."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def incoming(
    queue_id: str,
    *,
    recipients: Sequence[str] = ("a@castle.test",),
    arrival: float = 1000.0,
    dedupe: str | None = None,
    sender: str = "polonius@castle.test",
) -> Incoming:
    return Incoming(sender, tuple(recipients), DATA, queue_id, arrival, dedupe)


def test_a_queue_id_is_the_time_in_microseconds_then_40_random_bits_in_upper_case_hex() -> None:
    queue_id = new_queue_id(1.5)
    assert re.fullmatch(r"[0-9A-F]{24}", queue_id), queue_id
    assert int(queue_id[:14], 16) == 1_500_000
    assert len({new_queue_id(1.5)[14:] for _ in range(20)}) == 20


def test_a_store_answers_the_queue_id_and_keeps_sender_recipients_and_bytes(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    stored = spool.store(incoming("M1", recipients=("a@castle.test", "b@castle.test")))
    assert stored == Stored("M1", new=True)
    [queued] = spool.due(now=1000.0)
    assert (queued.queue_id, queued.sender, queued.recipients) == (
        "M1",
        "polonius@castle.test",
        ("a@castle.test", "b@castle.test"),
    )
    assert (queued.data, queued.arrival, queued.attempts) == (None, 1000.0, 0)
    assert spool.data("M1") == DATA
    assert spool.states("M1") == {"a@castle.test": State.QUEUED, "b@castle.test": State.QUEUED}


def test_due_means_at_now_or_before_oldest_first_and_at_most_the_limit(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.store_many(
        [
            incoming("LATE", arrival=1003.0),
            incoming("EARLY", arrival=1001.0),
            incoming("MIDDLE", arrival=1002.0),
        ]
    )
    assert spool.due(now=1000.0) == []
    assert [m.queue_id for m in spool.due(now=1001.0)] == ["EARLY"]
    assert [m.queue_id for m in spool.due(now=1003.0)] == ["EARLY", "MIDDLE", "LATE"]
    assert [m.queue_id for m in spool.due(now=1003.0, limit=2)] == ["EARLY", "MIDDLE"]
    assert spool.next_attempt() == 1001.0


def test_a_message_due_lists_only_its_pending_recipients_and_counts_attempts(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    spool.store(incoming("M1", recipients=("a@castle.test", "b@castle.test", "c@castle.test")))
    spool.record(
        "M1",
        [
            Result("a@castle.test", Outcome.DELIVERED, "250 ok"),
            Result("b@castle.test", Outcome.TEMPORARY, "451 later", 1100.0),
            Result("c@castle.test", Outcome.TEMPORARY, "451 later", 1100.0),
        ],
    )
    spool.record("M1", [Result("c@castle.test", Outcome.TEMPORARY, "451 later", 1100.0)])
    [queued] = spool.due(now=1100.0)
    assert queued.recipients == ("b@castle.test", "c@castle.test")
    assert queued.attempts == 2  # the most any pending recipient was tried


def test_a_message_with_nothing_left_to_try_drops_its_bytes_but_not_its_row(
    tmp_path: Path,
) -> None:
    clock = Clock()
    spool = Spool(tmp_path, clock=clock)
    spool.store(incoming("M1", recipients=("a@castle.test", "b@castle.test"), dedupe="K"))
    spool.record("M1", [Result("a@castle.test", Outcome.DELIVERED)])
    assert spool.data("M1") == DATA, "b@castle.test is still to try"
    spool.record("M1", [Result("b@castle.test", Outcome.EXPIRED)])
    assert spool.data("M1") is None
    assert spool.next_attempt() is None and spool.due(now=10.0**9) == []
    assert spool.store(incoming("M2", dedupe="K")) == Stored("M1", new=False)
    assert spool.counts() == {State.DELIVERED: 1, State.BOUNCED: 1}


def test_a_finished_message_is_known_for_keep_finished_and_forgotten_after(
    tmp_path: Path,
) -> None:
    clock = Clock(1000.0)
    spool = Spool(tmp_path, clock=clock)
    spool.store(incoming("M1", dedupe="K"))
    spool.record("M1", [Result("a@castle.test", Outcome.DELIVERED)])
    spool.close()
    # Rows are purged when the spool opens: still there on the last second of the week...
    clock.now = 1000.0 + KEEP_FINISHED
    spool = Spool(tmp_path, clock=clock)
    assert spool.states("M1") == {"a@castle.test": State.DELIVERED}
    assert spool.store(incoming("M2", dedupe="K")) == Stored("M1", new=False)
    spool.close()
    # ...and gone after it, recipients and message both: the same key is a new message.
    clock.now = 1000.0 + KEEP_FINISHED + 1.0
    spool = Spool(tmp_path, clock=clock)
    assert spool.states("M1") == {}
    assert spool.counts() == {}
    assert spool.store(incoming("M3", dedupe="K")) == Stored("M3", new=True)


def test_a_pending_message_is_never_purged_however_old(tmp_path: Path) -> None:
    clock = Clock(1000.0)
    Spool(tmp_path, clock=clock).store(incoming("M1"))
    clock.now = 1000.0 + 10 * KEEP_FINISHED
    assert Spool(tmp_path, clock=clock).data("M1") == DATA


def test_a_message_stored_without_a_dedupe_key_is_never_taken_for_another(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    assert spool.store(incoming("M1")) == Stored("M1", new=True)
    assert spool.store(incoming("M2")) == Stored("M2", new=True)


def test_the_same_address_twice_is_two_recipients_recorded_in_turn(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.store(incoming("M1", recipients=("a@castle.test", "a@castle.test")))
    assert spool.record("M1", [Result("a@castle.test", Outcome.DELIVERED)]) == [State.DELIVERED]
    assert spool.data("M1") == DATA
    assert spool.record("M1", [Result("a@castle.test", Outcome.PERMANENT)]) == [State.BOUNCED]
    assert spool.data("M1") is None


def test_recording_an_unknown_recipient_says_which(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.store(incoming("M1"))
    with pytest.raises(SpoolError, match=r"M1: no pending recipient 'ghost@castle\.test'"):
        spool.record("M1", [Result("ghost@castle.test", Outcome.DELIVERED)])
    assert spool.states("M1") == {"a@castle.test": State.QUEUED}


def test_a_failed_commit_reaches_every_waiter_and_the_next_write_still_commits(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    apply_many = spool.apply_many
    failures = [OSError("disk full")]

    def failing_once(batch: Sequence[Write]) -> list[Stored | list[State] | SpoolError]:
        if failures:
            raise failures.pop()
        return apply_many(batch)

    spool.apply_many = failing_once  # type: ignore[method-assign]

    async def main() -> None:
        spooled = AsyncSpool(spool)
        first = await asyncio.gather(
            *(spooled.store(incoming(f"M{i}")) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(answer, OSError) for answer in first), first
        assert await spooled.store(incoming("M9")) == Stored("M9", new=True)
        with pytest.raises(SpoolError, match="no pending recipient"):
            await spooled.record("M9", [Result("ghost@castle.test", Outcome.DELIVERED)])
        assert await spooled.record("M9", [Result("a@castle.test", Outcome.DELIVERED)]) == [
            State.DELIVERED
        ]
        assert await spooled.data("M9") is None
        assert await spooled.next_attempt() is None
        assert await spooled.due(now=2000.0) == []
        await spooled.aclose()

    asyncio.run(main())


def test_every_async_call_runs_in_the_spool_s_own_thread(tmp_path: Path) -> None:
    # "every call runs in one thread of its own": the SQLite connection is used by one thread.
    spool = Spool(tmp_path)
    threads: dict[str, str] = {}
    for name in ("due", "data", "next_attempt", "apply_many", "close"):
        method = getattr(spool, name)

        def recording(*args: object, _name: str = name, _method: Any = method) -> Any:
            threads[_name] = threading.current_thread().name
            return _method(*args)

        setattr(spool, name, recording)

    async def main() -> None:
        spooled = AsyncSpool(spool)
        await spooled.store(incoming("M1"))
        await spooled.due(now=2000.0)
        await spooled.data("M1")
        await spooled.next_attempt()
        await spooled.aclose()

    asyncio.run(main())
    assert set(threads) == {"due", "data", "next_attempt", "apply_many", "close"}
    assert len(set(threads.values())) == 1, threads
    assert next(iter(threads.values())).startswith("spool"), threads


class HeldCommit:
    """Spool.apply_many that waits, in the spool's thread, until the test lets the first
    commit go: the writes submitted meanwhile are what a group commit gathers."""

    def __init__(self, spool: Spool, *, first_fails: bool = False) -> None:
        self.apply_many = spool.apply_many
        self.batches: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.first_fails = first_fails
        spool.apply_many = self  # type: ignore[method-assign]

    def __call__(self, batch: Sequence[Write]) -> list[Stored | list[State] | SpoolError]:
        self.batches.append([write.queue_id for write in batch])
        if len(self.batches) == 1:
            self.entered.set()
            self.release.wait()
            if self.first_fails:
                raise OSError("disk full")
        return self.apply_many(batch)


def test_writes_submitted_during_a_commit_share_the_next_one(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    held = HeldCommit(spool)

    async def main() -> None:
        spooled = AsyncSpool(spool)
        first = asyncio.ensure_future(spooled.store(incoming("M0")))
        await asyncio.to_thread(held.entered.wait)
        rest = []
        for i in range(1, 6):  # one at a time, the loop running between them
            rest.append(asyncio.ensure_future(spooled.store(incoming(f"M{i}"))))
            for _ in range(3):
                await asyncio.sleep(0)
        held.release.set()
        answers = await asyncio.wait_for(asyncio.gather(first, *rest), 60)
        assert [answer.queue_id for answer in answers] == [f"M{i}" for i in range(6)]
        await spooled.aclose()

    asyncio.run(main())
    assert held.batches == [["M0"], ["M1", "M2", "M3", "M4", "M5"]]


def test_writes_submitted_during_a_failed_commit_are_still_committed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    held = HeldCommit(spool, first_fails=True)

    async def main() -> None:
        spooled = AsyncSpool(spool)
        first = asyncio.ensure_future(spooled.store(incoming("M0")))
        await asyncio.to_thread(held.entered.wait)
        rest = [asyncio.ensure_future(spooled.store(incoming(f"M{i}"))) for i in (1, 2)]
        await asyncio.sleep(0)
        held.release.set()
        with pytest.raises(OSError, match="disk full"):
            await first
        # A guard against a hang, not a measurement: the writes must not wait for another.
        answers = await asyncio.wait_for(asyncio.gather(*rest), 20)
        assert answers == [Stored("M1", new=True), Stored("M2", new=True)]
        await spooled.aclose()

    asyncio.run(main())
    assert held.batches == [["M0"], ["M1", "M2"]]


def test_a_waiter_that_gave_up_does_not_keep_the_others_of_its_commit_waiting(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    held = HeldCommit(spool)

    async def main() -> None:
        spooled = AsyncSpool(spool)
        first = asyncio.ensure_future(spooled.store(incoming("M0")))
        await asyncio.to_thread(held.entered.wait)
        rest = [asyncio.ensure_future(spooled.store(incoming(f"M{i}"))) for i in (1, 2, 3)]
        for _ in range(3):
            await asyncio.sleep(0)
        rest[0].cancel()  # a session that went away while its message was being committed
        held.release.set()
        await first
        # A guard against a hang, not a measurement.
        answers = await asyncio.wait_for(asyncio.gather(*rest[1:]), 20)
        assert answers == [Stored("M2", new=True), Stored("M3", new=True)]
        await spooled.aclose()

    asyncio.run(main())
    assert held.batches == [["M0"], ["M1", "M2", "M3"]]


def test_the_async_spool_scans_as_many_messages_as_the_spool_does(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.store_many([incoming(f"M{i:04d}") for i in range(1001)])
    expected = len(spool.due(now=2000.0))
    assert expected < 1001  # the scan is bounded: the queue runner comes back for the rest

    async def main() -> tuple[int, int]:
        spooled = AsyncSpool(spool)  # aclose closes the spool too
        scanned = len(await spooled.due(now=2000.0))
        at_most_two = len(await spooled.due(now=2000.0, limit=2))
        await spooled.aclose()
        return scanned, at_most_two

    assert asyncio.run(main()) == (expected, 2)


def test_a_read_waits_for_the_commit_in_progress_in_the_same_thread(tmp_path: Path) -> None:
    # One thread: a scan asked for while a commit is being written runs after it, not beside it.
    spool = Spool(tmp_path)
    held = HeldCommit(spool)
    due = spool.due
    threads: list[str] = []

    def recording_due(now: float, limit: int = 1000) -> list[Queued]:
        threads.append(threading.current_thread().name)
        return due(now, limit)

    spool.due = recording_due  # type: ignore[method-assign]

    async def main() -> None:
        spooled = AsyncSpool(spool)
        store = asyncio.ensure_future(spooled.store(incoming("M0")))
        await asyncio.to_thread(held.entered.wait)
        scan = asyncio.ensure_future(spooled.due(now=2000.0))
        await asyncio.sleep(0.05)
        held.release.set()
        await store
        assert [queued.queue_id for queued in await scan] == ["M0"]
        await spooled.aclose()

    asyncio.run(main())
    assert len(threads) == 1 and threads[0].startswith("spool"), threads
