"""Counts held only in memory: for tests and for one-shot evaluations."""

from __future__ import annotations

from stack.spam.counts import NegativeCountError, Training, WordCounts
from stack.spam.stores.base import StoreError, WordStore


class MemoryStore(WordStore):
    """Word counts in this process; ``load`` hands out a copy, so that a classifier never
    sees a later change."""

    def __init__(self, counts: WordCounts | None = None) -> None:
        self.counts = counts if counts is not None else WordCounts()

    def load(self) -> WordCounts:
        return WordCounts(
            self.counts.spam_messages, self.counts.ham_messages, dict(self.counts.words)
        )

    def apply(self, training: Training) -> None:
        try:
            self.counts.apply(training)
        except NegativeCountError as exc:
            raise StoreError(f"{exc}; nothing was changed") from exc

    def close(self) -> None:
        pass
