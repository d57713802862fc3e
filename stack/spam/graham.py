"""SpamOracle's classifier: Paul Graham's "A Plan for Spam", as SpamOracle configures it.

Kept for compatibility with SpamOracle and spamtacus users, and as the baseline the default
classifier is measured against:

- a token's spam probability is ``b / (b + g)`` where ``b`` is the share of spam that holds
  it and ``g`` twice the share of ham (Graham's bias towards ham), each share capped at 1;
- it is clamped to [0.01, 0.99], so no single token is certain;
- tokens seen in fewer than 5 messages (ham counted twice) are ignored, as Graham does;
- the 15 tokens farthest from 0.5 are combined, a token counting at most twice (once per
  occurrence in the message), by Bayes' rule under independence;
- the verdict is ``yes`` at 0.8 or more and ``no`` at 0.2 or less, each only when at least
  5 tokens counted; anything else is ``unknown``.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from stack.spam.classifier import CountsClassifier
from stack.spam.counts import WordCounts
from stack.spam.verdict import Score, Verdict, verdict_for


@dataclass(frozen=True, slots=True)
class GrahamSettings:
    """SpamOracle's defaults (``spamoracle.conf(5)``)."""

    interesting: int = 15
    max_repetitions: int = 2
    low: float = 0.01
    high: float = 0.99
    min_count: int = 5
    min_meaningful: int = 5
    spam_threshold: float = 0.8
    ham_threshold: float = 0.2


class GrahamClassifier(CountsClassifier[float]):
    """Scores token lists against counts loaded in memory."""

    name = "graham"
    repeats = True  # a word counts up to twice

    def __init__(self, counts: WordCounts, settings: GrahamSettings | None = None) -> None:
        self.settings = settings or GrahamSettings()
        super().__init__(counts)

    def probability(self, token: str) -> float | None:
        """The token's clamped spam probability, or None when it is unknown or too rare."""
        return self.memo.get(token)

    def token_value(self, token: str, counts: tuple[int, int]) -> float | None:
        s = self.settings
        spam, ham = counts
        if 2 * ham + spam < s.min_count:
            return None
        good = min(1.0, 2 * ham / self.ham_messages)
        bad = min(1.0, spam / self.spam_messages)
        p = bad / (good + bad) if good + bad else 0.5
        return min(s.high, max(s.low, p))

    def score(self, tokens: Iterable[str]) -> Score:
        s = self.settings
        occurrences = Counter(tokens)
        # (distance, -position, token, p): the farthest from 0.5 first and, among equals, the
        # first met in the message, as SpamOracle's insertion keeps them.
        candidates: list[tuple[float, int, str, float]] = []
        for position, (token, p) in enumerate(self.memo.known(occurrences)):
            candidate = (abs(p - 0.5), -position, token, p)
            candidates.extend([candidate] * min(occurrences[token], s.max_repetitions))
        chosen = heapq.nlargest(s.interesting, candidates)
        # Bayes' rule in log space: fifteen factors of 0.01 are fine, but nothing is lost.
        log_spam = sum(math.log(p) for *_, p in chosen)
        log_ham = sum(math.log(1.0 - p) for *_, p in chosen)
        probability = 1.0 / (1.0 + math.exp(log_ham - log_spam)) if chosen else 0.5
        evidence = tuple((token, p) for _, _, token, p in chosen)
        if len(chosen) < s.min_meaningful:
            verdict = Verdict.UNKNOWN
        else:
            verdict = verdict_for(
                probability, ham_cutoff=s.ham_threshold, spam_cutoff=s.spam_threshold
            )
        return Score(verdict, probability, evidence)
