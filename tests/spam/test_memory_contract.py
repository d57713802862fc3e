"""What the stores that keep the regression (memory and SQLite) promise beyond the main tests:
the calibrated cutoffs and the fisher-lr weight a training sets are kept, a training that sets
none keeps the stored ones, and the memory store serves the counts it was given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.spam.counts import Training, WordCounts
from stack.spam.filter import Features, learn, learn_regression
from stack.spam.stores import MemoryStore, SqliteStore, WordStore


@pytest.fixture(params=["sqlite", "memory"])
def keeping_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WordStore]:
    store: WordStore = (
        SqliteStore(tmp_path / "words.db") if request.param == "sqlite" else MemoryStore()
    )
    assert store.keeps_regression
    yield store
    store.close()


def test_cutoffs_and_weight_are_kept_until_a_training_sets_new_ones(
    keeping_store: WordStore,
) -> None:
    first = Training()
    first.add(["cheap"], spam=True)
    first.cutoffs = {"fisher": (0.2, 0.9), "graham": (0.1, 0.8)}
    first.lr_weight = 0.25
    keeping_store.apply(first)
    counts = keeping_store.load()
    assert counts.cutoffs == {"fisher": (0.2, 0.9), "graham": (0.1, 0.8)}
    assert counts.lr_weight == 0.25

    plain = Training()
    plain.add(["lunch"], spam=False)
    keeping_store.apply(plain)
    counts = keeping_store.load()
    assert counts.cutoffs == {"fisher": (0.2, 0.9), "graham": (0.1, 0.8)}
    assert counts.lr_weight == 0.25

    second = Training()
    second.cutoffs = {"fisher": (0.3, 0.95)}
    second.lr_weight = 0.0  # a weight of zero is a choice, not "no weight"
    keeping_store.apply(second)
    counts = keeping_store.load()
    assert counts.cutoffs == {"fisher": (0.3, 0.95), "graham": (0.1, 0.8)}
    assert counts.lr_weight == 0.0


def test_a_new_store_has_no_weight_and_no_cutoffs(keeping_store: WordStore) -> None:
    counts = keeping_store.load()
    assert (counts.cutoffs, counts.lr_weight, counts.regression) == ({}, None, None)


def test_a_memory_store_serves_the_counts_it_was_given_as_copies() -> None:
    given = WordCounts(2, 3, {"w": (1, 2)}, cutoffs={"fisher": (0.2, 0.9)}, lr_weight=0.5)
    store = MemoryStore(given)
    loaded = store.load()
    assert loaded == given
    loaded.words["w"] = (0, 0)
    loaded.cutoffs.clear()
    assert store.load() == given  # a classifier never changes the store's counts


def _train(store: WordStore, spam: list[bytes], ham: list[bytes], *, forget: bool = False) -> None:
    """What ``spam train`` does: counts and regression in one change."""
    training = Training()
    spam_features: list[Features] = []
    ham_features: list[Features] = []
    learn(training, spam, spam=True, forget=forget, features=spam_features)
    learn(training, ham, spam=False, forget=forget, features=ham_features)
    learn_regression(training, store.load(), spam_features, ham_features, forget=forget)
    store.apply(training)


def test_untraining_hundreds_of_messages_at_once_restores_the_regression_exactly(
    keeping_store: WordStore,
) -> None:
    # More messages than one lookup of their records takes (the SQLite store asks for them
    # 500 at a time): each one's step must be found and taken back.
    kept = [b"Subject: kept\r\n\r\nthe minutes of the meeting\r\n"]
    _train(keeping_store, [], kept)
    before = keeping_store.load()
    spam = [b"Subject: offer %d\r\n\r\ncheap pills number %d\r\n" % (i, i) for i in range(600)]
    _train(keeping_store, spam, [])
    assert keeping_store.load().regression != before.regression
    _train(keeping_store, spam, [], forget=True)
    after = keeping_store.load()
    assert (after.regression, after.words, after.spam_messages) == (
        before.regression, before.words, before.spam_messages
    )  # fmt: skip


def test_both_stores_hold_the_same_counts_and_model_after_the_same_trainings(
    tmp_path: Path,
) -> None:
    # Backends differ in where, never in what they mean: the model's weights and its bias
    # (one-sided training moves it) are the same in memory and in SQLite.
    spam = [b"Subject: offer %d\r\n\r\ncheap pills number %d\r\n" % (i, i) for i in range(8)]
    ham = [b"Subject: minutes\r\n\r\nthe minutes of the meeting\r\n"]
    with SqliteStore(tmp_path / "words.db") as sqlite:
        memory = MemoryStore()
        for store in (sqlite, memory):
            _train(store, spam, [])
            _train(store, [], ham)
            _train(store, spam[:3], [], forget=True)
        on_disk, in_memory = sqlite.load(), memory.load()
    assert in_memory.regression is not None and in_memory.regression.bias != 0
    assert on_disk == in_memory
