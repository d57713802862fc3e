"""Cutoffs from the training data, per database: where ``yes`` and ``no`` begin.

Constant cutoffs are tuned on one corpus and wrong on the next: how a classifier's scores
spread depends on how much and what mail trained it.  So a training run that trains at least
:data:`MIN_PER_CLASS` of each class scores every message it trained as if it had not seen it,
and stores, for each classifier, the cutoffs those held-out scores call for:

- **spam cutoff**: the lowest score that at most :data:`HAM_MISFILED` of held-out ham reach;
- **ham cutoff**: the highest score at or below which at most :data:`SPAM_MISSED` of
  held-out spam fall, raised until at most :data:`UNKNOWN` of each class lies between the
  two cutoffs (``unknown``), and never above the spam cutoff.

Held out how: each message is scored by the database less that message (leave one out).
For Fisher's counts this is exact and cheap: a spam's tokens are scored against the counts
with one spam less in each of them, the same for every spam.  For the
regression it is the trained model less the message's own step
(:meth:`~stack.spam.regression.OnlineTrainer.held_out_margin`): close to exact, a little
cautious, since the steps of later messages like it were smaller for its having been
learned.  Both are nearer to what the final database says of new mail than what the
first version used, 5-fold cross-validation for Fisher and each message's margin before its
own step for the regression, whose cutoffs left 5.5% of the test spam unknown (the
model during training is weaker than the model trained).

The same held-out scores choose the weight of the regression in ``fisher-lr``
(:data:`~stack.spam.combined.WEIGHTS`), stored in the database (:func:`choose_weight`).
Small corpora favour Fisher and large ones the regression; the weight follows the
database.

A run with fewer messages keeps the cutoffs (and weight) the database has; a database
without any uses the classifier's constants.

Every choice here was made by cross-validation on the training part of the issue's
SpamAssassin split (``python bench/spam_cv.py --calibration``: each fold classified with the
cutoffs and weight that training on the other four calibrates), never on its test part.
On the whole training part the folds caught 95.3% of their spam with 3 of 3,320 ham
misfiled, 0.2% of spam and 0.1% of ham unknown (1.4% and 0.1% when 2% might be unknown).
The first version (5-fold scores for Fisher, progressive ones for the regression, the ham
cutoff at 0.5% of spam, the weight 0.1) caught 93.5% with 6.0% of spam unknown;
leave-one-out scores alone caught 95.0% with 4.5% unknown, which the unknown band brought
to 1.5%; choosing the weight by ROC area rather than by the spam caught at a thousandth of
the ham: 95.3% against 95.2%.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from stack.spam.combined import WEIGHTS, combine
from stack.spam.counts import WordCounts
from stack.spam.evaluation import Evaluation
from stack.spam.fisher import Clue, FisherClassifier, mean_log_odds
from stack.spam.regression import probability
from stack.spam.verdict import Score, Verdict

#: The share of held-out ham the spam cutoff may let through as spam (the issue's 0.1%).
HAM_MISFILED = 0.001
#: The share of held-out spam the ham cutoff may let through as good mail, unless that
#: leaves more than :data:`UNKNOWN` of a class unknown.
SPAM_MISSED = 0.005
#: The share of each class's held-out scores that may lie between the cutoffs: the stricter of
#: the issue's two targets (at most 2% of each class unknown on the SpamAssassin split, 1% on
#: the large held-out corpus).  On the SpamAssassin split, 1% rather than 2% moves 0.3% of the
#: spam from unknown to missed and catches as much.
UNKNOWN = 0.01
#: Fewer messages of either class than this in a run leave the stored cutoffs alone.
MIN_PER_CLASS = 50


@dataclass(frozen=True, slots=True)
class Calibration:
    """What a training run stores: (ham, spam) cutoffs per classifier, and the regression's
    weight in ``fisher-lr`` (None: not chosen, the database keeps its own)."""

    cutoffs: dict[str, tuple[float, float]] = field(default_factory=dict)
    lr_weight: float | None = None


def cutoffs(spam: Sequence[float], ham: Sequence[float]) -> tuple[float, float]:
    """(ham cutoff, spam cutoff) for these held-out scores of spam and ham."""
    if not spam or not ham:
        raise ValueError("calibration needs scores of both classes")
    highest_ham = sorted(ham, reverse=True)
    # verdict_for says yes at >= the cutoff: just above the first ham that must stay out.
    spam_cutoff = math.nextafter(highest_ham[int(HAM_MISFILED * len(ham))], math.inf)
    lowest_spam = sorted(spam)
    ham_cutoff = math.nextafter(lowest_spam[int(SPAM_MISSED * len(spam))], -math.inf)
    for scores in (spam, ham):
        # verdict_for says no at <= the cutoff: the first score past the allowed unknowns
        # is the highest the ham cutoff may leave below it.
        below = sorted((p for p in scores if p < spam_cutoff), reverse=True)
        allowed = int(UNKNOWN * len(scores))
        if len(below) > allowed:
            ham_cutoff = max(ham_cutoff, below[allowed])
    return min(ham_cutoff, math.nextafter(spam_cutoff, -math.inf)), spam_cutoff


def held_out_fisher(
    whole: WordCounts, spam_tokens: Sequence[list[str]], ham_tokens: Sequence[list[str]]
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(Fisher's probability, its mean clue log-odds) of each message, spam and ham each in
    their order, scored by ``whole`` less that message.  ``whole`` must hold every message
    (each message's tokens once, as training counts them).

    In this process: workers forked at this point, with every message's tokens in memory,
    spent what they saved in copy-on-write faults (the reference counts of the tokens they
    read), and took as long on two cores as this does on one."""
    scored: list[list[tuple[float, float]]] = []
    for messages, spam in ((spam_tokens, True), (ham_tokens, False)):
        classifier = _LessOne(whole, spam=spam)
        found = []
        for tokens in messages:
            clues = classifier.clues(tokens)
            found.append((classifier.score_clues(clues).probability, mean_log_odds(clues)))
        scored.append(found)
    return scored[0], scored[1]


class _LessOne(FisherClassifier):
    """Fisher on ``whole`` less one message of a class: one message fewer of the class, and
    one less in the class's count of every token looked up.  Only the tokens of messages of
    that class are looked up, and each of those was counted in it, so no count goes below
    zero; computed as each token is first met, rather than by a copy of every count."""

    def __init__(self, whole: WordCounts, *, spam: bool) -> None:
        self._spam = spam
        less = WordCounts(whole.spam_messages - spam, whole.ham_messages - (not spam), whole.words)
        super().__init__(less)

    def token_value(self, token: str, counts: tuple[int, int]) -> Clue | None:
        spam, ham = counts
        return super().token_value(token, (spam - 1, ham) if self._spam else (spam, ham - 1))


def choose_weight(spam: Sequence[tuple[float, float]], ham: Sequence[tuple[float, float]]) -> float:
    """The weight of :data:`~stack.spam.combined.WEIGHTS` whose combination of (Fisher's
    mean log-odds, regression margin) orders ``spam`` above ``ham`` best: the largest ROC
    area, ties to the most spam caught at the spam cutoff (:data:`HAM_MISFILED` of
    ``ham``), then to the smaller weight.

    The ROC area first, because it reads every pair of scores: the spam caught at a
    thousandth of the ham turns on the three highest of 3,000 ham, and choosing by it
    caught less in cross-validation (95.2% against 95.3% on the whole training part).
    """

    def merit(weight: float) -> tuple[float, float, float]:
        evaluation = Evaluation(
            spam=[Score(Verdict.UNKNOWN, combine(o, m, weight)) for o, m in spam],
            ham=[Score(Verdict.UNKNOWN, combine(o, m, weight)) for o, m in ham],
        )
        return evaluation.roc_area(), evaluation.caught_at(HAM_MISFILED), -weight

    return max(WEIGHTS, key=merit)


def calibrate(
    whole: WordCounts,
    spam_tokens: Sequence[list[str]],
    ham_tokens: Sequence[list[str]],
    spam_margins: Sequence[float] | None,
    ham_margins: Sequence[float] | None,
) -> Calibration:
    """Cutoffs for ``fisher`` and, given the regression's held-out margins (in the same order
    as the tokens), the weight of ``fisher-lr`` and cutoffs for ``lr`` and ``fisher-lr``;
    nothing at all when either class has fewer than :data:`MIN_PER_CLASS` messages.
    ``whole`` is the database's counts with the run's messages trained."""
    if min(len(spam_tokens), len(ham_tokens)) < MIN_PER_CLASS:
        return Calibration()
    spam_fisher, ham_fisher = held_out_fisher(whole, spam_tokens, ham_tokens)
    found = {"fisher": cutoffs([p for p, _ in spam_fisher], [p for p, _ in ham_fisher])}
    if spam_margins is None or ham_margins is None:
        return Calibration(found)
    spam_parts = [(o, m) for (_, o), m in zip(spam_fisher, spam_margins, strict=True)]
    ham_parts = [(o, m) for (_, o), m in zip(ham_fisher, ham_margins, strict=True)]
    weight = choose_weight(spam_parts, ham_parts)
    found["lr"] = cutoffs(list(map(probability, spam_margins)), list(map(probability, ham_margins)))
    found["fisher-lr"] = cutoffs(
        [combine(o, m, weight) for o, m in spam_parts],
        [combine(o, m, weight) for o, m in ham_parts],
    )
    return Calibration(found, weight)
