"""Per-token values computed on first use and kept: the classifiers' hot-path cache.

A classifier turns a token's counts into a probability (or a Fisher clue) once; after that,
classifying is one dict lookup per token.  Values are computed lazily, because a command that
classifies a handful of messages must not pay for a vocabulary of a hundred thousand tokens,
and the memo is emptied when it outgrows the vocabulary several times over, because a
long-running filter meets an endless stream of one-off tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from stack.spam.counts import WordCounts

T = TypeVar("T")
_MISSING = object()


class TokenMemo(Generic[T]):
    """``value(spam, ham)`` for the tokens of ``counts``, None meaning "does not count"."""

    def __init__(self, counts: WordCounts, value: Callable[[int, int], T | None]) -> None:
        self._words = counts.words
        self._value = value
        # Values are T or None; typed Any so that the hot loop needs no cast() call per token.
        self._memo: dict[str, Any] = {}
        self._limit = 4 * len(counts.words) + 100_000

    def get(self, token: str) -> T | None:
        found = self._memo.get(token, _MISSING)
        return self._compute(token) if found is _MISSING else found

    def known(self, tokens: Iterable[str]) -> list[tuple[str, T]]:
        """``(token, value)`` for each of ``tokens`` that counts, in order."""
        memo, compute, missing = self._memo, self._compute, _MISSING
        found: list[tuple[str, T]] = []
        for token in tokens:
            value = memo.get(token, missing)
            if value is missing:
                value = compute(token)
            if value is not None:
                found.append((token, value))
        return found

    def _compute(self, token: str) -> T | None:
        if len(self._memo) > self._limit:
            self._memo.clear()
        counts = self._words.get(token)
        result = None if counts is None else self._value(*counts)
        self._memo[token] = result
        return result
