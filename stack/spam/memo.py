"""Per-token values computed on first use and kept: the classifiers' hot-path cache.

A classifier turns a token's counts into a probability (or a Fisher clue) once; after that,
classifying is one dict lookup per token.  Values are computed lazily, because a command that
classifies a handful of messages must not pay for a vocabulary of a hundred thousand tokens,
and the memo is emptied when it outgrows the vocabulary several times over, because a
long-running filter meets an endless stream of one-off tokens.

The memo is a dict whose ``__missing__`` computes: a message's values are read with ``map``
over its tokens, a C loop with one hash lookup per token, and Python runs only for the
tokens never seen before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from stack.spam.counts import WordCounts

T = TypeVar("T")


class _Memo(dict[str, T | None]):
    """Token to value, computing (and keeping) the value of a token it does not have."""

    __slots__ = ("limit", "value", "words")

    def __init__(
        self, words: dict[str, tuple[int, int]], value: Callable[[str, tuple[int, int]], T | None]
    ) -> None:
        super().__init__()
        self.words = words
        self.value = value
        self.limit = 4 * len(words) + 100_000

    def __missing__(self, token: str) -> T | None:
        if len(self) > self.limit:
            self.clear()
        counts = self.words.get(token)
        result = self[token] = None if counts is None else self.value(token, counts)
        return result


class TokenMemo(Generic[T]):
    """``value(token, (spam, ham))`` for the tokens of ``counts``, None meaning "does not
    count".  A value that counts must be true (a non-empty tuple, a probability above 0):
    :meth:`values` filters on truth."""

    def __init__(
        self, counts: WordCounts, value: Callable[[str, tuple[int, int]], T | None]
    ) -> None:
        self._memo: _Memo[T] = _Memo(counts.words, value)

    def get(self, token: str) -> T | None:
        return self._memo[token]

    def values(self, tokens: Iterable[str]) -> list[T]:
        """The values of ``tokens`` that count, in order (once per occurrence)."""
        return list(filter(None, map(self._memo.__getitem__, tokens)))

    def known(self, tokens: Iterable[str]) -> list[tuple[str, T]]:
        """``(token, value)`` for each of ``tokens`` that counts, in order."""
        memo = self._memo
        return [(token, value) for token in tokens if (value := memo[token]) is not None]
