"""The durable spool: what is stored survives a crash, resends are known, states move by the
table, and concurrent stores share a commit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from stack.smtp.spool import (
    RECIPIENT_TRANSITIONS,
    AsyncSpool,
    Incoming,
    Outcome,
    Recording,
    Result,
    Spool,
    SpoolError,
    State,
    Stored,
    Write,
    new_queue_id,
)

DATA = b"Subject: spooled\r\n\r\nbody\r\n"


def incoming(
    queue_id: str = "", *, recipients: Sequence[str] = ("a@castle.test",), dedupe: str | None = None
) -> Incoming:
    return Incoming(
        sender="polonius@castle.test",
        recipients=tuple(recipients),
        data=DATA,
        queue_id=queue_id or new_queue_id(1000.0),
        arrival=1000.0,
        dedupe=dedupe,
    )


def test_a_stored_message_survives_sigkill_of_the_process_that_stored_it(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from stack.smtp.spool import Spool, Incoming\n"
        "spool = Spool(sys.argv[1])\n"
        "spool.store(Incoming('s@castle.test', ('r@castle.test',), b'x\\r\\n', 'ID1', 1.0))\n"
        "print('stored', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGKILL and done.stdout == b"stored\n"
    spool = Spool(tmp_path)
    [message] = spool.due(now=10.0)
    assert (message.queue_id, message.recipients) == ("ID1", ("r@castle.test",))
    assert spool.data("ID1") == b"x\r\n"


def test_restart_resumes_pending_recipients_only(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.store(incoming("M1", recipients=("a@castle.test", "b@castle.test")))
    spool.record("M1", [Result("a@castle.test", Outcome.DELIVERED, "250 ok")])
    spool.close()
    again = Spool(tmp_path)
    [message] = again.due(now=2000.0)
    assert message.recipients == ("b@castle.test",)
    assert again.states("M1") == {"a@castle.test": State.DELIVERED, "b@castle.test": State.QUEUED}


def test_a_resend_with_the_same_dedupe_key_is_not_queued_twice(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first = spool.store(incoming("M1", dedupe="UP1@up.test:abc"))
    second = spool.store(incoming("M2", dedupe="UP1@up.test:abc"))
    other = spool.store(incoming("M3", dedupe="UP1@up.test:def"))
    assert first.new and not second.new and other.new
    assert second.queue_id == "M1"
    assert [m.queue_id for m in spool.due(now=2000.0)] == ["M1", "M3"]


def test_a_resend_is_known_after_the_first_copy_was_delivered(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.store(incoming("M1", dedupe="UP1@up.test:abc"))
    spool.record("M1", [Result("a@castle.test", Outcome.DELIVERED)])
    assert spool.due(now=2000.0) == []
    assert spool.data("M1") is None, "a finished message's bytes are dropped"
    assert spool.store(incoming("M2", dedupe="UP1@up.test:abc")).queue_id == "M1"
    assert spool.due(now=2000.0) == []


def test_deferred_recipient_waits_for_its_retry_time(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.store(incoming("M1"))
    assert spool.record("M1", [Result("a@castle.test", Outcome.TEMPORARY, "451", 1500.0)]) == [
        State.DEFERRED
    ]
    assert spool.due(now=1499.0) == []
    assert spool.next_attempt() == 1500.0
    [message] = spool.due(now=1500.0)
    assert message.attempts == 1


def test_final_states_have_no_way_out() -> None:
    for state in (State.DELIVERED, State.BOUNCED):
        assert not [key for key in RECIPIENT_TRANSITIONS if key[0] is state]
    pending = {state for state, _ in RECIPIENT_TRANSITIONS}
    assert pending == {State.QUEUED, State.DEFERRED}
    assert set(RECIPIENT_TRANSITIONS) == {
        (state, outcome) for state in pending for outcome in Outcome
    }


def test_recording_a_recipient_twice_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.store(incoming("M1"))
    spool.record("M1", [Result("a@castle.test", Outcome.PERMANENT, "550 no")])
    with pytest.raises(SpoolError):
        spool.record("M1", [Result("a@castle.test", Outcome.DELIVERED)])


def test_unwritable_spool_is_a_spool_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(SpoolError, match="cannot open the spool"):
        Spool(blocker / "spool")


def test_concurrent_stores_share_commits(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    batches: list[int] = []
    apply_many = spool.apply_many

    def counting(batch: Sequence[Write]) -> list[Stored | list[State] | SpoolError]:
        batches.append(len(batch))
        return apply_many(batch)

    spool.apply_many = counting  # type: ignore[method-assign]

    async def main() -> None:
        spooled = AsyncSpool(spool)
        answers = await asyncio.gather(*(spooled.store(incoming(f"M{i}")) for i in range(50)))
        assert [a.queue_id for a in answers] == [f"M{i}" for i in range(50)]
        await spooled.aclose()

    asyncio.run(main())
    assert sum(batches) == 50 and len(batches) < 50
    assert len(Spool(tmp_path).due(now=2000.0)) == 50


def test_queue_ids_sort_by_time_and_do_not_repeat() -> None:
    ids = [new_queue_id(1000.0 + i) for i in range(100)]
    assert ids == sorted(ids) and len(set(ids)) == 100
    assert all(len(i) == 24 and i.isalnum() for i in ids)


def test_spool_directory_is_created(tmp_path: Path) -> None:
    Spool(tmp_path / "a" / "b").close()
    assert (tmp_path / "a" / "b" / "spool.sqlite").exists()
    assert os.stat(tmp_path / "a" / "b").st_size >= 0


def test_a_failed_write_in_a_group_does_not_undo_the_others(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.store(incoming("M1"))
    answers = spool.apply_many(
        [
            Recording("M1", (Result("nobody@castle.test", Outcome.DELIVERED),)),
            incoming("M2"),
            Recording("M1", (Result("a@castle.test", Outcome.DELIVERED),)),
        ]
    )
    assert isinstance(answers[0], SpoolError)
    assert answers[1] == Stored("M2", new=True)
    assert answers[2] == [State.DELIVERED]
    assert [m.queue_id for m in Spool(tmp_path).due(now=2000.0)] == ["M2"]
