"""Counts held only in memory: for tests and for one-shot evaluations."""

from __future__ import annotations

from stack.spam.counts import NegativeCountError, Training, WordCounts
from stack.spam.regression import Records, Regression, apply_change
from stack.spam.stores.base import StoreError, WordStore


class MemoryStore(WordStore):
    """Word counts in this process; ``load`` hands out a copy, so that a classifier never
    sees a later change."""

    keeps_regression = True

    def __init__(self, counts: WordCounts | None = None) -> None:
        self.counts = counts if counts is not None else WordCounts()
        #: Each trained message's steps, by digest.
        self.records: Records = {}

    def load(self) -> WordCounts:
        regression = self.counts.regression
        return WordCounts(
            self.counts.spam_messages,
            self.counts.ham_messages,
            dict(self.counts.words),
            regression.copy() if regression is not None else None,
            dict(self.counts.cutoffs),
            self.counts.lr_weight,
        )

    def apply(self, training: Training) -> None:
        # Both parts are checked before either is applied: all or nothing.
        regression = self.counts.regression or Regression()
        records = {digest: list(steps) for digest, steps in self.records.items()}
        try:
            training.check_against(self.counts)
            if training.regression:
                regression = regression.copy()
                apply_change(regression, records, training.regression)
            self.counts.apply(training)
        except NegativeCountError as exc:
            raise StoreError(f"{exc}; nothing was changed") from exc
        if training.regression:
            self.counts.regression, self.records = regression, records
        self.counts.cutoffs.update(training.cutoffs)
        if training.lr_weight is not None:
            self.counts.lr_weight = training.lr_weight

    def close(self) -> None:
        pass
