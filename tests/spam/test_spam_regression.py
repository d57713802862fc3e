"""The on-line regression: its features, exact untraining in every store that keeps it, and
classification of any message of the grammar."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.strategies import wire_messages
from harness.strategies.mime import Entity
from stack.spam.counts import Training
from stack.spam.filter import SpamFilter, interleave, learn, learn_regression
from stack.spam.ngrams import FEATURES, HEAD_BYTES, head_buckets, head_features
from stack.spam.regression import Regression
from stack.spam.stores import MemoryStore, SqliteStore, StoreError, WordStore

SPAM = b"From: winner@lottery.example\r\nSubject: FREE cash now\r\n\r\nClaim your prize now!\r\n"
HAM = b"From: alice@example.org\r\nSubject: minutes\r\n\r\nThe minutes of the meeting.\r\n"


@pytest.fixture(params=["sqlite", "memory"])
def regression_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WordStore]:
    """An empty store of each backend that keeps the regression."""
    store: WordStore = SqliteStore(tmp_path / "words.db") if request.param == "sqlite" else (
        MemoryStore()
    )  # fmt: skip
    yield store
    store.close()


def _train(store: WordStore, spam: list[bytes], ham: list[bytes], *, forget: bool = False) -> None:
    """What ``spam train`` does: counts and regression in one change."""
    training = Training()
    spam_features: list[tuple[object, bytes]] = []
    ham_features: list[tuple[object, bytes]] = []
    learn(training, spam, spam=True, forget=forget, features=spam_features)  # type: ignore[arg-type]
    learn(training, ham, spam=False, forget=forget, features=ham_features)  # type: ignore[arg-type]
    learn_regression(training, store.load(), spam_features, ham_features, forget=forget)  # type: ignore[arg-type]
    store.apply(training)


def _model(store: WordStore) -> Regression:
    return store.load().regression or Regression()


def test_a_4gram_is_its_little_endian_integer_modulo_the_buckets() -> None:
    assert head_features(b"abcd") == [int.from_bytes(b"abcd", "little") % FEATURES]
    assert head_features(b"abc") == []
    # Every offset, each 4-gram once: "abcdabcd" holds abcd, bcda, cdab, dabc.
    grams = {b"abcd", b"bcda", b"cdab", b"dabc"}
    expected = sorted({int.from_bytes(g, "little") % FEATURES for g in grams})
    assert head_features(b"abcdabcd") == expected


@given(st.binary(max_size=5000))
def test_the_buckets_are_every_4gram_of_the_head_once_in_ascending_order(data: bytes) -> None:
    head = data[:HEAD_BYTES]
    grams = {int.from_bytes(head[i : i + 4], "little") for i in range(len(head) - 3)}
    expected = sorted({gram % FEATURES for gram in grams})
    assert head_buckets(data).tolist() == expected
    assert head_features(data) == expected


def test_only_the_head_is_read() -> None:
    head = bytes(range(256)) * (HEAD_BYTES // 256 + 1)
    assert head_features(head[:HEAD_BYTES] + b"tail that is never read") == head_features(
        head[:HEAD_BYTES]
    )


def test_features_are_the_same_in_every_process_whatever_the_hash_seed() -> None:
    script = f"from stack.spam.ngrams import head_features; print(head_features({SPAM!r}))"

    def features_with_seed(seed: str) -> str:
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        command = [sys.executable, "-c", script]
        run = subprocess.run(command, capture_output=True, text=True, check=True, env=environment)
        return run.stdout

    outputs = {features_with_seed(seed) for seed in ("1", "2", "random")}
    assert outputs == {f"{head_features(SPAM)}\n"}


def test_training_moves_spam_up_and_ham_down(regression_store: WordStore) -> None:
    _train(regression_store, [SPAM] * 5, [HAM] * 5)
    spam_filter = SpamFilter(regression_store.load(), "lr")
    assert spam_filter.classify(SPAM).probability > 0.5 > spam_filter.classify(HAM).probability


def test_untraining_everything_leaves_every_weight_at_zero(regression_store: WordStore) -> None:
    _train(regression_store, [SPAM, SPAM + b"2"], [HAM, HAM + b"2", HAM + b"3"])
    assert any(_model(regression_store).weights)
    _train(regression_store, [SPAM, SPAM + b"2"], [HAM, HAM + b"2", HAM + b"3"], forget=True)
    assert _model(regression_store) == Regression()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(wire_messages(), min_size=2, max_size=4), st.data())
def test_training_then_untraining_a_message_restores_the_model_exactly(
    tmp_path_factory: pytest.TempPathFactory, entities: list[Entity], data: st.DataObject
) -> None:
    with SqliteStore(tmp_path_factory.mktemp("db") / "words.db") as store:
        messages = [entity.data for entity in entities]
        spam = [m for i, m in enumerate(messages) if i % 2]
        _train(store, spam, [m for i, m in enumerate(messages) if not i % 2])
        before = _model(store)
        extra = data.draw(wire_messages()).data
        is_spam = data.draw(st.booleans())
        _train(store, [extra] if is_spam else [], [] if is_spam else [extra])
        _train(store, [extra] if is_spam else [], [] if is_spam else [extra], forget=True)
        assert _model(store) == before


def test_a_message_trained_twice_and_untrained_once_counts_once(
    regression_store: WordStore,
) -> None:
    _train(regression_store, [SPAM], [HAM])
    once = _model(regression_store)
    _train(regression_store, [SPAM], [])
    _train(regression_store, [SPAM], [], forget=True)
    assert _model(regression_store) == once


def test_untraining_a_message_the_regression_never_saw_untrains_only_the_counts(
    regression_store: WordStore,
) -> None:
    # Trained by counts alone, as a database trained before the regression existed was.
    training = Training()
    training.add(["cash"], spam=True)
    regression_store.apply(training)
    _train(regression_store, [SPAM], [HAM])
    before = _model(regression_store)
    training = Training()
    training.add(["cash"], spam=True, sign=-1)
    learn_regression(training, regression_store.load(), [(head_features(b"cash"), b"?" * 16)], [],
                     forget=True)  # fmt: skip
    regression_store.apply(training)
    assert _model(regression_store) == before
    assert "cash" not in regression_store.load().words


def test_untraining_a_message_never_trained_at_all_changes_nothing(
    regression_store: WordStore,
) -> None:
    _train(regression_store, [SPAM], [HAM])
    before = regression_store.load()
    with pytest.raises(StoreError, match="negative"):
        _train(regression_store, [b"Subject: never\r\n\r\nseen at all\r\n"], [], forget=True)
    after = regression_store.load()
    assert (after.regression, after.words) == (before.regression, before.words)


def test_a_database_without_a_regression_is_a_store_error_for_lr() -> None:
    with pytest.raises(StoreError, match="no regression"):
        SpamFilter(MemoryStore().load(), "lr")


def test_classes_are_dealt_in_proportion() -> None:
    order = [is_spam for _, is_spam in interleave([1, 2], [3, 4, 5, 6])]
    assert order == [True, False, False, True, False, False]
    assert [item for item, _ in interleave([1, 2], [3, 4, 5, 6])] == [1, 3, 4, 2, 5, 6]


_TRAINED = MemoryStore()
_train(_TRAINED, [SPAM, SPAM + b"!"], [HAM, HAM + b"."])
_FILTERS = [SpamFilter(_TRAINED.load(), name) for name in ("lr", "fisher-lr")]


@settings(max_examples=50, deadline=None)
@given(wire_messages())
def test_classifying_any_message_of_the_grammar_never_raises(entity: Entity) -> None:
    for spam_filter in _FILTERS:
        assert 0.0 <= spam_filter.classify(entity.data).probability <= 1.0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000))
def test_classifying_any_bytes_never_raises(data: bytes) -> None:
    for spam_filter in _FILTERS:
        assert 0.0 <= spam_filter.classify(data).probability <= 1.0
