"""What every classifier is: counts in memory in, a :class:`~stack.spam.verdict.Score` out.

:class:`CountsClassifier` holds what the two classifiers share: the counts, the number of
messages of each class (at least 1, so that an empty database divides by nothing), and the
memo of per-token values each computes in its own way (:meth:`token_value`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from stack.spam.counts import WordCounts
from stack.spam.memo import TokenMemo
from stack.spam.verdict import Score

T = TypeVar("T")


class CountsClassifier(Generic[T]):
    """The base of both classifiers; subclasses give :meth:`token_value` and :meth:`score`."""

    name = ""
    #: Whether :meth:`score` reads repetitions (``tokenize(..., repeats=True)``).
    repeats = False

    def __init__(self, counts: WordCounts) -> None:
        self.counts = counts
        self.spam_messages = max(counts.spam_messages, 1)
        self.ham_messages = max(counts.ham_messages, 1)
        self.memo: TokenMemo[T] = TokenMemo(counts, self.token_value)

    def token_value(self, token: str, counts: tuple[int, int]) -> T | None:
        """What ``token``, with its (spam, ham) counts, contributes, or None when it does not
        count."""
        raise NotImplementedError

    def score(self, tokens: Iterable[str]) -> Score:
        raise NotImplementedError
