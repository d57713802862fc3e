"""Cutoffs come from the training data, and the figures of ``spam test`` from the scores."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stack.spam.calibration import FOLDS, MIN_PER_CLASS, calibrate, cutoffs
from stack.spam.counts import Training, WordCounts
from stack.spam.evaluation import Evaluation
from stack.spam.filter import SpamFilter
from stack.spam.fisher import FisherClassifier, FisherSettings
from stack.spam.stores import SqliteStore
from stack.spam.verdict import Score, Verdict

scores = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3000)


def _evaluation(spam: list[float], ham: list[float]) -> Evaluation:
    return Evaluation(
        spam=[Score(Verdict.UNKNOWN, p) for p in spam], ham=[Score(Verdict.UNKNOWN, p) for p in ham]
    )


@settings(max_examples=200)
@given(scores, scores)
def test_the_spam_cutoff_misfiles_at_most_a_thousandth_of_the_ham_it_came_from(
    spam: list[float], ham: list[float]
) -> None:
    ham_cutoff, spam_cutoff = cutoffs(spam, ham)
    assert sum(p >= spam_cutoff for p in ham) <= len(ham) // 1000
    assert sum(p <= ham_cutoff for p in spam) <= len(spam) // 200
    assert ham_cutoff < spam_cutoff


def test_cutoffs_follow_the_scores_not_constants() -> None:
    # The same ranking, squeezed near 0.5 or spread to the ends: the cutoffs move with it.
    def spread(spam_low: float, ham_high: float) -> tuple[float, float]:
        spam = [spam_low + i / 10_000 for i in range(100)]
        return cutoffs(spam, [ham_high - i / 10_000 for i in range(100)])

    assert spread(0.55, 0.45)[1] == pytest.approx(0.45, abs=1e-9)
    assert spread(0.95, 0.05)[1] == pytest.approx(0.05, abs=1e-9)


def test_the_ham_cutoff_lets_through_at_most_one_spam_in_two_hundred() -> None:
    spam = [i / 1000 for i in range(1000)]  # 0.000 ... 0.999
    ham_cutoff, spam_cutoff = cutoffs(spam, [0.0] * 10)
    assert spam_cutoff == pytest.approx(0.0, abs=1e-9)
    ham_cutoff, _ = cutoffs([0.5 + p / 2 for p in spam], [0.6] * 2000)
    # Five of 1,000 spam (0.5000 ... 0.5020) may fall at or below it: just under the sixth.
    assert ham_cutoff == pytest.approx(0.5025, abs=1e-9)


def _tokens(kind: str, count: int) -> list[list[str]]:
    # Each message: the class's own words and some shared ones.
    return [[f"{kind}{i % 7}", f"{kind}-{i % 5}", f"shared{i % 3}"] for i in range(count)]


def test_a_run_too_small_calibrates_nothing() -> None:
    few = MIN_PER_CLASS - 1
    assert calibrate(WordCounts(), _tokens("s", few), _tokens("h", 500), None, None) == {}


def test_calibration_gives_cutoffs_for_each_classifier_the_margins_allow() -> None:
    spam, ham = _tokens("s", 100), _tokens("h", 100)
    assert set(calibrate(WordCounts(), spam, ham, None, None)) == {"fisher"}
    found = calibrate(WordCounts(), spam, ham, [2.0] * 100, [-2.0] * 100)
    assert set(found) == {"fisher", "lr", "fisher-lr"}
    for ham_cutoff, spam_cutoff in found.values():
        assert 0.0 <= ham_cutoff < spam_cutoff <= 1.0


def test_stored_cutoffs_decide_the_verdict(tmp_path: Path) -> None:
    message = b"Subject: cash\r\n\r\ncash\r\n"
    with SqliteStore(tmp_path / "words.db") as store:
        training = Training()
        training.add(["cash"], spam=True)
        training.add(["minutes"], spam=False)
        store.apply(training)
        uncalibrated = SpamFilter(store.load(), "fisher").classify(message)
        assert 0.5 < uncalibrated.probability < FisherSettings().spam_cutoff
        training = Training()
        training.cutoffs = {"fisher": (0.1, uncalibrated.probability)}
        store.apply(training)
        counts = store.load()
    assert counts.cutoffs == {"fisher": (0.1, uncalibrated.probability)}
    assert uncalibrated.verdict is Verdict.UNKNOWN
    assert SpamFilter(counts, "fisher").classify(message).verdict is Verdict.YES


def test_caught_at_misfiled_ham_counts_spam_strictly_above_the_ham_let_through() -> None:
    evaluation = _evaluation([0.9, 0.8, 0.7, 0.6], [0.75, 0.1] + [0.0] * 998)
    assert evaluation.caught_at(0.0) == 0.5  # above 0.75
    assert evaluation.caught_at(0.001) == 1.0  # one ham of 1,000 may go: above 0.1


def test_roc_area_is_the_share_of_pairs_in_order_ties_half() -> None:
    assert _evaluation([0.9, 0.8], [0.1, 0.2]).roc_area() == 1.0
    assert _evaluation([0.1], [0.9]).roc_area() == 0.0
    assert _evaluation([0.5, 0.9], [0.5]).roc_area() == 0.75


def test_fisher_is_calibrated_on_scores_from_counts_without_the_fold() -> None:
    spam, ham = _tokens("s", 60), _tokens("h", 70)
    spam[3] = ["h1", "shared0", "s-2"]  # a spam that looks like ham moves the cutoffs
    prior = WordCounts(3, 4, {"shared1": (3, 4)})
    scores: list[list[float]] = [[], []]
    for kind, messages in enumerate((spam, ham)):
        for index, tokens in enumerate(messages):
            # Trained on the prior and every message of the other folds, as by hand.
            training = Training()
            for other_kind, others in enumerate((spam, ham)):
                for other_index, other in enumerate(others):
                    if other_index % FOLDS != index % FOLDS:
                        training.add(other, spam=other_kind == 0)
            counts = WordCounts(prior.spam_messages, prior.ham_messages, dict(prior.words))
            counts.apply(training)
            scores[kind].append(FisherClassifier(counts).score(tokens).probability)
    expected = cutoffs(scores[0], scores[1])
    assert calibrate(prior, spam, ham, None, None)["fisher"] == expected
