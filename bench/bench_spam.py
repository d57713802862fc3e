"""pytest-benchmark suites for the spam filter's hot path, on real mail.

Each step is measured on the issue's 1,210 test messages, so the numbers add up to what
``bench/spam_side_by_side.py`` reports and show where the time goes: parsing (the lossless
tree of stack.mime, which the tokenizer reads), tokenizing on top of parsing, scoring tokens
against loaded counts, and loading the counts from a word database.

As in ``spam_side_by_side.py``, every message is timed as a filter that stays up meets it:
once, after a warm-up on other mail.  Before each round the caches are emptied (the
tokenizer's, or a new classifier with an empty per-token memo) and warmed up, untimed, on
every fifth training message (968 of them); the round then times each test message once.
Timing the same messages round after round would time caches that hold exactly those
messages.

Run:  pytest bench/bench_spam.py --benchmark-only -p no:xdist -o python_files=bench_*.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.shared import corpora_dir
from stack.mime.lossless import parse
from stack.spam.counts import Training
from stack.spam.evaluation import Split, corpus_split
from stack.spam.filter import CLASSIFIERS, ClassifierName, make_classifier, training_tokens
from stack.spam.stores import SqliteStore
from stack.spam.tokenizer import MAX_MESSAGE_BYTES, clear_caches, tokenize

ROUNDS = 5

_Setup = tuple[tuple[Any, ...], dict[str, Any]]


@pytest.fixture(scope="module")
def split() -> Split:
    root = corpora_dir() / "spamassassin"
    if not root.is_dir():
        pytest.skip(f"SpamAssassin corpus not found at {root}")
    return corpus_split(root)


@pytest.fixture(scope="module")
def test_messages(split: Split) -> list[bytes]:
    return [path.read_bytes() for path in [*split.spam_test, *split.ham_test]]


@pytest.fixture(scope="module")
def warm_up_messages(split: Split) -> list[bytes]:
    """Every fifth training message, as spam_side_by_side.py warms a filter up."""
    return [path.read_bytes() for path in [*split.spam_train, *split.ham_train][::5]]


@pytest.fixture(scope="module")
def training(split: Split) -> Training:
    training = Training()
    for path in split.spam_train:
        training.add(training_tokens(path.read_bytes()), spam=True)
    for path in split.ham_train:
        training.add(training_tokens(path.read_bytes()), spam=False)
    return training


@pytest.fixture(scope="module")
def database(training: Training, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The training split's counts in a SQLite word database, as `spam train` writes it."""
    path = tmp_path_factory.mktemp("spam") / "words.db"
    with SqliteStore(path) as store:
        store.apply(training)
    return path


def test_parse_1210_messages(benchmark: BenchmarkFixture, test_messages: list[bytes]) -> None:
    # The parser keeps nothing from one message to the next, so rounds need no warm-up.
    benchmark(lambda: [parse(data[:MAX_MESSAGE_BYTES]) for data in test_messages])


def test_tokenize_1210_messages(
    benchmark: BenchmarkFixture, test_messages: list[bytes], warm_up_messages: list[bytes]
) -> None:
    def warmed_up() -> _Setup:
        clear_caches()
        for data in warm_up_messages:
            tokenize(data, repeats=False)
        return (), {}

    benchmark.pedantic(
        lambda: [tokenize(data, repeats=False) for data in test_messages],
        setup=warmed_up,
        rounds=ROUNDS,
    )


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_score_1210_token_lists(
    benchmark: BenchmarkFixture,
    test_messages: list[bytes],
    warm_up_messages: list[bytes],
    database: Path,
    name: ClassifierName,
) -> None:
    with SqliteStore(database, create=False) as store:
        counts = store.load()
    repeats = make_classifier(counts, name).repeats
    warm_up = [tokenize(data, repeats=repeats) for data in warm_up_messages]
    token_lists = [tokenize(data, repeats=repeats) for data in test_messages]

    def warmed_up() -> _Setup:
        classifier = make_classifier(counts, name)  # an empty per-token memo
        for tokens in warm_up:
            classifier.score(tokens)
        return (classifier,), {}

    benchmark.pedantic(
        lambda classifier: [classifier.score(tokens) for tokens in token_lists],
        setup=warmed_up,
        rounds=ROUNDS,
    )


def test_load_counts_into_a_classifier(benchmark: BenchmarkFixture, database: Path) -> None:
    """What a command that classifies pays before its first message: open the database,
    load every count (from the snapshot), build the classifier."""

    def load() -> object:
        with SqliteStore(database, create=False) as store:
            return make_classifier(store.load(), "fisher")

    benchmark(load)
