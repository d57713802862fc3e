"""Both classifiers, on counts small enough to check by hand."""

from __future__ import annotations

import math

import pytest

from stack.spam.counts import WordCounts
from stack.spam.fisher import FisherClassifier, FisherSettings, chi2q
from stack.spam.graham import GrahamClassifier
from stack.spam.verdict import Verdict

SPAMMY = [f"spam{i}" for i in range(20)]
HAMMY = [f"ham{i}" for i in range(20)]


def _counts() -> WordCounts:
    # Distinct counts, so that Fisher counts every token (see the test of merged evidence).
    words = {token: (30 + i, 0) for i, token in enumerate(SPAMMY)}
    words.update({token: (0, 30 + i) for i, token in enumerate(HAMMY)})
    words["neutral"] = (20, 20)
    words["rare"] = (1, 0)
    return WordCounts(spam_messages=50, ham_messages=50, words=words)


def test_graham_doubles_ham_and_clamps_probabilities() -> None:
    counts = WordCounts(100, 100, {"w": (30, 10), "s": (50, 0), "h": (0, 50)})
    graham = GrahamClassifier(counts)
    # b = 0.3, g = 2 * 0.1 = 0.2: p = 0.3 / 0.5
    assert graham.probability("w") == pytest.approx(0.6)
    assert graham.probability("s") == 0.99
    assert graham.probability("h") == 0.01


def test_graham_ignores_tokens_seen_in_fewer_than_five_messages() -> None:
    assert GrahamClassifier(_counts()).probability("rare") is None


def test_graham_uses_fifteen_words_each_at_most_twice() -> None:
    graham = GrahamClassifier(_counts())
    score = graham.score(["spam1"] * 5 + SPAMMY[2:])
    assert score.meaningful == 15
    assert [token for token, _ in score.evidence].count("spam1") == 2
    assert score.verdict is Verdict.YES


def test_graham_needs_five_words_for_a_verdict() -> None:
    graham = GrahamClassifier(_counts())
    assert graham.score(SPAMMY[:4]).verdict is Verdict.UNKNOWN
    assert graham.score(SPAMMY[:5]).verdict is Verdict.YES
    assert graham.score(HAMMY[:5]).verdict is Verdict.NO


def test_graham_combines_by_bayes_rule() -> None:
    counts = WordCounts(10, 10, {f"w{i}": (6, 2) for i in range(5)})
    graham = GrahamClassifier(counts)
    p = 0.6 / (0.6 + 0.4)
    expected = p**5 / (p**5 + (1 - p) ** 5)
    assert graham.score([f"w{i}" for i in range(5)]).probability == pytest.approx(expected)


@pytest.mark.parametrize("half", [1, 2, 7, 50, 150, 300, 1000])
@pytest.mark.parametrize("m", [0.0, 0.3, 5.0, 49.0, 120.0, 400.0, 760.0, 3000.0])
def test_chi2q_agrees_with_the_series_summed_in_log_space(m: float, half: int) -> None:
    # No term underflows here: each is exp(-m + i ln m - ln i!), summed exactly.
    terms = [-m + i * math.log(m) - math.lgamma(i + 1) if m else -math.inf for i in range(half)]
    expected = min(1.0, math.fsum(math.exp(t) for t in terms)) if m else 1.0
    assert chi2q(2 * m, 2 * half) == pytest.approx(expected, rel=1e-9, abs=1e-20)


def test_chi2q_matches_known_values() -> None:
    assert chi2q(0.0, 2) == 1.0
    assert chi2q(2.0, 2) == pytest.approx(math.exp(-1.0))
    assert chi2q(10_000.0, 300) == 0.0


def test_fisher_separates_spam_ham_and_mixed_evidence() -> None:
    fisher = FisherClassifier(_counts())
    spam = fisher.score(SPAMMY)
    ham = fisher.score(HAMMY)
    mixed = fisher.score(SPAMMY[:10] + HAMMY[:10])
    assert spam.verdict is Verdict.YES and spam.probability > 0.99
    assert ham.verdict is Verdict.NO and ham.probability < 0.01
    assert mixed.verdict is Verdict.UNKNOWN and mixed.probability == pytest.approx(0.5)


def test_fisher_without_clues_is_unknown() -> None:
    fisher = FisherClassifier(_counts())
    assert fisher.score(["never-seen", "neutral"]).verdict is Verdict.UNKNOWN


def test_fisher_pulls_rare_tokens_towards_one_half() -> None:
    fisher = FisherClassifier(_counts(), FisherSettings(minimum_prob_strength=0.0))
    rare, common = fisher.clue("rare"), fisher.clue("spam0")
    assert rare is not None and common is not None
    rare_f, common_f = rare[1], common[1]
    assert 0.5 < rare_f < common_f


def test_fisher_counts_a_repeated_token_once() -> None:
    fisher = FisherClassifier(_counts())
    assert fisher.score(SPAMMY[:3] * 10).probability == fisher.score(SPAMMY[:3]).probability


def test_fisher_counts_tokens_of_the_same_counts_as_one_piece_of_evidence() -> None:
    # Twenty list-header tokens seen in the same 3 spam and 30 ham, against five spammy words.
    words = {f"list{i}": (3, 30) for i in range(20)}
    words.update({f"spam{i}": (20 + i, 0) for i in range(5)})
    fisher = FisherClassifier(WordCounts(spam_messages=50, ham_messages=50, words=words))
    score = fisher.score(list(words))
    assert sum(token.startswith("list") for token, _ in score.evidence) == 1
    assert score.verdict is Verdict.YES


def test_fisher_keeps_rare_tokens_of_the_same_counts_apart() -> None:
    fisher = FisherClassifier(
        WordCounts(spam_messages=50, ham_messages=50, words={"a": (1, 0), "b": (1, 0)}),
        FisherSettings(minimum_prob_strength=0.0),
    )
    assert len(fisher.score(["a", "b"]).evidence) == 2


def test_fisher_orders_clues_of_equal_strength_without_comparing_tokens_to_counts() -> None:
    # Every pair of counts up to 6: merged clues (three messages or more) and rare ones meet
    # at equal strengths (x and 1 - x), and (1, 1) against (2, 2) and (3, 3) give f = 0.5.
    words = {f"t{spam}-{ham}": (spam, ham) for spam in range(7) for ham in range(7)}
    words.update({f"again{spam}-{ham}": (spam, ham) for spam in range(3) for ham in range(3)})
    fisher = FisherClassifier(
        WordCounts(spam_messages=50, ham_messages=50, words=words),
        FisherSettings(minimum_prob_strength=0.0),
    )
    tokens = sorted(words)
    score = fisher.score(tokens)
    assert score == fisher.score(list(reversed(tokens)))
    strengths = [abs(p - 0.5) for _, p in score.evidence]
    assert strengths == sorted(strengths, reverse=True)
