"""pytest-benchmark suites for the spam filter's hot path, on real mail.

Each step is measured on the issue's 1,210 test messages, so the numbers add up to what
``bench/spam_side_by_side.py`` reports and show where the time goes: parsing (the lossless
tree of stack.mime, which the tokenizer reads), tokenizing on top of parsing, and scoring
tokens against loaded counts.

Run:  pytest bench/bench_spam.py --benchmark-only -p no:xdist
"""

from __future__ import annotations

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.shared import corpora_dir
from stack.mime.lossless import parse
from stack.spam.counts import Training, WordCounts
from stack.spam.evaluation import Split, corpus_split
from stack.spam.filter import ClassifierName, make_classifier, training_tokens
from stack.spam.tokenizer import MAX_MESSAGE_BYTES, tokenize


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
def counts(split: Split) -> WordCounts:
    training = Training()
    for path in split.spam_train:
        training.add(training_tokens(path.read_bytes()), spam=True)
    for path in split.ham_train:
        training.add(training_tokens(path.read_bytes()), spam=False)
    loaded = WordCounts()
    loaded.apply(training)
    return loaded


def test_parse_1210_messages(benchmark: BenchmarkFixture, test_messages: list[bytes]) -> None:
    benchmark(lambda: [parse(data[:MAX_MESSAGE_BYTES]) for data in test_messages])


def test_tokenize_1210_messages(benchmark: BenchmarkFixture, test_messages: list[bytes]) -> None:
    benchmark(lambda: [tokenize(data, repeats=False) for data in test_messages])


@pytest.mark.parametrize("name", ["fisher", "graham"])
def test_score_1210_token_lists(
    benchmark: BenchmarkFixture,
    test_messages: list[bytes],
    counts: WordCounts,
    name: ClassifierName,
) -> None:
    classifier = make_classifier(counts, name)
    token_lists = [tokenize(data, repeats=classifier.repeats) for data in test_messages]
    benchmark(lambda: [classifier.score(tokens) for tokens in token_lists])


def test_load_counts_into_a_classifier(benchmark: BenchmarkFixture, counts: WordCounts) -> None:
    benchmark(lambda: make_classifier(counts, "fisher"))
