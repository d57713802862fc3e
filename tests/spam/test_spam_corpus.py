"""The filter on real mail: the SpamAssassin public corpus (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.spam.counts import Training, WordCounts
from stack.spam.evaluation import Evaluation, corpus_split, every_fifth
from stack.spam.filter import DEFAULT_CLASSIFIER, SpamFilter, learn
from stack.spam.tokenizer import tokenize
from stack.spam.training import train_database


def _evaluate(
    spam_train: list[Path], ham_train: list[Path], spam_test: list[Path], ham_test: list[Path],
    classifier: str = "fisher",
) -> Evaluation:  # fmt: skip
    training = Training()
    learn(training, (p.read_bytes() for p in spam_train), spam=True)
    learn(training, (p.read_bytes() for p in ham_train), spam=False)
    counts = WordCounts()
    counts.apply(training)
    spam_filter = SpamFilter(counts, classifier)  # type: ignore[arg-type]
    return Evaluation(
        spam=[spam_filter.classify(p.read_bytes()) for p in spam_test],
        ham=[spam_filter.classify(p.read_bytes()) for p in ham_test],
    )


def test_a_small_real_training_set_already_separates_held_out_mail(spamassassin: Path) -> None:
    spam = sorted((spamassassin / "spam").iterdir())[:150]
    ham = sorted((spamassassin / "easy_ham").iterdir())[:150]
    spam_train, spam_test = every_fifth(spam)
    ham_train, ham_test = every_fifth(ham)
    evaluation = _evaluate(spam_train, ham_train, spam_test, ham_test)
    # 120 messages per class: the cautious spam cutoff leaves much spam unknown, but
    # nothing is filed on the wrong side.
    assert evaluation.counts("ham")["yes"] == 0
    assert evaluation.rates("spam")["yes"] >= 0.6
    assert evaluation.rates("spam")["no"] <= 0.1
    assert evaluation.rates("ham")["no"] >= 0.95


def test_every_corpus_message_tokenizes(spamassassin: Path) -> None:
    for path in sorted((spamassassin / "spam_2").iterdir())[:300]:
        assert tokenize(path.read_bytes())


@pytest.mark.slow
def test_the_issues_split_meets_the_targets_reached(spamassassin: Path) -> None:
    """The full split of issue 8.  Asserts what the default classifier reaches (see the
    README's table), which is short of the issue's 98% caught and 2% unknown: the measured
    figures are the floor a change must not fall below."""
    split = corpus_split(spamassassin)
    evaluation = _evaluate(split.spam_train, split.ham_train, split.spam_test, split.ham_test)
    spam, ham = evaluation.rates("spam"), evaluation.rates("ham")
    assert evaluation.counts("ham")["yes"] == 0  # no good mail filed as spam
    assert spam["yes"] >= 0.94  # measured 95.0% (361 of 380)
    assert spam["no"] <= 0.01  # measured 0.3% (1 of 380)
    assert ham["unknown"] <= 0.02


@pytest.mark.slow
def test_the_issues_split_with_the_regression_and_calibrated_cutoffs(
    spamassassin: Path, tmp_path: Path
) -> None:
    """Issue 17's targets, trained as ``spam train`` trains (counts, regression, cutoffs
    and weight calibrated on the training mail): the default classifier catches at least
    96% of the test spam, misfiles no ham, and leaves at most 2% of each class unknown."""
    split = corpus_split(spamassassin)
    result = train_database(
        tmp_path / "words.db",
        (p.read_bytes() for p in split.spam_train),
        (p.read_bytes() for p in split.ham_train),
    )
    results = {}
    for name in ("fisher", "fisher-lr"):
        spam_filter = SpamFilter(result.counts, name)  # type: ignore[arg-type]
        results[name] = Evaluation(
            spam=[spam_filter.classify(p.read_bytes()) for p in split.spam_test],
            ham=[spam_filter.classify(p.read_bytes()) for p in split.ham_test],
        )
    for evaluation in results.values():
        assert evaluation.counts("ham")["yes"] == 0
    default = results[DEFAULT_CLASSIFIER]
    spam, ham = default.rates("spam"), default.rates("ham")
    assert spam["yes"] >= 0.96  # measured 96.6%
    assert spam["unknown"] <= 0.02  # measured 1.3%
    assert ham["unknown"] <= 0.02  # measured 0.0%
    # The order of the scores: what better cutoffs could reach.
    assert default.caught_at(0.0) >= 0.98  # measured 99.2% (Fisher 96.1%)
