"""The SQLite store's snapshot, which ``load()`` reads instead of every row of ``words``.

It must always say what the rows say.  When it cannot (no snapshot yet, a row changed behind
the store's back, a corrupt blob, a word it cannot hold), ``load()`` reads the rows instead:
slower, never different.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stack.spam.counts import Training, WordCounts
from stack.spam.regression import OnlineTrainer
from stack.spam.stores import SqliteStore, StoreError
from stack.spam.stores.snapshot import decode_snapshot, encode_snapshot
from stack.spam.stores.sqlite import SCHEMA_VERSION


def _rows(path: Path) -> WordCounts:
    """What the rows of the database say, read without the store."""
    with sqlite3.connect(path) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        words = {w: (s, h) for w, s, h in db.execute("SELECT word, spam, ham FROM words")}
    return WordCounts(meta["spam"], meta["ham"], words)


def _snapshot(path: Path) -> dict[str, tuple[int, int]] | None:
    """What the snapshot says, read without the store; ``None`` when there is none."""
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT words, pairs, word_pairs FROM snapshot").fetchone()
    return None if row is None else decode_snapshot(*row)


def _execute(path: Path, statement: str, *parameters: object) -> None:
    """Change the database behind the store's back, as the sqlite3 shell would."""
    with sqlite3.connect(path) as db:
        db.execute(statement, parameters)


def _training(*messages: tuple[bool, list[str]], sign: int = 1) -> Training:
    training = Training()
    for spam, tokens in messages:
        training.add(tokens, spam=spam, sign=sign)
    return training


def _trained(path: Path) -> None:
    with SqliteStore(path) as store:
        store.apply(
            _training(
                (True, ["cheap", "viagra", "héllo"]),
                (True, ["cheap", "money"]),
                (False, ["meeting", "cheap"]),
            )
        )


@contextmanager
def _database() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / "words.db"


_tokens = st.lists(
    st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=6), max_size=6
)
_messages = st.lists(st.tuples(st.booleans(), _tokens), max_size=6)


@settings(max_examples=40, deadline=None)
@given(first=_messages, second=_messages, forget=st.integers(min_value=0, max_value=6))
def test_after_every_change_the_snapshot_says_what_the_rows_say(
    first: list[tuple[bool, list[str]]], second: list[tuple[bool, list[str]]], forget: int
) -> None:
    imported = Training()
    imported.merge_counts(WordCounts(3, 4, {"imported": (2**40, 1), "cheap": (1, 0)}))
    changes = [
        _training(*first),
        _training(*second),
        imported,
        _training(*second, sign=-1),
        _training(*first[:forget], sign=-1),
    ]
    with _database() as path, SqliteStore(path) as store:
        for change in changes:
            store.apply(change)
            assert _snapshot(path) == _rows(path).words
            assert store.load() == _rows(path)


def test_load_reads_the_snapshot_rather_than_the_rows(tmp_path: Path) -> None:
    # A snapshot written behind the store's back, unlike the rows, shows which one load()
    # read; only apply() writes one in real life, so the two never differ.
    path = tmp_path / "words.db"
    _trained(path)
    snapshot = encode_snapshot([("only-in-the-snapshot", 5, 6)])
    assert snapshot is not None
    _execute(path, "UPDATE snapshot SET words = ?, pairs = ?, word_pairs = ?", *snapshot)
    with SqliteStore(path, create=False) as store:
        assert store.load().words == {"only-in-the-snapshot": (5, 6)}


def test_a_database_of_schema_1_is_upgraded_and_given_its_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            PRAGMA journal_mode=WAL;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL CHECK (value >= 0));
            CREATE TABLE words (
                word TEXT PRIMARY KEY,
                spam INTEGER NOT NULL CHECK (spam >= 0),
                ham INTEGER NOT NULL CHECK (ham >= 0)
            ) WITHOUT ROWID;
            INSERT INTO meta VALUES ('schema', 1), ('spam', 2), ('ham', 1);
            INSERT INTO words VALUES ('cheap', 2, 1), ('meeting', 0, 1);
            """
        )
    with SqliteStore(path, create=False) as store:
        assert store.load() == WordCounts(2, 1, {"cheap": (2, 1), "meeting": (0, 1)})
    assert _snapshot(path) == {"cheap": (2, 1), "meeting": (0, 1)}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
            SCHEMA_VERSION,
        )


def test_a_database_of_schema_2_is_upgraded_and_then_keeps_a_regression(
    tmp_path: Path,
) -> None:
    path = tmp_path / "words.db"
    _trained(path)
    with sqlite3.connect(path) as db:  # back to schema 2: no regression, no cutoffs
        db.executescript(
            """
            DROP TABLE regression; DROP TABLE regression_messages; DROP TABLE cutoffs;
            UPDATE meta SET value = 2 WHERE key = 'schema';
            """
        )
    with SqliteStore(path, create=False) as store:
        before = store.load()
        assert before.regression is None
        training = Training()
        change = OnlineTrainer(None)
        change.train([1, 2, 3], b"d" * 16, spam=True)
        training.regression = change.change
        training.cutoffs = {"fisher": (0.25, 0.75)}
        store.apply(training)
        after = store.load()
    assert after.words == before.words
    assert after.regression is not None and after.regression.weights[2] != 0
    assert after.cutoffs == {"fisher": (0.25, 0.75)}


def test_a_database_of_schema_3_is_upgraded_and_then_keeps_the_weight_it_chose(
    tmp_path: Path,
) -> None:
    path = tmp_path / "words.db"
    _trained(path)
    with sqlite3.connect(path) as db:  # back to schema 3: cutoffs, but no weight
        db.executescript(
            """
            DROP TABLE lr_weight;
            INSERT INTO cutoffs VALUES ('fisher-lr', 0.2, 0.8);
            UPDATE meta SET value = 3 WHERE key = 'schema';
            """
        )
    with SqliteStore(path, create=False) as store:
        before = store.load()
        # Its cutoffs were calibrated for the constant weight: fisher-lr uses that one.
        assert before.lr_weight is None
        assert before.cutoffs == {"fisher-lr": (0.2, 0.8)}
        training = Training()
        training.lr_weight = 3.0
        store.apply(training)
    with SqliteStore(path, create=False) as store:
        after = store.load()
    assert after.words == before.words
    assert after.lr_weight == 3.0


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    SqliteStore(path).close()
    _execute(path, "UPDATE meta SET value = ? WHERE key = 'schema'", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=f"has schema {SCHEMA_VERSION + 1}, expected"):
        SqliteStore(path)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE words SET spam = 7 WHERE word = 'cheap'",
        "INSERT INTO words VALUES ('added', 1, 1)",
        "DELETE FROM words WHERE word = 'money'",
    ],
)
def test_a_row_changed_behind_the_stores_back_drops_the_snapshot(
    tmp_path: Path, statement: str
) -> None:
    path = tmp_path / "words.db"
    _trained(path)
    _execute(path, statement)
    assert _snapshot(path) is None
    with SqliteStore(path) as store:
        assert store.load() == _rows(path)
        store.apply(_training((False, ["lunch"])))
    assert _snapshot(path) == _rows(path).words


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("words", b"\xff\xfe not UTF-8"),
        ("words", b"cheap\nviagra"),  # fewer words than indexes
        ("words", "cheap\nh\u00e9llo\nmeeting\nmoney\nviagra"),  # text, not a blob
        ("words", b"cheap\ncheap\nmeeting\nmoney\nviagra"),  # a word twice
        ("pairs", b"\x01\x00\x00"),  # not whole integers
        ("pairs", b""),  # indexes into nothing
        ("word_pairs", b"\x00\x00\x00"),  # not whole integers
        ("word_pairs", b"\xff\xff\xff\xff" * 5),  # out of range
        ("format", 2),  # a format this program does not know
    ],
)
def test_a_corrupt_snapshot_is_ignored_and_the_rows_are_read(
    tmp_path: Path, column: str, value: object
) -> None:
    path = tmp_path / "words.db"
    _trained(path)
    _execute(path, f"UPDATE snapshot SET {column} = ?", value)
    with SqliteStore(path, create=False) as store:
        assert store.load() == _rows(path)


def test_a_word_holding_a_newline_is_kept_without_a_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    with SqliteStore(path) as store:
        store.apply(_training((True, ["two\nlines", "plain"])))
        assert _snapshot(path) is None
        assert store.load().words == {"two\nlines": (1, 0), "plain": (1, 0)}
        store.apply(_training((True, ["two\nlines"]), sign=-1))
        assert _snapshot(path) == {"plain": (1, 0)}


def test_a_failed_training_keeps_the_snapshot_it_had(tmp_path: Path) -> None:
    path = tmp_path / "words.db"
    _trained(path)
    before = _snapshot(path)
    with SqliteStore(path) as store, pytest.raises(StoreError, match="nothing was changed"):
        store.apply(_training((False, ["never-trained"]), sign=-1))
    assert _snapshot(path) == before == _rows(path).words


_counts = st.integers(min_value=0, max_value=2**63 - 1)


@given(
    st.dictionaries(
        st.text(st.characters(codec="utf-8", exclude_characters="\n")),
        st.tuples(_counts, _counts),
    )
)
def test_the_snapshot_format_round_trips_any_words_and_counts(
    words: dict[str, tuple[int, int]],
) -> None:
    snapshot = encode_snapshot((word, spam, ham) for word, (spam, ham) in words.items())
    assert snapshot is not None
    assert decode_snapshot(*snapshot) == words


def test_the_snapshot_format_tells_no_words_from_the_empty_word() -> None:
    for words in ({}, {"": (1, 2)}):
        snapshot = encode_snapshot((word, spam, ham) for word, (spam, ham) in words.items())
        assert snapshot is not None
        assert decode_snapshot(*snapshot) == words
    assert decode_snapshot(b"stray", b"", b"") is None
