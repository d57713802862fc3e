"""What stack.spam.stores.sqlite promises beyond the main tests: training by replacing the
file (what the spamfilter service watches for) is whole or nothing and leaves no stray files,
and a damaged database is an error that names it, never a traceback."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import resource
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.spam.counts import Training, WordCounts
from stack.spam.filter import Features, learn, learn_regression
from stack.spam.ngrams import FEATURES
from stack.spam.stores import SqliteStore, StoreError
from stack.spam.stores import sqlite as sqlite_store
from stack.spam.stores.sqlite import apply_by_replacing


def _training(*messages: tuple[bool, list[str]], sign: int = 1) -> Training:
    training = Training()
    for spam, tokens in messages:
        training.add(tokens, spam=spam, sign=sign)
    return training


def _load(path: Path) -> WordCounts:
    with SqliteStore(path, create=False) as store:
        return store.load()


def test_replacing_a_missing_database_creates_it_with_the_training(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    counts = apply_by_replacing(path, _training((True, ["cheap", "pills"]), (False, ["lunch"])))
    assert counts == WordCounts(1, 1, {"cheap": (1, 0), "pills": (1, 0), "lunch": (0, 1)})
    assert _load(path) == counts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.db"]  # no copy left behind


def test_replacing_adds_to_the_database_and_puts_a_new_file_in_its_place(tmp_path: Path) -> None:
    path = str(tmp_path / "words.db")  # a str names the file as well as a Path does
    apply_by_replacing(path, _training((True, ["cheap"])))
    before = Path(path).stat().st_ino
    with SqliteStore(path, create=False) as reader:  # opened on the old file
        counts = apply_by_replacing(path, _training((True, ["cheap"]), (False, ["lunch"])))
        assert reader.load() == WordCounts(1, 0, {"cheap": (1, 0)})
    assert counts == WordCounts(2, 1, {"cheap": (2, 0), "lunch": (0, 1)})
    assert _load(Path(path)) == counts
    assert Path(path).stat().st_ino != before  # what a watching filter notices
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.db"]


def test_a_refused_replacement_leaves_the_file_as_it_was_and_no_copy(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    apply_by_replacing(path, _training((True, ["cheap"])))
    data = path.read_bytes()
    with pytest.raises(
        StoreError, match=r"^untraining would make a count negative.*nothing was changed$"
    ):
        apply_by_replacing(path, _training((False, ["never"]), sign=-1))
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.db"]


def test_a_file_that_is_not_a_word_database_is_not_replaced(tmp_path: Path) -> None:
    # An empty file is refused as every reader of --db refuses it, not trained over.
    path = tmp_path / "words.db"
    path.touch()
    with pytest.raises(StoreError, match="is empty, not a word database"):
        apply_by_replacing(path, _training((True, ["cheap"])))
    assert path.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.db"]


@contextlib.contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """Writes past ``limit`` bytes fail with EFBIG, as on a full disk (SIGXFSZ ignored)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_a_copy_that_cannot_be_written_is_an_error_naming_the_database(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    apply_by_replacing(path, _training((True, [f"word{i:05}" for i in range(20_000)])))
    data = path.read_bytes()
    with _file_size_limit(len(data) // 2), pytest.raises(StoreError) as refused:
        apply_by_replacing(path, _training((False, ["lunch"])))
    assert str(refused.value).startswith(f"cannot write spam database {path}: ")
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.db"]


def test_a_copy_the_disk_cannot_flush_is_an_error_naming_the_database_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fsync reports a failed write-back as EIO (a disk failure, not something a test can
    # cause on tmpfs, so it is injected): the rename must not happen, as the copy on disk
    # may not hold what was written.
    path = tmp_path / "words.db"
    apply_by_replacing(path, _training((True, ["cheap"])))
    data = path.read_bytes()

    def failing_fsync(flushed: Path) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(flushed))

    monkeypatch.setattr(sqlite_store, "fsync_path", failing_fsync)
    with pytest.raises(StoreError) as refused:
        apply_by_replacing(path, _training((False, ["lunch"])))
    assert str(refused.value) == f"cannot replace spam database {path}: {os.strerror(errno.EIO)}"
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.db"]


def _damage(path: Path, statement: str) -> None:
    """Change the database behind the store's back, as the sqlite3 shell would."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(statement)


def test_a_damaged_database_is_an_error_naming_it_when_read_or_changed(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    with SqliteStore(path) as store:
        store.apply(_training((True, ["cheap"])))
    _damage(path, "DROP TABLE cutoffs")
    _damage(path, "DROP TABLE words")
    name = re.escape(str(path))
    with SqliteStore(path, create=False) as store:
        with pytest.raises(StoreError, match=f"^cannot read spam database {name}: .*cutoffs"):
            store.load()
        with pytest.raises(StoreError, match=f"^cannot update spam database {name}: .*words"):
            store.apply(_training((True, ["cheap"])))


@pytest.mark.parametrize("written", ["'many'", "2.5", "x'01'"])
def test_a_count_that_is_not_an_integer_is_an_error_naming_the_word(
    tmp_path: Path, written: str
) -> None:
    # An INTEGER column of SQLite keeps text, a real or a blob the sqlite3 shell writes, and
    # CHECK (spam >= 0) holds for all three: the store must not hand such a count to a
    # classifier, nor fail on it with a ValueError when it writes the snapshot.
    path = tmp_path / "words.db"
    with SqliteStore(path) as store:
        store.apply(_training((True, ["cheap"]), (False, ["lunch"])))
    _damage(path, f"UPDATE words SET ham = {written} WHERE word = 'lunch'")
    name = re.escape(str(path))
    with SqliteStore(path, create=False) as store:
        with pytest.raises(
            StoreError, match=f"^cannot read spam database {name}: the ham count of 'lunch' is "
        ):
            store.load()
        with pytest.raises(
            StoreError, match=f"^cannot update spam database {name}: the ham count of 'lunch' is "
        ):
            store.apply(_training((True, ["other"])))
    _damage(path, "UPDATE words SET ham = 1 WHERE word = 'lunch'")
    assert _load(path).words == {"cheap": (1, 0), "lunch": (0, 1)}  # the refusal changed nothing


def test_a_database_file_that_is_unreadable_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    path.write_bytes(b"not a database" * 200)
    with pytest.raises(StoreError, match=f"^cannot open spam database {re.escape(str(path))}: "):
        SqliteStore(path)


def test_another_programs_database_is_named_with_its_first_tables(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        for name in "abcdefg":
            db.execute(f"CREATE TABLE {name} (x)")
    with pytest.raises(StoreError, match=r"its tables: a, b, c, d, e\)$"):
        SqliteStore(path)


def test_a_missing_database_is_named_when_not_creating(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(StoreError, match=f"^no spam database at {re.escape(str(path))} "):
        SqliteStore(path, create=False)


def test_a_meta_table_without_a_schema_row_is_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    with SqliteStore(path) as store:
        assert store.load() == WordCounts()
        store.apply(_training((True, ["cheap"])))
    assert _load(path) == WordCounts(1, 0, {"cheap": (1, 0)})


def test_message_counts_missing_from_meta_read_as_zero(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    with SqliteStore(path) as store:
        store.apply(_training((True, ["cheap"]), (False, ["lunch"])))
    _damage(path, "DELETE FROM meta WHERE key IN ('spam', 'ham')")
    counts = _load(path)
    assert (counts.spam_messages, counts.ham_messages) == (0, 0)
    assert counts.words == {"cheap": (1, 0), "lunch": (0, 1)}


def test_a_failed_creation_is_rolled_back_and_names_its_reason(tmp_path: Path) -> None:
    # A meta table of another shape: creating our tables beside it fails half-way, and the
    # tables made before the failure are taken back.
    path = tmp_path / "words.db"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER, extra TEXT)")
    with pytest.raises(
        StoreError, match=f"^cannot open spam database {re.escape(str(path))}: .*3 columns"
    ):
        SqliteStore(path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = [
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
    assert tables == ["meta"]


@pytest.mark.parametrize(
    ("features", "size"),
    [
        pytest.param(FEATURES + 1, 8 * FEATURES, id="other-features"),
        pytest.param(FEATURES, 8, id="short-weights"),
    ],
)
def test_a_stored_regression_of_another_shape_is_refused_with_its_size(
    tmp_path: Path, features: int, size: int
) -> None:
    path = tmp_path / "words.db"
    SqliteStore(path).close()
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("INSERT INTO regression VALUES (1, ?, ?, 0)", (features, b"\0" * size))
    with (
        SqliteStore(path, create=False) as store,
        pytest.raises(
            StoreError, match=f"^{re.escape(str(path))} holds a regression of {features} features"
        ),
    ):
        store.load()


def test_untraining_every_message_leaves_no_record_of_one(tmp_path: Path) -> None:
    # Each trained message's step is kept until it is untrained, then taken back and
    # dropped: more messages than one lookup of their records takes (500) included.
    spam = [b"Subject: offer %d\r\n\r\ncheap pills number %d\r\n" % (i, i) for i in range(600)]
    path = tmp_path / "words.db"
    with SqliteStore(path) as store:
        for forget in (False, True):
            training = Training()
            features: list[Features] = []
            learn(training, spam, spam=True, forget=forget, features=features)
            learn_regression(training, store.load(), features, [], forget=forget)
            store.apply(training)
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM regression_messages").fetchone() == (0,)
