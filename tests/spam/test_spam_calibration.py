"""Cutoffs come from the training data, and the figures of ``spam test`` from the scores."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stack.spam.calibration import (
    MIN_PER_CLASS,
    UNKNOWN,
    Calibration,
    calibrate,
    choose_weight,
    cutoffs,
    held_out_fisher,
)
from stack.spam.combined import LR_WEIGHT, combine
from stack.spam.counts import Training, WordCounts
from stack.spam.evaluation import Evaluation
from stack.spam.filter import SpamFilter, interleave
from stack.spam.fisher import FisherClassifier, FisherSettings, mean_log_odds
from stack.spam.ngrams import head_buckets
from stack.spam.regression import OnlineTrainer
from stack.spam.stores import SqliteStore
from stack.spam.verdict import Score, Verdict

scores = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3000)


def _evaluation(spam: list[float], ham: list[float]) -> Evaluation:
    return Evaluation(
        spam=[Score(Verdict.UNKNOWN, p) for p in spam], ham=[Score(Verdict.UNKNOWN, p) for p in ham]
    )


@settings(max_examples=200)
@given(scores, scores)
def test_the_cutoffs_misfile_at_most_a_thousandth_of_the_ham_and_leave_one_percent_unknown(
    spam: list[float], ham: list[float]
) -> None:
    ham_cutoff, spam_cutoff = cutoffs(spam, ham)
    assert sum(p >= spam_cutoff for p in ham) <= len(ham) // 1000
    for scores_of_class in (spam, ham):
        unknown = sum(ham_cutoff < p < spam_cutoff for p in scores_of_class)
        assert unknown <= int(UNKNOWN * len(scores_of_class))
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
    # Ten low spam (0.01 ... 0.10), the rest far above the spam cutoff (just above 0.2).
    spam = [(i + 1) / 100 for i in range(10)] + [0.9] * 990
    ham_cutoff, spam_cutoff = cutoffs(spam, [0.2] * 20 + [0.0] * 1980)
    assert spam_cutoff == pytest.approx(0.2, abs=1e-9)
    # Five of 1,000 spam (0.01 ... 0.05) may fall at or below it: just under the sixth.
    assert ham_cutoff == pytest.approx(0.06, abs=1e-9)
    assert sum(p <= ham_cutoff for p in spam) == 5


def test_the_ham_cutoff_rises_until_at_most_one_percent_of_either_class_is_unknown() -> None:
    ham = [i / 1000 for i in range(1000)]  # 0.000 ... 0.999
    spam = [0.5 + i / 2000 for i in range(1000)]  # 0.5000 ... 0.9995
    ham_cutoff, spam_cutoff = cutoffs(spam, ham)
    assert spam_cutoff == pytest.approx(0.998, abs=1e-9)  # one ham in 1,000 above it
    # Not 0.5025 (the sixth spam), which would leave 496 spam and 496 ham unknown: just
    # 10 spam of 1,000 lie above 0.993 and below the spam cutoff.
    assert ham_cutoff == pytest.approx(0.993, abs=1e-9)
    assert sum(ham_cutoff < p < spam_cutoff for p in spam) == 10
    assert sum(ham_cutoff < p < spam_cutoff for p in ham) == 5


def _tokens(kind: str, count: int) -> list[list[str]]:
    # Each message: the class's own words and some shared ones.
    return [[f"{kind}{i % 7}", f"{kind}-{i % 5}", f"shared{i % 3}"] for i in range(count)]


def _whole(
    spam: list[list[str]], ham: list[list[str]], prior: WordCounts | None = None
) -> WordCounts:
    """The counts with every message trained, as calibration is given them."""
    training = Training()
    for kind, messages in enumerate((spam, ham)):
        for tokens in messages:
            training.add(tokens, spam=kind == 0)
    whole = WordCounts() if prior is None else WordCounts(
        prior.spam_messages, prior.ham_messages, dict(prior.words)
    )  # fmt: skip
    whole.apply(training)
    return whole


def test_a_run_too_small_calibrates_nothing() -> None:
    spam, ham = _tokens("s", MIN_PER_CLASS - 1), _tokens("h", 500)
    assert calibrate(_whole(spam, ham), spam, ham, None, None) == Calibration()


def test_a_held_out_score_is_the_score_of_the_counts_trained_without_that_message() -> None:
    spam, ham = _tokens("s", 60), _tokens("h", 80)
    spam[7] = [*spam[7], "only-in-this-spam"]
    held_spam, held_ham = held_out_fisher(_whole(spam, ham), spam, ham)
    for index in (0, 7, 59):
        without = FisherClassifier(_whole(spam[:index] + spam[index + 1 :], ham))
        clues = without.clues(spam[index])
        expected = (without.score_clues(clues).probability, mean_log_odds(clues))
        assert held_spam[index] == pytest.approx(expected, abs=1e-12)
    for index in (0, 79):
        without = FisherClassifier(_whole(spam, ham[:index] + ham[index + 1 :]))
        clues = without.clues(ham[index])
        expected = (without.score_clues(clues).probability, mean_log_odds(clues))
        assert held_ham[index] == pytest.approx(expected, abs=1e-12)


def test_calibration_gives_cutoffs_for_each_classifier_the_margins_allow() -> None:
    spam, ham = _tokens("s", 100), _tokens("h", 100)
    whole = _whole(spam, ham)
    assert set(calibrate(whole, spam, ham, None, None).cutoffs) == {"fisher"}
    found = calibrate(whole, spam, ham, [2.0] * 100, [-2.0] * 100)
    assert set(found.cutoffs) == {"fisher", "lr", "fisher-lr"}
    assert found.lr_weight is not None
    for ham_cutoff, spam_cutoff in found.cutoffs.values():
        assert 0.0 <= ham_cutoff < spam_cutoff <= 1.0


def test_the_weight_follows_the_part_that_separates_the_held_out_scores() -> None:
    # Fisher's part puts five hard ham above every spam; the regression's margins separate
    # them, and from a weight of 0.3 on (1 + 3w > 2 - 3w) their sum does too.
    spam = [(1.0, 3.0)] * 100
    ham = [(2.0, -3.0)] * 5 + [(-1.0, -3.0)] * 995
    assert choose_weight(spam, ham) == 0.3
    # The other way round: Fisher's part separates, the margins mislead.
    assert choose_weight([(2.0, -1.0)] * 100, [(-2.0, 1.0)] * 1000) == 0.03


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


def test_fisher_is_calibrated_on_scores_from_counts_without_the_message() -> None:
    spam, ham = _tokens("s", 60), _tokens("h", 70)
    spam[3] = ["h1", "shared0", "s-2"]  # a spam that looks like ham moves the cutoffs
    prior = WordCounts(3, 4, {"shared1": (3, 4)})
    scores: list[list[float]] = [[], []]
    for kind, messages in enumerate((spam, ham)):
        for index, tokens in enumerate(messages):
            # Trained on the prior and every other message, as by hand.
            others = [
                [m for i, m in enumerate(spam) if (kind, i) != (0, index)],
                [m for i, m in enumerate(ham) if (kind, i) != (1, index)],
            ]
            counts = _whole(others[0], others[1], prior)
            scores[kind].append(FisherClassifier(counts).score(tokens).probability)
    expected = cutoffs(scores[0], scores[1])
    assert calibrate(_whole(spam, ham, prior), spam, ham, None, None).cutoffs["fisher"] == expected


def test_the_last_message_trained_is_held_out_exactly() -> None:
    # Nothing was trained after it, so the model less its step is the model before it.
    messages = [[1, 2, 3], [3, 4], [2, 5, 6, 7], [1, 6]]
    trainer = OnlineTrainer(None)
    for features, is_spam in interleave(messages[:2], messages[2:3]):
        trainer.train(features, b"-" * 16, spam=is_spam)
    before = trainer.margin(messages[3])
    step = trainer.train(messages[3], b"+" * 16, spam=True)
    assert step > 0
    assert trainer.held_out_margin(messages[3], step) == pytest.approx(before, abs=1e-12)
    assert trainer.margin(messages[3]) > before


def test_the_weight_a_database_chose_is_the_one_fisher_lr_scores_with() -> None:
    trainer = OnlineTrainer(None)
    message = b"Subject: cash\r\n\r\ncash now\r\n"
    features = sorted(head_buckets(message))
    for _ in range(20):
        trainer.train(features, b"s" * 16, spam=True)
    counts = WordCounts(1, 1, {"cash": (1, 0)}, trainer.model)
    margin = trainer.model.margin(features)
    scores = {}
    for weight in (None, 3.0):
        counts.lr_weight = weight
        scores[weight] = SpamFilter(counts, "fisher-lr").classify(message).probability
    fisher_part = mean_log_odds(FisherClassifier(counts).clues(["cash"]))
    assert scores[None] == pytest.approx(combine(fisher_part, margin, LR_WEIGHT))
    assert scores[3.0] == pytest.approx(combine(fisher_part, margin, 3.0))
    assert scores[3.0] > scores[None]
