"""The word store: the interface every backend offers, and the SQLite backend.

The SQLite database runs in WAL mode, so a classifier can load the counts while a training
run writes.  Every change is one ``BEGIN IMMEDIATE`` transaction: it commits whole or not at
all.  Counts carry ``CHECK (... >= 0)`` constraints and lowered counts are changed with an
``UPDATE`` whose row count must match, so an untraining that would go below zero, or that
names a token never trained, fails inside the transaction and rolls it back instead of
leaving a corrupt database.

Schema (version 1)::

    meta(key TEXT PRIMARY KEY, value INTEGER)   -- 'schema', 'spam', 'ham'
    words(word TEXT PRIMARY KEY, spam INTEGER, ham INTEGER) WITHOUT ROWID
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Protocol

from stack.errors import ElsinoreError
from stack.spam.counts import NegativeCountError, Training, WordCounts

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL CHECK (value >= 0)
);
CREATE TABLE IF NOT EXISTS words (
    word TEXT PRIMARY KEY,
    spam INTEGER NOT NULL CHECK (spam >= 0),
    ham INTEGER NOT NULL CHECK (ham >= 0)
) WITHOUT ROWID;
"""

_UPSERT_WORD = (
    "INSERT INTO words (word, spam, ham) VALUES (?, ?, ?) "
    "ON CONFLICT (word) DO UPDATE SET spam = spam + excluded.spam, ham = ham + excluded.ham"
)
_LOWER_WORD = "UPDATE words SET spam = spam + ?, ham = ham + ? WHERE word = ?"


class StoreError(ElsinoreError):
    """The store cannot be opened or a change cannot be applied; nothing was changed."""


class WordStore(Protocol):
    """Where word counts live.  Backends differ in where, never in what they mean."""

    def load(self) -> WordCounts:
        """Every count, read into memory for classification."""
        ...

    def apply(self, training: Training) -> None:
        """Apply ``training`` atomically; raise :class:`StoreError` (and change nothing) if a
        count would go below zero."""
        ...

    def close(self) -> None: ...


class SqliteStore:
    """Word counts in one SQLite file (created on first use)."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(f"no spam database at {self.path} (train one with `spam train`)")
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so that a transaction
            # spans exactly one apply().
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open spam database {self.path}: {exc}") from exc

    def _check_schema(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('spam', 0), ('ham', 0)",
                (SCHEMA_VERSION,),
            )
        elif row[0] != SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema {row[0]}, expected {SCHEMA_VERSION}")

    def load(self) -> WordCounts:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        words = {word: (spam, ham) for word, spam, ham in self._db.execute("SELECT * FROM words")}
        return WordCounts(meta.get("spam", 0), meta.get("ham", 0), words)

    def apply(self, training: Training) -> None:
        db = self._db
        raised = [(w, s, h) for w, (s, h) in training.items() if s >= 0 and h >= 0]
        lowered = [(s, h, w) for w, (s, h) in training.items() if s < 0 or h < 0]
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "UPDATE meta SET value = value + ? WHERE key = ?",
                    [(training.spam_messages, "spam"), (training.ham_messages, "ham")],
                )
                db.executemany(_UPSERT_WORD, raised)
                # A lowered count must exist: UPDATE touches only existing rows, so a row
                # count short of the changes means a token that was never trained.
                cursor = db.executemany(_LOWER_WORD, lowered)
                if cursor.rowcount != len(lowered):
                    raise sqlite3.IntegrityError("untrained a token that was never trained")
                db.executemany(
                    "DELETE FROM words WHERE word = ? AND spam = 0 AND ham = 0",
                    ((w,) for _, _, w in lowered),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                "untraining would make a count negative (was that message trained as that "
                "class?); nothing was changed"
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot update spam database {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoryStore:
    """Counts held only in memory: for tests and for one-shot evaluations."""

    def __init__(self, counts: WordCounts | None = None) -> None:
        self.counts = counts if counts is not None else WordCounts()

    def load(self) -> WordCounts:
        return WordCounts(
            self.counts.spam_messages, self.counts.ham_messages, dict(self.counts.words)
        )

    def apply(self, training: Training) -> None:
        try:
            self.counts.apply(training)
        except NegativeCountError as exc:
            raise StoreError(f"{exc}; nothing was changed") from exc

    def close(self) -> None:
        pass


def open_store(location: str | Path, *, create: bool = True) -> WordStore:
    """The store at ``location``: ``redis://host:port/db`` (optionally ``#prefix``) for Redis,
    anything else a SQLite file.  Redis is imported only when asked for."""
    text = str(location)
    if text.startswith(("redis://", "rediss://", "unix://")):
        from stack.spam.redis_store import RedisStore  # noqa: PLC0415 - optional backend

        url, _, prefix = text.partition("#")
        return RedisStore(url, prefix=prefix or "spamtacus:")
    return SqliteStore(location, create=create)
