"""What every word store offers, and the one error they raise.

A store keeps the counts of :mod:`stack.spam.counts` somewhere: a SQLite file
(:mod:`~stack.spam.stores.sqlite`), a Redis server (:mod:`~stack.spam.stores.redis`) or
memory (:mod:`~stack.spam.stores.memory`).  Backends differ in where, never in what they
mean: a load sees whole changes only, a change is applied whole or not at all, and a count
never goes below zero.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

from stack.errors import ElsinoreError
from stack.spam.counts import Training, WordCounts


class StoreError(ElsinoreError):
    """The store cannot be opened or a change cannot be applied; nothing was changed."""


def missing_store(location: object) -> StoreError:
    """The error for a store that is not there and may not be created: one wording for
    every backend, so that a user reads the same line whatever ``--db`` names."""
    return StoreError(f"no spam database at {location} (train one with `spam train`)")


class WordStore(ABC):
    """Where word counts live; a context manager that closes the store on exit."""

    #: Whether the store keeps the regression (and calibrated cutoffs) beside the counts;
    #: training skips the regression for one that does not, and ``apply`` refuses it.
    keeps_regression = False

    @abstractmethod
    def load(self) -> WordCounts:
        """Every count, read into memory for classification: all of a concurrent change or
        none of it."""

    @abstractmethod
    def apply(self, training: Training) -> None:
        """Apply ``training`` atomically; raise :class:`StoreError` (and change nothing) if a
        count would go below zero."""

    @abstractmethod
    def close(self) -> None:
        """Let go of the file or connection; the store is not used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
