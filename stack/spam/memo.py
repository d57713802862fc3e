"""Per-token values computed on first use and kept: the classifiers' hot-path cache.

A classifier turns a token's counts into a probability (or a Fisher clue) once; after that,
classifying is set operations in C and one dict lookup per token that counts.  Values are
computed lazily, because a command that classifies a handful of messages must not pay for a
vocabulary of a hundred thousand tokens, and the memo is emptied when it outgrows the
vocabulary several times over, because a long-running filter meets an endless stream of
one-off tokens.

A message's new tokens are found with one set difference against the memo, and the values
of all its tokens are read with ``map`` and ``filter``: C loops, one hash lookup per token,
instead of a Python statement per token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from stack.spam.counts import WordCounts

T = TypeVar("T")


class TokenMemo(Generic[T]):
    """``value(token, (spam, ham))`` for the tokens of ``counts``, None meaning "does not
    count".  A value that counts must be true (a non-empty tuple, a probability above 0):
    :meth:`values` filters on truth."""

    def __init__(
        self, counts: WordCounts, value: Callable[[str, tuple[int, int]], T | None]
    ) -> None:
        self._words = counts.words
        self._value = value
        self._memo: dict[str, T | None] = {}
        self._limit = 4 * len(counts.words) + 100_000

    def get(self, token: str) -> T | None:
        if token not in self._memo:
            self._learn((token,))
        return self._memo[token]

    def values(self, tokens: set[str]) -> list[T]:
        """The values of the distinct ``tokens`` that count, in no particular order."""
        # A C loop over the message's tokens.  Mind the alternatives: ``tokens - memo.keys()``
        # or ``tokens.intersection(memo)`` loop over the whole memo instead.
        new = tokens.difference(self._memo)
        if new:
            self._learn(new)
        return list(filter(None, map(self._memo.__getitem__, tokens)))

    def known(self, tokens: Iterable[str]) -> list[tuple[str, T]]:
        """``(token, value)`` for each of ``tokens`` that counts, in order."""
        tokens = list(tokens)
        self.values(set(tokens))
        memo = self._memo
        return [(token, value) for token in tokens if (value := memo[token]) is not None]

    def _learn(self, tokens: Iterable[str]) -> None:
        memo = self._memo
        if len(memo) > self._limit:
            memo.clear()
        words, value = self._words, self._value
        for token in tokens:
            counts = words.get(token)
            memo[token] = None if counts is None else value(token, counts)
