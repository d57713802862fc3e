"""Training a word database: what ``elsinore spam train`` does, for every caller.

One run reads its spam and ham once (tokenized on ``jobs`` processes), and turns them into
one change: the word counts, the regression's steps, and (when it trains at least
:data:`~stack.spam.calibration.MIN_PER_CLASS` of each class) the cutoffs and weight
calibrated on the run's held-out scores.  The store applies the change in one transaction,
or :func:`~stack.spam.stores.sqlite.apply_by_replacing` in a copy renamed over the file, so a
run that fails anywhere changes nothing.

The command and the simulated world (:mod:`harness.world.spam`) both call
:func:`train_database`, so that a world's filter is trained exactly as a user's is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from stack.spam.calibration import calibrate
from stack.spam.counts import Training, WordCounts
from stack.spam.filter import Features, Message, learn_both, learn_regression
from stack.spam.stores import REDIS_SCHEMES, open_store
from stack.spam.stores.sqlite import apply_by_replacing


@dataclass(frozen=True, slots=True)
class TrainingResult:
    """How many spam and ham a run read, and the database's counts afterwards."""

    spam: int
    ham: int
    counts: WordCounts


def train_database(
    location: str | Path,
    spam: Iterable[Message],
    ham: Iterable[Message],
    *,
    forget: bool = False,
    replace: bool = False,
    jobs: int = 1,
) -> TrainingResult:
    """Train the database at ``location`` (a SQLite file, created if need be, or a Redis
    URL) on ``spam`` and ``ham`` (messages' bytes, or files' entries for the workers to
    read), or untrain them with ``forget``, in one transaction.

    With ``replace``, a copy of the SQLite file is trained and renamed over it (what a
    running spamfilter service watches for; one trainer at a time).  A Redis store keeps
    word counts only: no regression, no cutoffs.  Raises
    :class:`~stack.spam.stores.base.StoreError` when the store cannot be opened or the
    change cannot be applied (untraining what was never trained), and whatever reading
    ``spam`` and ``ham`` raises; either way the database is as it was.
    """
    full = not str(location).startswith(REDIS_SCHEMES)
    training = Training()
    features: tuple[list[Features], list[Features]] = ([], [])
    tokens: tuple[list[list[str]], list[list[str]]] = ([], [])
    counted = learn_both(
        training, spam, ham, forget=forget, jobs=jobs,
        features=features if full else None, tokens=tokens if full and not forget else None,
    )  # fmt: skip
    if replace:
        path = Path(location)
        _learn_model(training, _current_counts(path), features, tokens, forget=forget)
        counts = apply_by_replacing(path, training)
    else:
        with open_store(location) as store:
            if full:
                _learn_model(training, store.load(), features, tokens, forget=forget)
            store.apply(training)
            counts = store.load()
    return TrainingResult(counted[0], counted[1], counts)


def _learn_model(
    training: Training,
    prior: WordCounts,
    features: tuple[list[Features], list[Features]],
    tokens: tuple[list[list[str]], list[list[str]]],
    *,
    forget: bool,
) -> None:
    """The regression's part of ``training``, and the cutoffs and weight this run
    calibrates (a run that untrains calibrates nothing)."""
    spam_margins, ham_margins = learn_regression(training, prior, *features, forget=forget)
    if forget:
        return
    whole = WordCounts(prior.spam_messages, prior.ham_messages, dict(prior.words))
    whole.apply(training)
    calibration = calibrate(whole, *tokens, spam_margins, ham_margins)
    training.cutoffs = calibration.cutoffs
    training.lr_weight = calibration.lr_weight


def _current_counts(path: Path) -> WordCounts:
    """The counts at ``path``, or none at all when there is no database yet."""
    if not path.exists():
        return WordCounts()
    with open_store(path, create=False) as store:
        return store.load()
