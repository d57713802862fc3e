"""What stack.spam.graham promises beyond the main tests: Graham's probability for every count
("A Plan for Spam", as SpamOracle configures it) and the choice of the fifteen most
interesting words, checked against the recipe written out plainly."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.spam.counts import WordCounts
from stack.spam.graham import GrahamClassifier, GrahamSettings
from stack.spam.verdict import Verdict


def graham_p(spam: int, ham: int, counts: WordCounts, s: GrahamSettings) -> float | None:
    """Graham's clamped ``b / (b + g)``, ham counted twice; None for a rare word."""
    if 2 * ham + spam < s.min_count:
        return None
    bad = min(1.0, spam / max(counts.spam_messages, 1))
    good = min(1.0, 2 * ham / max(counts.ham_messages, 1))
    p = bad / (good + bad) if good + bad else 0.5
    return min(s.high, max(s.low, p))


_counts = st.builds(WordCounts, spam_messages=st.integers(0, 40), ham_messages=st.integers(0, 40))


@given(_counts, st.integers(0, 60), st.integers(0, 60))
def test_a_words_probability_is_grahams(counts: WordCounts, spam: int, ham: int) -> None:
    counts.words = {"word": (spam, ham)}
    settings = GrahamSettings()
    expected = graham_p(spam, ham, counts, settings)
    got = GrahamClassifier(counts).probability("word")
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=1e-12)


def test_a_share_of_messages_is_at_most_one() -> None:
    # Counts merged from another database can exceed the messages trained here: a word in
    # "three times every spam" is in every spam, no more.
    counts = WordCounts(10, 10, {"over": (30, 2), "all": (10, 2), "hammy": (2, 30), "ham": (2, 5)})
    graham = GrahamClassifier(counts)
    assert graham.probability("over") == graham.probability("all") == pytest.approx(1 / 1.4)
    assert graham.probability("hammy") == graham.probability("ham") == pytest.approx(0.2 / 1.2)


def test_a_word_counts_from_five_messages_ham_counted_twice() -> None:
    words = {"five-spam": (5, 0), "four-spam": (4, 0), "one-and-two-ham": (1, 2), "two-ham": (0, 2)}
    graham = GrahamClassifier(WordCounts(20, 20, words))
    assert graham.probability("five-spam") is not None
    assert graham.probability("one-and-two-ham") is not None  # 1 + 2 * 2 = 5
    assert graham.probability("four-spam") is None
    assert graham.probability("two-ham") is None  # 2 * 2 = 4


def test_a_word_without_evidence_either_way_is_neutral() -> None:
    # Reached only when no minimum count is asked for.
    graham = GrahamClassifier(WordCounts(5, 5, {"none": (0, 0)}), GrahamSettings(min_count=0))
    assert graham.probability("none") == 0.5


def _reference_score(
    graham: GrahamClassifier, tokens: list[str]
) -> tuple[list[tuple[str, float]], float]:
    """The fifteen occurrences farthest from 0.5 (a word at most twice, the first met first
    among equals) and their Bayes combination."""
    seen: dict[str, int] = {}
    first: dict[str, int] = {}
    for token in tokens:
        if graham.probability(token) is not None:
            first.setdefault(token, len(first))
            seen[token] = seen.get(token, 0) + 1
    occurrences = [
        (token, p)
        for token in first
        if (p := graham.probability(token)) is not None
        for _ in range(min(seen[token], 2))
    ]
    occurrences.sort(key=lambda o: (-abs(o[1] - 0.5), first[o[0]]))
    chosen = occurrences[:15]
    if not chosen:
        return [], 0.5
    spam = math.prod(p for _, p in chosen)
    ham = math.prod(1 - p for _, p in chosen)
    return chosen, spam / (spam + ham)


_vocabulary = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3),
    st.tuples(st.integers(0, 30), st.integers(0, 30)),
    max_size=30,
)


@given(_counts, _vocabulary, st.data())
def test_the_score_combines_the_fifteen_most_interesting_occurrences(
    counts: WordCounts, words: dict[str, tuple[int, int]], data: st.DataObject
) -> None:
    counts.words = words
    graham = GrahamClassifier(counts)
    tokens = data.draw(st.lists(st.sampled_from(sorted(words) or ["none"]), max_size=40))
    score = graham.score(tokens)
    chosen, probability = _reference_score(graham, tokens)
    assert sorted(score.evidence) == sorted(chosen)
    assert [abs(p - 0.5) for _, p in score.evidence] == [abs(p - 0.5) for _, p in chosen]
    assert score.probability == pytest.approx(probability, rel=1e-9)
    if len(chosen) < 5:
        assert score.verdict is Verdict.UNKNOWN
    elif probability >= 0.8:
        assert score.verdict is Verdict.YES
    elif probability <= 0.2:
        assert score.verdict is Verdict.NO
    else:
        assert score.verdict is Verdict.UNKNOWN


def test_hammy_words_are_as_interesting_as_spammy_ones() -> None:
    # Ten certain ham words and ten mildly spammy ones: the ham words, farther from 0.5, are
    # all among the fifteen.
    words = {f"ham{i}": (0, 10) for i in range(10)}
    words.update({f"mild{i}": (7, 2) for i in range(10)})
    score = GrahamClassifier(WordCounts(10, 10, words)).score(list(words))
    assert sum(token.startswith("ham") for token, _ in score.evidence) == 10
    assert score.verdict is Verdict.NO
    words = {f"spam{i}": (10, 0) for i in range(10)}
    words.update({f"mild{i}": (2, 2) for i in range(10)})
    score = GrahamClassifier(WordCounts(10, 10, words)).score(list(words))
    assert sum(token.startswith("spam") for token, _ in score.evidence) == 10
    assert score.verdict is Verdict.YES


def test_a_message_without_known_words_is_unknown_at_one_half() -> None:
    graham = GrahamClassifier(WordCounts(10, 10, {"known": (9, 0)}))
    for tokens in ([], ["unknown", "words"]):
        score = graham.score(tokens)
        assert (score.verdict, score.probability, score.evidence) == (Verdict.UNKNOWN, 0.5, ())
