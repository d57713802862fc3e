"""The durable spool: a message is on disk, fsync'd, before its 250.

Theory of operation
-------------------
The spool is one SQLite database in the spool directory, in WAL mode with
``synchronous=FULL``: a transaction is durable when its commit returns, because SQLite
fsyncs the write-ahead log before it does.  The directory itself is fsync'd once the
database and its log exist, so the files cannot vanish with the directory entry.

Why SQLite rather than a file per message (Postfix's way): one commit makes the message,
its envelope and every recipient's state durable together, with one fsync, where files need
a rename, a file fsync and a directory fsync per message and per state change.  And one
commit can hold many messages: :class:`AsyncSpool` gathers the messages that concurrent
sessions finished while the previous commit was being written and commits them together
(group commit), so ten clients cost far fewer than ten fsyncs.  A state change is an
``UPDATE``, not a rename dance, and a crash at any moment leaves the last committed state.

Each recipient of a message moves through the states of :data:`RECIPIENT_TRANSITIONS`:
queued, then delivered or bounced, or deferred (and tried again) until one of the two.  When
no recipient of a message is left to try, its bytes are dropped; its row stays for a while
(:data:`KEEP_FINISHED`) so that a copy sent again by an upstream Elsinore hop is still known.

Exactly once between Elsinore hops: the upstream hop's queue id (from its ``Received:``
field) and the sha256 of the bytes as received form the message's ``dedupe`` key, which is
unique.  A second copy with the same key gets the first copy's queue id and is not queued
again.  Both parts are needed: the id says it is a resend, the digest that it is the same
message and not a forged Received field in front of other bytes.
"""

from __future__ import annotations

import asyncio
import enum
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stack.errors import ElsinoreError
from stack.files import fsync_directory

#: How long a finished message's row is kept, so that a resend is still recognised: longer
#: than an upstream hop goes on retrying (5 days by default, then it bounces).
KEEP_FINISHED = 7 * 24 * 3600.0
DATABASE = "spool.sqlite"


class SpoolError(ElsinoreError):
    """The spool cannot be opened or written."""


class State(enum.Enum):
    """Where a recipient of a queued message stands."""

    QUEUED = "queued"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    BOUNCED = "bounced"


class Outcome(enum.Enum):
    """What one delivery attempt (or the clock) did for a recipient."""

    DELIVERED = "delivered"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"
    EXPIRED = "expired"


#: Every state change of a recipient.  DELIVERED and BOUNCED are final: no outcome leaves them.
RECIPIENT_TRANSITIONS: dict[tuple[State, Outcome], State] = {
    (State.QUEUED, Outcome.DELIVERED): State.DELIVERED,
    (State.QUEUED, Outcome.TEMPORARY): State.DEFERRED,
    (State.QUEUED, Outcome.PERMANENT): State.BOUNCED,
    (State.QUEUED, Outcome.EXPIRED): State.BOUNCED,
    (State.DEFERRED, Outcome.DELIVERED): State.DELIVERED,
    (State.DEFERRED, Outcome.TEMPORARY): State.DEFERRED,
    (State.DEFERRED, Outcome.PERMANENT): State.BOUNCED,
    (State.DEFERRED, Outcome.EXPIRED): State.BOUNCED,
}

PENDING = (State.QUEUED, State.DEFERRED)


def new_queue_id(now: float) -> str:
    """A queue id: the time in microseconds, then 40 random bits, in upper-case hex.

    Ids sort by arrival, and nobody can guess the next one: the id names the message in
    the next hop's dedupe key."""
    return f"{int(now * 1e6):014X}{secrets.token_hex(5).upper()}"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message to store: the envelope, the bytes to forward, and the dedupe key parts."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    queue_id: str
    arrival: float
    dedupe: str | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """The answer to a store: the queue id, and whether the message is new (False for a
    resend recognised by its dedupe key, which was not queued again)."""

    queue_id: str
    new: bool


@dataclass(frozen=True, slots=True)
class Queued:
    """A message with recipients left to try, as the queue runner sees it.

    ``data`` is None when the message came from :meth:`Spool.due`: the bytes are read when
    its attempt starts (:meth:`Spool.data`), so that a scan of a long queue of large
    messages holds only their envelopes in memory."""

    queue_id: str
    sender: str
    recipients: tuple[str, ...]
    data: bytes | None
    arrival: float
    attempts: int


@dataclass(frozen=True, slots=True)
class Result:
    """One recipient's outcome of an attempt; ``retry_at`` is when to try again (for
    TEMPORARY), ``reply`` the server's answer, for the log and the bounce."""

    recipient: str
    outcome: Outcome
    reply: str = ""
    retry_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Recording:
    """The results of one attempt at a message, to record."""

    queue_id: str
    results: tuple[Result, ...]


#: What one group commit holds: messages to store and attempts to record, in any mix.
Write = Incoming | Recording


_SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id TEXT PRIMARY KEY,
    dedupe TEXT UNIQUE,
    sender TEXT NOT NULL,
    arrival REAL NOT NULL,
    data BLOB,
    finished REAL
);
CREATE TABLE IF NOT EXISTS recipient (
    message TEXT NOT NULL REFERENCES message(id),
    position INTEGER NOT NULL,
    address TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    reply TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (message, position)
);
CREATE INDEX IF NOT EXISTS recipient_due ON recipient (state, next_attempt);
"""


class Spool:
    """The spool database, used from one thread at a time (see :class:`AsyncSpool`)."""

    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self.clock = clock
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.directory / DATABASE, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"cannot open the spool in {self.directory}: {exc}") from exc
        # The database and its write-ahead log exist now: make their names durable.
        fsync_directory(self.directory)
        self._purge()

    def close(self) -> None:
        self._db.close()

    # -- writes ----------------------------------------------------------------------------

    def store_many(self, batch: Sequence[Incoming]) -> list[Stored]:
        """Store every message of ``batch`` in one durable transaction."""
        answers: list[Stored] = []
        with self._transaction():
            for incoming in batch:
                answers.append(self._store(incoming))
        return answers

    def store(self, incoming: Incoming) -> Stored:
        return self.store_many([incoming])[0]

    def _store(self, incoming: Incoming) -> Stored:
        if incoming.dedupe is not None:
            row = self._db.execute(
                "SELECT id FROM message WHERE dedupe = ?", (incoming.dedupe,)
            ).fetchone()
            if row is not None:
                return Stored(row[0], new=False)
        self._db.execute(
            "INSERT INTO message (id, dedupe, sender, arrival, data) VALUES (?, ?, ?, ?, ?)",
            (
                incoming.queue_id,
                incoming.dedupe,
                incoming.sender,
                incoming.arrival,
                incoming.data,
            ),
        )
        self._db.executemany(
            "INSERT INTO recipient (message, position, address, state, next_attempt) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (incoming.queue_id, position, address, State.QUEUED.value, incoming.arrival)
                for position, address in enumerate(incoming.recipients)
            ],
        )
        return Stored(incoming.queue_id, new=True)

    def record_many(self, batch: Sequence[tuple[str, Sequence[Result]]]) -> list[list[State]]:
        """Apply each message's results (``(queue_id, results)``) in one transaction; returns
        every recipient's new state.  A message with nothing left to try is finished."""
        with self._transaction():
            return [self._record_message(Recording(q, tuple(r))) for q, r in batch]

    def record(self, queue_id: str, results: Sequence[Result]) -> list[State]:
        return self.record_many([(queue_id, results)])[0]

    def apply_many(self, batch: Sequence[Write]) -> list[Stored | list[State] | SpoolError]:
        """Apply stores and recordings in one durable transaction, each in a savepoint of
        its own: one that fails (a recipient recorded twice) is undone and answered with
        its error, and the others still commit."""
        answers: list[Stored | list[State] | SpoolError] = []
        with self._transaction():
            for write in batch:
                self._db.execute("SAVEPOINT write")
                try:
                    if isinstance(write, Incoming):
                        answers.append(self._store(write))
                    else:
                        answers.append(self._record_message(write))
                except SpoolError as exc:
                    self._db.execute("ROLLBACK TO write")
                    answers.append(exc)
                self._db.execute("RELEASE write")
        return answers

    def _record_message(self, recording: Recording) -> list[State]:
        queue_id = recording.queue_id
        states = [self._record(queue_id, result) for result in recording.results]
        left = self._db.execute(
            "SELECT count(*) FROM recipient WHERE message = ? AND state IN (?, ?)",
            (queue_id, *(state.value for state in PENDING)),
        ).fetchone()[0]
        if left == 0:
            self._db.execute(
                "UPDATE message SET data = NULL, finished = ? WHERE id = ?",
                (self.clock(), queue_id),
            )
        return states

    def _record(self, queue_id: str, result: Result) -> State:
        row = self._db.execute(
            "SELECT position, state FROM recipient WHERE message = ? AND address = ? "
            "AND state IN (?, ?) ORDER BY position LIMIT 1",
            (queue_id, result.recipient, *(state.value for state in PENDING)),
        ).fetchone()
        if row is None:
            raise SpoolError(f"{queue_id}: no pending recipient {result.recipient!r}")
        position, old = row
        new = RECIPIENT_TRANSITIONS[State(old), result.outcome]
        self._db.execute(
            "UPDATE recipient SET state = ?, attempts = attempts + 1, next_attempt = ?, "
            "reply = ? WHERE message = ? AND position = ?",
            (new.value, result.retry_at, result.reply, queue_id, position),
        )
        return new

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _purge(self) -> None:
        cutoff = self.clock() - KEEP_FINISHED
        with self._transaction():
            self._db.execute(
                "DELETE FROM recipient WHERE message IN "
                "(SELECT id FROM message WHERE finished IS NOT NULL AND finished < ?)",
                (cutoff,),
            )
            self._db.execute(
                "DELETE FROM message WHERE finished IS NOT NULL AND finished < ?", (cutoff,)
            )

    # -- reads -----------------------------------------------------------------------------

    def due(self, now: float, limit: int = 1000) -> list[Queued]:
        """Messages with a recipient to try at ``now`` or before, oldest first, without
        their bytes (see :class:`Queued`)."""
        rows = self._db.execute(
            "SELECT m.id, m.sender, m.arrival, "
            "group_concat(r.address, char(0)), max(r.attempts) "
            "FROM recipient r JOIN message m ON m.id = r.message "
            "WHERE r.state IN (?, ?) AND r.next_attempt <= ? "
            "GROUP BY m.id ORDER BY m.arrival LIMIT ?",
            (*(state.value for state in PENDING), now, limit),
        ).fetchall()
        return [
            Queued(queue_id, sender, tuple(addresses.split("\0")), None, arrival, attempts)
            for queue_id, sender, arrival, addresses, attempts in rows
        ]

    def data(self, queue_id: str) -> bytes | None:
        """A queued message's bytes, or None once it is finished (or was never here)."""
        row = self._db.execute("SELECT data FROM message WHERE id = ?", (queue_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def next_attempt(self) -> float | None:
        """When the earliest pending recipient is due, or None when none is pending."""
        row = self._db.execute(
            "SELECT min(next_attempt) FROM recipient WHERE state IN (?, ?)",
            tuple(state.value for state in PENDING),
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def states(self, queue_id: str) -> dict[str, State]:
        """Each recipient's state (for tests, logs and ``status``)."""
        rows = self._db.execute(
            "SELECT address, state FROM recipient WHERE message = ? ORDER BY position",
            (queue_id,),
        ).fetchall()
        return {address: State(state) for address, state in rows}

    def counts(self) -> dict[State, int]:
        rows = self._db.execute("SELECT state, count(*) FROM recipient GROUP BY state")
        return {State(state): count for state, count in rows}


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` when the block raised)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")


class _GroupCommit:
    """Applies in the spool's thread, in one transaction, every write submitted while the
    previous transaction ran: one fsync for all of them."""

    def __init__(self, spool: Spool, executor: ThreadPoolExecutor) -> None:
        self._spool = spool
        self._executor = executor
        self._pending: list[tuple[Write, asyncio.Future[Stored | list[State]]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None  # the drain running, kept from the GC

    async def submit(self, write: Write) -> Stored | list[State]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored | list[State]] = loop.create_future()
        self._pending.append((write, future))
        if not self._running:
            self._running = True
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    answers = await loop.run_in_executor(
                        self._executor, self._spool.apply_many, [write for write, _ in batch]
                    )
                except Exception as exc:  # every waiter learns of it; the hop answers 451
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), answer in zip(batch, answers, strict=True):
                    if future.done():
                        continue
                    if isinstance(answer, SpoolError):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        finally:
            self._running = False


class AsyncSpool:
    """The spool for asyncio code: every call runs in one thread of its own, and stores and
    records share group commits."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="spool")
        self._writes = _GroupCommit(spool, self._executor)

    async def store(self, incoming: Incoming) -> Stored:
        answer = await self._writes.submit(incoming)
        assert isinstance(answer, Stored)
        return answer

    async def record(self, queue_id: str, results: Sequence[Result]) -> list[State]:
        answer = await self._writes.submit(Recording(queue_id, tuple(results)))
        assert isinstance(answer, list)
        return answer

    async def due(self, now: float, limit: int = 1000) -> list[Queued]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.spool.due, now, limit)

    async def data(self, queue_id: str) -> bytes | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.spool.data, queue_id)

    async def next_attempt(self) -> float | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.spool.next_attempt)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.spool.close)
        self._executor.shutdown(wait=True)


__all__ = [
    "KEEP_FINISHED",
    "RECIPIENT_TRANSITIONS",
    "AsyncSpool",
    "Incoming",
    "Outcome",
    "Queued",
    "Recording",
    "Result",
    "Spool",
    "SpoolError",
    "State",
    "Stored",
    "Write",
    "fsync_directory",
    "new_queue_id",
]
