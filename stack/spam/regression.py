"""On-line logistic regression on hashed byte 4-grams (:mod:`~stack.spam.ngrams`).

The model of the TREC 2005-2007 spam track leaders: ``p = 1 / (1 + exp(-(w . x + b)))``
with ``x`` the binary features of the message's head, trained one message at a time by a
gradient step ``w += rate * (y - p) * x`` (always, not only on error: on the SpamAssassin
training part, training on error only caught less spam at every rate tried).

**Fixed point, so that untraining is exact.**  Weights are integers (``SCALE`` to a unit).
A message's step is one integer added to each of its features, and the store keeps that
integer under the message's digest; untraining subtracts it again, exactly, and
``train`` then ``untrain`` leaves every weight as it was, bit for bit.  Untraining takes
back what the message added when it was trained; it does not replay the messages trained
after it, whose own steps were computed with it in the model (an on-line learner's history
cannot be edited, only amended).  A message the regression holds no step for (trained
before the database had a regression, or by counts only) is left out of it: the regression
can only take back what it added, and the counts, untrained in the same change, still
refuse a message that was never trained at all.

**Changes are additive.**  A training run reads the model, trains a copy message by message,
and hands the store the sum of its steps per feature (:class:`RegressionChange`), which the
store adds to the weights in the same transaction as the word counts.  Two trainers at once
lose nothing of each other's, as with counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from stack.spam.ngrams import FEATURES, Buckets, head_buckets, message_digest
from stack.spam.verdict import Score, verdict_for

#: Fixed-point weights: this many units to 1.0.  A step of 0.002 * 0.001 is still 34 units.
SCALE = 1 << 24
#: The learning rate, chosen by 5-fold cross-validation on the SpamAssassin training part
#: among 0.0005, 0.001, 0.002 and 0.01 (one pass; more passes caught less at zero misfiled ham).
RATE = 0.002
#: Margins beyond this many units of log-odds are as certain as the arithmetic gets.
_CLAMP = 30.0

#: One weight per feature bucket, in units; int64, so that sums of a message's ~2,500
#: weights stay exact (a weight of 1,000 in log-odds is 2**34 units).
Weights: TypeAlias = npt.NDArray[np.int64]
#: A message's features: its distinct buckets (:func:`~stack.spam.ngrams.head_buckets`), or
#: any sequence of distinct bucket numbers.
Features: TypeAlias = Buckets | Sequence[int]


def _zeros() -> Weights:
    return np.zeros(FEATURES, dtype=np.int64)


def _total(weights: Weights, features: Features) -> int:
    """The sum of the weights of ``features``, exactly (one gather and one sum in numpy)."""
    return int(weights[features].sum())


@dataclass(eq=False, slots=True)
class Regression:
    """Integer weights (one per feature bucket) and bias, in units of ``1 / SCALE``."""

    weights: Weights = field(default_factory=_zeros)
    bias: int = 0

    def margin(self, features: Features) -> float:
        """``w . x + b`` in log-odds: above 0 leans spam."""
        return (_total(self.weights, features) + self.bias) / SCALE

    def copy(self) -> Regression:
        return Regression(self.weights.copy(), self.bias)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Regression):
            return NotImplemented
        return self.bias == other.bias and bool(np.array_equal(self.weights, other.weights))

    __hash__ = None  # type: ignore[assignment]  # mutable: equal by value, so unhashable


def probability(margin: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-_CLAMP, min(_CLAMP, margin))))


_NO_FEATURES: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)


@dataclass(slots=True)
class RegressionChange:
    """What one training run does to a model: steps to add per feature (``features``, distinct
    and ascending, and the ``deltas`` to add to their weights) and to the bias, and the
    messages trained (digest, step, bias step) and untrained (digest, features)."""

    features: npt.NDArray[np.int64] = field(default_factory=lambda: _NO_FEATURES)
    deltas: npt.NDArray[np.int64] = field(default_factory=lambda: _NO_FEATURES)
    bias: int = 0
    trained: list[tuple[bytes, int, int]] = field(default_factory=list)
    forgotten: list[tuple[bytes, Features]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.trained or self.forgotten)


class OnlineTrainer:
    """Trains a copy of ``model`` one message at a time; :attr:`change` is what it did.

    Every per-feature operation of a step is one numpy operation over the message's
    features (a gather and sum, then an add in place), since a message's features are
    distinct; a step costs some 20 us, where the same through lists in pure Python cost
    300 us.
    """

    def __init__(self, model: Regression | None, rate: float = RATE) -> None:
        self.start = model if model is not None else Regression()
        self.rate = rate
        self._weights = self.start.weights.copy()
        self._bias = self.start.bias
        self._trained: list[tuple[bytes, int, int]] = []
        self._forgotten: list[tuple[bytes, Features]] = []

    def margin(self, features: Features) -> float:
        """The margin of the model trained so far, in log-odds."""
        return (_total(self._weights, features) + self._bias) / SCALE

    def held_out_margin(self, features: Features, step: int) -> float:
        """The margin of the model trained so far less one message's own ``step`` (as
        :meth:`train` returned it) on its ``features``: what the model says of that message
        as if it had not trained on it, for calibration (see
        :mod:`~stack.spam.calibration`)."""
        return self.margin(features) - step * (len(features) + 1) / SCALE

    def train(self, features: Features, digest: bytes, *, spam: bool) -> int:
        """One gradient step on one message, whose ``features`` are distinct; returns the step
        (added to each of its features and to the bias), in units."""
        error = (1.0 if spam else 0.0) - probability(self.margin(features))
        step = round(self.rate * error * SCALE)
        # Distinct features: each weight is read and written once, so the add in place is
        # the step added to every one of them.
        self._weights[features] += step
        self._bias += step
        self._trained.append((digest, step, step))
        return step

    def forget(self, features: Features, digest: bytes) -> None:
        """Record that the message with ``digest`` is to be untrained: the store knows its
        step, and takes it back from ``features`` (the ones it was trained with)."""
        self._forgotten.append((digest, features))

    @property
    def model(self) -> Regression:
        """The model as trained so far (a copy: 8 MB, for measurements, not the hot path)."""
        return Regression(self._weights.copy(), self._bias)

    @property
    def change(self) -> RegressionChange:
        """The steps taken: the trained weights less the model's, where they differ."""
        changed = np.flatnonzero(self._weights != self.start.weights)
        return RegressionChange(
            changed,
            self._weights[changed] - self.start.weights[changed],
            self._bias - self.start.bias,
            list(self._trained),
            list(self._forgotten),
        )


#: Each trained message's steps, by digest: (step, bias step) per time it was trained, oldest
#: first.
Records = dict[bytes, list[tuple[int, int]]]


def apply_change(model: Regression, records: Records, change: RegressionChange) -> None:
    """Apply ``change`` to ``model`` and ``records`` in place: the in-memory twin of what
    the SQLite store does."""
    features, deltas, bias, records_after = resolve(change, lambda digest: records.get(digest, []))
    model.weights[features] += deltas
    model.bias += bias
    for digest, steps in records_after.items():
        if steps:
            records[digest] = steps
        else:
            records.pop(digest, None)


def resolve(
    change: RegressionChange, lookup: Callable[[bytes], list[tuple[int, int]]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int, Records]:
    """The whole change: the features it touches (distinct) and the delta of each, and the
    bias, including the steps taken back from forgotten messages; and each touched digest's
    records afterwards (empty: none left).  ``lookup`` gives a digest's stored records.

    A message trained twice has two records; untraining it takes back the later one, so
    that train, train, untrain leaves the model as after the first training.  A forgotten
    message without a record changes nothing here.
    """
    features = [change.features]
    deltas = [change.deltas]
    bias = change.bias
    after: Records = {}

    def current(digest: bytes) -> list[tuple[int, int]]:
        if digest not in after:
            after[digest] = list(lookup(digest))
        return after[digest]

    for digest, forgotten in change.forgotten:
        steps = current(digest)
        if not steps:
            continue
        step, bias_step = steps.pop()
        features.append(np.asarray(forgotten, dtype=np.int64))
        deltas.append(np.full(len(forgotten), -step, dtype=np.int64))
        bias -= bias_step
    for digest, step, bias_step in change.trained:
        current(digest).append((step, bias_step))
    # One delta per feature: those of several messages on one feature summed, exactly.
    touched, where = np.unique(np.concatenate(features), return_inverse=True)
    total = np.zeros(len(touched), dtype=np.int64)
    np.add.at(total, where, np.concatenate(deltas))
    return touched.astype(np.int64), total, bias, after


def features_and_digest(data: bytes) -> tuple[Buckets, bytes]:
    """What training needs of a message (module-level: forked workers compute it)."""
    return head_buckets(data), message_digest(data)


#: (ham, spam) cutoffs on the probability until a training run calibrates the database's own.
DEFAULT_CUTOFFS = (0.10, 0.90)


class RegressionClassifier:
    """Scores a message's bytes with a trained :class:`Regression`."""

    name = "lr"

    def __init__(self, model: Regression, cutoffs: tuple[float, float] | None = None) -> None:
        self.model = model
        self.ham_cutoff, self.spam_cutoff = cutoffs or DEFAULT_CUTOFFS

    def score(self, data: bytes) -> Score:
        p = probability(self.model.margin(head_buckets(data)))
        verdict = verdict_for(p, ham_cutoff=self.ham_cutoff, spam_cutoff=self.spam_cutoff)
        return Score(verdict, p)
