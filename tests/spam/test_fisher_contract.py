"""What stack.spam.fisher promises beyond the main tests: Robinson's f for every count, the
chi-square combining SpamBayes publishes, the settings it reads, and the evidence it shows.

The reference functions here are the published formulas written out plainly, without the
module's caches, merging or early exits, so that a property compares the two."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.spam.counts import WordCounts
from stack.spam.fisher import (
    SAME_EVIDENCE_MIN_COUNT,
    Clue,
    FisherClassifier,
    FisherSettings,
    chi2q,
    mean_log_odds,
)
from stack.spam.verdict import Verdict, verdict_for


def robinson_f(spam: int, ham: int, counts: WordCounts, s: FisherSettings) -> float | None:
    """Robinson's ``f = (s*x + n*p) / (s + n)``, or None when the token is in no message."""
    spam_ratio = min(1.0, spam / max(counts.spam_messages, 1))
    ham_ratio = min(1.0, s.ham_bias * ham / max(counts.ham_messages, 1))
    if spam_ratio + ham_ratio == 0:
        return None
    p = spam_ratio / (spam_ratio + ham_ratio)
    n = spam + ham
    return (s.unknown_word_strength * s.unknown_word_prob + n * p) / (s.unknown_word_strength + n)


def chi2_survival(x2: float, degrees: int) -> float:
    """P(chi-square with ``degrees`` (even) degrees of freedom >= x2), every term summed."""
    m = x2 / 2
    if m == 0:
        return 1.0
    logs = [-m + i * math.log(m) - math.lgamma(i + 1) for i in range(degrees // 2)]
    return min(1.0, math.fsum(math.exp(t) for t in logs))


def chi_square_combined(fs: list[float]) -> float:
    """SpamBayes' chi2_spamprob: ``(S - H + 1) / 2``."""
    n = len(fs)
    spam = 1.0 - chi2_survival(-2.0 * math.fsum(math.log1p(-f) for f in fs), 2 * n)
    ham = 1.0 - chi2_survival(-2.0 * math.fsum(math.log(f) for f in fs), 2 * n)
    return (spam - ham + 1.0) / 2.0


_counts = st.builds(
    WordCounts,
    spam_messages=st.integers(0, 60),
    ham_messages=st.integers(0, 60),
)
_settings = st.builds(
    FisherSettings,
    unknown_word_strength=st.sampled_from([0.45, 0.1, 1.0, 3.0]),
    unknown_word_prob=st.sampled_from([0.5, 0.3, 0.6]),
    minimum_prob_strength=st.sampled_from([0.0, 0.1, 0.25, 0.4]),
    ham_bias=st.sampled_from([1.0, 2.0, 0.5]),
)


@given(_counts, _settings, st.integers(0, 80), st.integers(0, 80))
def test_a_clue_holds_robinsons_f_and_its_logarithms(
    counts: WordCounts, settings: FisherSettings, spam: int, ham: int
) -> None:
    counts.words = {"token": (spam, ham)}
    clue = FisherClassifier(counts, settings).clue("token")
    f = robinson_f(spam, ham, counts, settings)
    if f is None or abs(f - 0.5) < settings.minimum_prob_strength:
        assert clue is None
        return
    assert clue is not None
    distance, clue_f, log_f, log_not_f, _, token = clue
    assert clue_f == pytest.approx(f, rel=1e-12)
    assert distance == pytest.approx(abs(f - 0.5), abs=1e-12)
    assert log_f == pytest.approx(math.log(f), rel=1e-12)
    assert log_not_f == pytest.approx(math.log(1 - f), rel=1e-12)
    assert token == "token"


def test_a_token_in_every_message_of_a_class_is_as_strong_as_its_counts_allow() -> None:
    # A share of messages is at most 1: a token counted in more messages than were trained
    # (counts merged from elsewhere) is no more than certain.
    counts = WordCounts(10, 10, {"over": (25, 0), "all": (10, 0), "over-ham": (0, 25)})
    fisher = FisherClassifier(counts)
    over, full, over_ham = (fisher.clue(t) for t in ("over", "all", "over-ham"))
    assert over is not None and full is not None and over_ham is not None
    assert over[1] > full[1] > 0.95  # only the pull towards 0.5 (fewer messages) differs
    assert over_ham[1] == pytest.approx(1 - over[1])


def test_a_clue_too_close_to_one_half_does_not_count_and_the_limit_itself_does() -> None:
    # |f - 0.5| < minimum_prob_strength is dropped; exactly at the limit, it counts.
    counts = WordCounts(10, 10, {"t": (3, 1)})
    f = robinson_f(3, 1, counts, FisherSettings())
    assert f is not None
    at_limit = FisherClassifier(counts, FisherSettings(minimum_prob_strength=abs(f - 0.5)))
    above = FisherClassifier(counts, FisherSettings(minimum_prob_strength=abs(f - 0.5) + 1e-9))
    assert at_limit.clue("t") is not None
    assert above.clue("t") is None


def test_a_token_trained_in_no_message_is_no_clue() -> None:
    counts = WordCounts(10, 10, {"nothing": (0, 0)})
    assert (
        FisherClassifier(counts, FisherSettings(minimum_prob_strength=0.0)).clue("nothing") is None
    )


_vocabulary = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3),
    st.tuples(st.integers(0, 40), st.integers(0, 40)),
    max_size=30,
)


@given(_counts, _settings, _vocabulary)
def test_the_score_is_chi_square_combining_of_the_strongest_clues(
    counts: WordCounts, settings: FisherSettings, words: dict[str, tuple[int, int]]
) -> None:
    counts.words = words
    fisher = FisherClassifier(counts, settings)
    tokens = list(words)
    score = fisher.score(tokens)
    clues = fisher.clues(tokens)
    if not clues:
        assert (score.verdict, score.probability, score.evidence) == (Verdict.UNKNOWN, 0.5, ())
        return
    expected = chi_square_combined([clue[1] for clue in clues])
    assert score.probability == pytest.approx(expected, abs=1e-9)
    assert score.verdict is verdict_for(
        score.probability, ham_cutoff=settings.ham_cutoff, spam_cutoff=settings.spam_cutoff
    )
    # Each token in the evidence is one that counted, with its own f, strongest first.
    assert [(clue[5], clue[1]) for clue in clues[:15]] == list(score.evidence)
    assert all(fisher.clue(token) is not None for token, _ in score.evidence)
    strengths = [abs(f - 0.5) for _, f in score.evidence]
    assert strengths == sorted(strengths, reverse=True)


def test_one_spam_clue_and_one_ham_clue_of_equal_strength_cancel_out() -> None:
    counts = WordCounts(20, 20, {"spammy": (12, 0), "hammy": (0, 12)})
    score = FisherClassifier(counts).score(["spammy", "hammy"])
    assert score.probability == pytest.approx(0.5)
    assert score.verdict is Verdict.UNKNOWN


def test_the_verdict_reads_the_settings_cutoffs() -> None:
    counts = WordCounts(20, 20, {"mild": (8, 2)})
    probability = FisherClassifier(counts).score(["mild"]).probability
    assert 0.5 < probability < 0.95
    lenient = FisherSettings(spam_cutoff=probability)
    assert FisherClassifier(counts, lenient).score(["mild"]).verdict is Verdict.YES
    assert FisherClassifier(counts).score(["mild"]).verdict is Verdict.UNKNOWN
    hammy = WordCounts(20, 20, {"mild": (2, 8)})
    ham_probability = FisherClassifier(hammy).score(["mild"]).probability
    assert 0.05 < ham_probability < 0.5
    strict = FisherSettings(ham_cutoff=ham_probability)
    assert FisherClassifier(hammy, strict).score(["mild"]).verdict is Verdict.NO
    assert FisherClassifier(hammy).score(["mild"]).verdict is Verdict.UNKNOWN


def test_only_max_discriminators_clues_are_combined_the_strongest() -> None:
    words = {f"spam{i}": (10 + i, 0) for i in range(10)}
    words.update({f"weak{i}": (6 + i, 2) for i in range(5)})
    counts = WordCounts(40, 40, words)
    few = FisherClassifier(counts, FisherSettings(max_discriminators=3))
    clues = few.clues(list(words))
    assert [clue[5] for clue in clues] == ["spam9", "spam8", "spam7"]
    everything = FisherClassifier(counts)
    assert few.score(list(words)).probability == pytest.approx(
        everything.score(["spam9", "spam8", "spam7"]).probability
    )


def test_the_evidence_shows_the_fifteen_strongest_clues() -> None:
    words = {f"t{i:02}": (5 + i, 0) for i in range(20)}
    fisher = FisherClassifier(WordCounts(30, 30, words))
    evidence = fisher.score(list(words)).evidence
    assert [token for token, _ in evidence] == [f"t{i:02}" for i in range(19, 4, -1)]
    for token, f in evidence:
        clue = fisher.clue(token)
        assert clue is not None and f == clue[1]


def test_tokens_merge_from_the_minimum_count_of_messages_on() -> None:
    at_minimum = SAME_EVIDENCE_MIN_COUNT
    below = SAME_EVIDENCE_MIN_COUNT - 1
    # Counts split between spam and ham (2 + 1 = 3 messages), so that a sum and not one
    # class is what reaches the minimum.
    words = {"a": (at_minimum - 1, 1), "b": (at_minimum - 1, 1), "c": (below, 0), "d": (below, 0)}
    fisher = FisherClassifier(WordCounts(5, 50, words), FisherSettings(minimum_prob_strength=0.0))
    tokens = [token for token, _ in fisher.score(list(words)).evidence]
    assert sorted(tokens) in (["a", "c", "d"], ["b", "c", "d"])


def test_settings_default_to_the_ones_the_module_documents() -> None:
    # The module's docstring: SpamBayes' strength and ham cutoff, clues 0.25 from 0.5, up to
    # 150 of them, a spam cutoff of 0.95.
    fisher = FisherClassifier(WordCounts())
    assert fisher.settings == FisherSettings()
    s = fisher.settings
    assert (s.unknown_word_strength, s.unknown_word_prob) == (0.45, 0.5)
    assert (s.minimum_prob_strength, s.max_discriminators) == (0.25, 150)
    assert (s.ham_cutoff, s.spam_cutoff, s.ham_bias) == (0.20, 0.95, 1.0)


def test_the_settings_given_are_the_ones_used() -> None:
    settings = FisherSettings(spam_cutoff=0.6)
    assert FisherClassifier(WordCounts(), settings).settings is settings


@given(st.lists(st.floats(0.01, 0.99), max_size=20))
def test_mean_log_odds_is_the_mean_of_each_clues_log_odds(fs: list[float]) -> None:
    clues: list[Clue] = [
        (abs(f - 0.5), f, math.log(f), math.log1p(-f), (-1, str(i)), str(i))
        for i, f in enumerate(fs)
    ]
    expected = math.fsum(math.log(f / (1 - f)) for f in fs) / len(fs) if fs else 0.0
    assert mean_log_odds(clues) == pytest.approx(expected, abs=1e-9)


@given(st.floats(0.0, 3000.0), st.integers(1, 400))
def test_chi2q_is_the_chi_square_survival_function(x2: float, half: int) -> None:
    q = chi2q(x2, 2 * half)
    assert 0.0 <= q <= 1.0
    # Tails below 1e-20 may read 0: the module's documented cut.
    assert q == pytest.approx(chi2_survival(x2, 2 * half), rel=1e-9, abs=1e-20)


@pytest.mark.parametrize(("x2", "degrees"), [(3.33, 100), (1402.0, 3000), (1600.5, 3000)])
def test_chi2q_never_exceeds_one_where_its_series_rounds_up(x2: float, degrees: int) -> None:
    # Summed in floating point, these series come to a few ulps above 1.
    assert chi2q(x2, degrees) == pytest.approx(1.0) and chi2q(x2, degrees) <= 1.0


def test_chi2q_computes_a_tail_above_the_negligible_one() -> None:
    # A tail of 5e-19 (m = 285, 150 terms) is above the 1e-20 the module treats as 0.
    assert chi2q(570.0, 300) == pytest.approx(chi2_survival(570.0, 300), rel=1e-6)
    assert chi2q(570.0, 300) > 1e-20


def test_a_rare_and_a_merged_token_of_the_same_f_sort_without_comparing_token_and_count() -> None:
    # One message of each class: every share is capped at 1, so (1, 1) and (1, 2) both give
    # f = 0.5; the rare token's merge key must never meet the other's counts in a comparison.
    counts = WordCounts(1, 1, {"rare": (1, 1), "merged": (1, 2)})
    fisher = FisherClassifier(counts, FisherSettings(minimum_prob_strength=0.0))
    score = fisher.score(["rare", "merged"])
    assert sorted(token for token, _ in score.evidence) == ["merged", "rare"]
    assert score.probability == pytest.approx(0.5)
