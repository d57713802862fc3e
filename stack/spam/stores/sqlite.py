"""The word store in one SQLite file, the default backend.

The SQLite database runs in WAL mode, so a classifier can load the counts while a training
run writes.  Every change is one ``BEGIN IMMEDIATE`` transaction: it commits whole or not at
all.  Counts carry ``CHECK (... >= 0)`` constraints and lowered counts are changed with an
``UPDATE`` whose row count must match, so an untraining that would go below zero, or that
names a token never trained, fails inside the transaction and rolls it back instead of
leaving a corrupt database.

The rows of ``words`` are the store of record.  Reading 140,000 of them one by one takes a
tenth of a second, on every start of a command that classifies, so the transaction that
changes them also writes a snapshot of all of them, which :meth:`SqliteStore.load` reads in
one go (in a third of the time).  The two cannot disagree: a trigger deletes the snapshot
whenever a row changes by any means (an older program, the ``sqlite3`` shell), and
:meth:`SqliteStore.apply` writes the new snapshot last.  The price is paid by training: the
snapshot is rewritten whole, about 0.1 s for 140,000 words however small the change.

When there is no snapshot (a word that holds a newline cannot be written in one) or it does
not decode, ``load`` reads the rows instead: slower, never different.  A corrupt snapshot is
not an error, because the rows are there to fall back on, and the next training replaces
it.  A snapshot that decodes is trusted as the rows are.

Schema (version 4; versions 1, without the snapshot, 2, without the regression, and 3,
without the regression's weight, are upgraded when opened)::

    meta(key TEXT PRIMARY KEY, value INTEGER)   -- 'schema', 'spam', 'ham'
    words(word TEXT PRIMARY KEY, spam INTEGER, ham INTEGER) WITHOUT ROWID
    snapshot(id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER,
             words BLOB, pairs BLOB, word_pairs BLOB)
    regression(id INTEGER PRIMARY KEY CHECK (id = 1), features INTEGER,
               weights BLOB, bias INTEGER)   -- weights: signed 64-bit little-endian
    regression_messages(digest BLOB, step INTEGER, bias_step INTEGER)  -- by rowid: in order
    cutoffs(classifier TEXT PRIMARY KEY, ham REAL, spam REAL)
    lr_weight(id INTEGER PRIMARY KEY CHECK (id = 1), weight REAL)  -- in fisher-lr

The regression (:mod:`~stack.spam.regression`) is read and rewritten whole, as the snapshot
is; ``regression_messages`` holds each trained message's step, which untraining takes back.

The snapshot's format is in :mod:`~stack.spam.stores.snapshot`.

:func:`apply_by_replacing` trains a copy and renames it over the file instead: what a
long-running filter (the spamfilter service) watches for, since a new file is noticed by its
new inode at once and is read whole, where changes in place are only seen through the file's
size and time.
"""

from __future__ import annotations

import operator
import os
import secrets
import sqlite3
from pathlib import Path

import numpy as np

from stack.files import fsync_directory, fsync_path
from stack.spam.counts import Training, WordCounts
from stack.spam.ngrams import FEATURES
from stack.spam.regression import Regression, Weights, resolve
from stack.spam.stores.base import StoreError, WordStore, missing_store
from stack.spam.stores.snapshot import SNAPSHOT_FORMAT, decode_snapshot, encode_snapshot

SCHEMA_VERSION = 4
# A change's rows sort by their word alone: comparing (word, counts) tuples took half again.
_WORD = operator.itemgetter(0)

# Run in order, in the transaction that creates or upgrades a database.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL CHECK (value >= 0)
    )""",
    """CREATE TABLE IF NOT EXISTS words (
        word TEXT PRIMARY KEY,
        spam INTEGER NOT NULL CHECK (spam >= 0),
        ham INTEGER NOT NULL CHECK (ham >= 0)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS snapshot (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        format INTEGER NOT NULL,
        words BLOB NOT NULL,
        pairs BLOB NOT NULL,
        word_pairs BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS regression (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        features INTEGER NOT NULL,
        weights BLOB NOT NULL,
        bias INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS regression_messages (
        digest BLOB NOT NULL,
        step INTEGER NOT NULL,
        bias_step INTEGER NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS regression_messages_by_digest
        ON regression_messages (digest)""",
    """CREATE TABLE IF NOT EXISTS cutoffs (
        classifier TEXT PRIMARY KEY,
        ham REAL NOT NULL,
        spam REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS lr_weight (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        weight REAL NOT NULL CHECK (weight >= 0)
    )""",
    *(
        f"""CREATE TRIGGER IF NOT EXISTS words_{event.lower()}_drops_snapshot
        AFTER {event} ON words WHEN EXISTS (SELECT 1 FROM snapshot)
        BEGIN DELETE FROM snapshot; END"""
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
)

_UPSERT_WORD = (
    "INSERT INTO words (word, spam, ham) VALUES (?, ?, ?) "
    "ON CONFLICT (word) DO UPDATE SET spam = spam + excluded.spam, ham = ham + excluded.ham"
)
_LOWER_WORD = "UPDATE words SET spam = spam + ?, ham = ham + ? WHERE word = ?"
# SQLite keeps text, a real or a blob in an INTEGER column (the sqlite3 shell writes them),
# and CHECK (spam >= 0) holds for all three.
_NOT_A_COUNT = (
    "SELECT word, 'spam', spam FROM words WHERE typeof(spam) != 'integer' UNION ALL "
    "SELECT word, 'ham', ham FROM words WHERE typeof(ham) != 'integer' LIMIT 1"
)


class SqliteStore(WordStore):
    """Word counts in one SQLite file (created on first use; upgraded to the current schema
    when an older one is opened)."""

    keeps_regression = True

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise missing_store(self.path)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so that a transaction
            # spans exactly one apply().
            self._db = sqlite3.connect(self.path, isolation_level=None)
            try:
                self._refuse_unless_ours(create=create)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._check_schema()
            except BaseException:
                self._db.close()  # a file refused or unreadable is not kept open
                raise
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open spam database {self.path}: {exc}") from exc

    def _refuse_unless_ours(self, *, create: bool) -> None:
        """Refuse a database without our ``meta`` table that has tables of its own (another
        program's), or has none and may not be created.  SQLite reads an empty file as a
        database with no tables, so without this ``--db`` naming one by mistake would
        classify every message as unknown, silently.  Reads only: nothing is written to a
        file that is refused."""
        rows = self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
        tables = [name for (name,) in rows]
        if "meta" in tables:
            return
        if tables:
            raise StoreError(
                f"{self.path} is not a word database (its tables: {', '.join(tables[:5])})"
            )
        if not create:
            raise StoreError(
                f"{self.path} is empty, not a word database (train one with `spam train`)"
            )

    def _schema_version(self) -> int | None:
        """The version the database says it has; ``None`` for a new, empty one."""
        if not self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone():
            return None
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return None if row is None else int(row[0])

    def _check_schema(self) -> None:
        """Create a new database, or upgrade one of version 1 to 3, in one transaction; refuse
        any other version.  The common case, a current database, only reads."""
        version = self._schema_version()
        if version == SCHEMA_VERSION:
            return
        if version not in (None, 1, 2, 3):
            raise StoreError(f"{self.path} has schema {version}, expected {SCHEMA_VERSION}")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            # Again under the write lock: another process may have got here first.
            version = self._schema_version()
            for statement in _SCHEMA:
                db.execute(statement)
            if version is None:
                db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('spam', 0), ('ham', 0)",
                    (SCHEMA_VERSION,),
                )
            else:
                if version == 1:
                    self._write_snapshot()
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _write_snapshot(self) -> None:
        """Replace the snapshot with one of the rows as they are now (inside a transaction),
        or leave none if the rows cannot be written in one."""
        rows = self._db.execute("SELECT word, spam, ham FROM words")
        snapshot = encode_snapshot(rows)
        self._db.execute("DELETE FROM snapshot")
        if snapshot is not None:
            self._db.execute(
                "INSERT INTO snapshot VALUES (1, ?, ?, ?, ?)", (SNAPSHOT_FORMAT, *snapshot)
            )
        else:  # a word with a newline, or a count that is not one: only the latter is refused
            self._refuse_counts_that_are_not_integers("update")

    def _refuse_counts_that_are_not_integers(self, doing: str) -> None:
        """Raise a :class:`StoreError` naming the first count that is not an integer; looked
        for only where the rows are read one by one, so a sound database pays nothing."""
        row = self._db.execute(_NOT_A_COUNT).fetchone()
        if row is not None:
            word, column, value = row
            raise StoreError(
                f"cannot {doing} spam database {self.path}: the {column} count of {word!r} "
                f"is {value!r}, not an integer"
            )

    def _read_snapshot(self) -> dict[str, tuple[int, int]] | None:
        row = self._db.execute(
            "SELECT format, words, pairs, word_pairs FROM snapshot WHERE id = 1"
        ).fetchone()
        if row is None or row[0] != SNAPSHOT_FORMAT:
            return None
        if not all(isinstance(blob, bytes) for blob in row[1:]):
            return None
        return decode_snapshot(row[1], row[2], row[3])

    def load(self) -> WordCounts:
        """Every count: from the snapshot when there is a good one, else from the rows."""
        db = self._db
        try:
            # One read transaction, so that the totals and the words come from the same
            # commit even while a training writes.
            db.execute("BEGIN")
            try:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                words = self._read_snapshot()
                if words is None:
                    self._refuse_counts_that_are_not_integers("read")
                    words = {
                        word: (spam, ham)
                        for word, spam, ham in db.execute("SELECT word, spam, ham FROM words")
                    }
                regression = self._read_regression()
                cutoffs = {
                    name: (ham, spam)
                    for name, ham, spam in db.execute("SELECT classifier, ham, spam FROM cutoffs")
                }
                weight = db.execute("SELECT weight FROM lr_weight").fetchone()
            finally:
                db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read spam database {self.path}: {exc}") from exc
        return WordCounts(
            meta.get("spam", 0), meta.get("ham", 0), words, regression, cutoffs,
            None if weight is None else float(weight[0]),
        )  # fmt: skip

    def _read_regression(self) -> Regression | None:
        row = self._db.execute("SELECT features, weights, bias FROM regression").fetchone()
        if row is None:
            return None
        features, blob, bias = row
        if features != FEATURES or not isinstance(blob, bytes) or len(blob) != 8 * FEATURES:
            raise StoreError(
                f"{self.path} holds a regression of {features} features; this version reads "
                f"{FEATURES} (train a new database)"
            )
        # Little-endian in the file; read in place, without a copy (8 MB at every start of a
        # command that classifies).  Read-only: a training adds to a copy.
        weights: Weights = np.frombuffer(blob, dtype="<i8")
        return Regression(weights, int(bias))

    def _apply_regression(self, training: Training) -> None:
        """Add the regression's change to the stored weights, and keep or drop each touched
        message's record (inside the transaction)."""
        db = self._db
        change = training.regression
        stored = self._stored_steps(
            {d for d, _, _ in change.trained} | {d for d, _ in change.forgotten}
        )
        features, deltas, bias, records = resolve(change, lambda digest: stored.get(digest, []))
        model = self._read_regression() or Regression()
        model.weights = model.weights.copy()
        model.weights[features] += deltas
        db.execute(
            "INSERT OR REPLACE INTO regression VALUES (1, ?, ?, ?)",
            (FEATURES, model.weights.astype("<i8").tobytes(), model.bias + bias),
        )
        db.executemany("DELETE FROM regression_messages WHERE digest = ?", ((d,) for d in records))
        db.executemany(
            "INSERT INTO regression_messages VALUES (?, ?, ?)",
            ((digest, *steps) for digest, all_steps in records.items() for steps in all_steps),
        )

    def _stored_steps(self, digests: set[bytes]) -> dict[bytes, list[tuple[int, int]]]:
        """The stored (step, bias step) records of ``digests``, oldest first, in a query per
        500 digests rather than one per message."""
        found: dict[bytes, list[tuple[int, int]]] = {}
        listed = list(digests)
        for start in range(0, len(listed), 500):
            chunk = listed[start : start + 500]
            rows = self._db.execute(
                "SELECT digest, step, bias_step FROM regression_messages "
                f"WHERE digest IN ({', '.join('?' * len(chunk))}) ORDER BY rowid",
                chunk,
            )
            for digest, step, bias_step in rows:
                found.setdefault(digest, []).append((int(step), int(bias_step)))
        return found

    def apply(self, training: Training) -> None:
        db = self._db
        # In the words' order: the upsert then walks the table's B-tree from end to end
        # instead of jumping about it, three times faster for a first training.
        raised: list[tuple[str, int, int]] = []
        lowered: list[tuple[int, int, str]] = []
        for word, (spam, ham) in sorted(training.items(), key=_WORD):
            if spam >= 0 and ham >= 0:
                raised.append((word, spam, ham))
            else:
                lowered.append((spam, ham, word))
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "UPDATE meta SET value = value + ? WHERE key = ?",
                    [(training.spam_messages, "spam"), (training.ham_messages, "ham")],
                )
                # Dropped first, so that the triggers find no snapshot to drop row by row.
                db.execute("DELETE FROM snapshot")
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
                self._write_snapshot()
                if training.regression:
                    self._apply_regression(training)
                db.executemany(
                    "INSERT OR REPLACE INTO cutoffs VALUES (?, ?, ?)",
                    ((name, ham, spam) for name, (ham, spam) in training.cutoffs.items()),
                )
                if training.lr_weight is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO lr_weight VALUES (1, ?)", (training.lr_weight,)
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


def apply_by_replacing(path: str | Path, training: Training) -> WordCounts:
    """Apply ``training`` to a copy of the database at ``path`` (an empty one if there is
    none), rename the copy over ``path``, and return the new counts.

    A reader that opened the old file finishes with it; one that opens ``path`` afterwards
    gets the new file, whole: the copy is trained, closed (SQLite folds its write-ahead log
    into it), flushed to disk and only then renamed, and the folder flushed so that the
    rename survives a crash.  On any failure the copy is removed and ``path`` is untouched.

    One trainer at a time: two would each copy the same file, and the second rename would
    drop the first one's change (:meth:`SqliteStore.apply`, in place, has no such limit).
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.new")
    try:
        if path.exists():
            with SqliteStore(path, create=False) as source:
                # SQLite's online backup: a consistent copy even while another process
                # writes to the source in place.
                target = sqlite3.connect(temporary)
                try:
                    source._db.backup(target)
                finally:
                    target.close()
        with SqliteStore(temporary) as copy:
            copy.apply(training)
            counts = copy.load()
        fsync_path(temporary)
        os.replace(temporary, path)
        fsync_directory(path.parent)
    except BaseException as exc:
        for leftover in (temporary, *(Path(f"{temporary}{end}") for end in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        if isinstance(exc, sqlite3.DatabaseError):
            raise StoreError(f"cannot write spam database {path}: {exc}") from exc
        if isinstance(exc, OSError):
            raise StoreError(f"cannot replace spam database {path}: {exc.strerror}") from exc
        raise
    return counts
