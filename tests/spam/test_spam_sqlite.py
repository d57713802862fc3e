"""The SQLite store: durable across opens, atomic when a write fails half-way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stack.spam.counts import Training, WordCounts
from stack.spam.stores import SqliteStore, StoreError


def test_counts_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    training = Training()
    training.add(["alpha", "beta"], spam=True)
    with SqliteStore(path) as store:
        store.apply(training)
    with SqliteStore(path, create=False) as store:
        counts = store.load()
    assert counts.spam_messages == 1
    assert counts.words == {"alpha": (1, 0), "beta": (1, 0)}


def test_database_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failure_in_the_middle_of_a_write_leaves_the_database_unchanged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "words.db"
    first = Training()
    first.add(["kept"], spam=False)
    with SqliteStore(path) as store:
        store.apply(first)
        before = store.load()

        class Exploding(Training):
            """Yields some changes, then fails as a full disk or a bug would."""

            def items(self):  # type: ignore[no-untyped-def]
                yield "written-then-rolled-back", (1, 0)
                raise OSError("disk full")

        exploding = Exploding()
        exploding.spam_messages = 1
        with pytest.raises(OSError, match="disk full"):
            store.apply(exploding)
        assert store.load() == before


def test_a_missing_database_is_a_clear_error_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no spam database"):
        SqliteStore(tmp_path / "absent.db", create=False)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        SqliteStore(path)


def test_an_empty_file_is_refused_when_not_creating_and_left_empty(tmp_path: Path) -> None:
    # SQLite reads a zero-byte file as a database with no tables; classifying against it
    # would find no counts and call every message unknown without a word of warning.
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(StoreError, match=f"{path} is empty, not a word database"):
        SqliteStore(path, create=False)
    assert path.stat().st_size == 0


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY)")
    db.close()
    for create in (False, True):
        with pytest.raises(StoreError, match=f"{path} is not a word database"):
            SqliteStore(path, create=create)
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
    db.close()
    assert tables == ["messages"]


def test_an_empty_file_becomes_a_word_database_when_training(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with SqliteStore(path) as store:
        assert store.load() == WordCounts()
    with SqliteStore(path, create=False) as store:
        assert store.load() == WordCounts()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_a_refused_file_is_not_kept_open(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()

    def handles() -> int:
        fds = Path("/proc/self/fd")
        return sum(1 for fd in fds.iterdir() if fd.resolve(strict=False) == path.resolve())

    # The error is kept alive, and with it the store that raised it: the file must be
    # closed by then, not when the error is collected.
    with pytest.raises(StoreError) as refused:
        SqliteStore(path, create=False)
    assert refused.value and handles() == 0
