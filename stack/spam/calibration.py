"""Cutoffs from the training data, per database: where ``yes`` and ``no`` begin.

Constant cutoffs are tuned on one corpus and wrong on the next: how a classifier's scores
spread depends on how much and what mail trained it.  So a training run that trains at least
:data:`MIN_PER_CLASS` of each class scores every message it trained as if it had not seen it,
and stores, for each classifier, the cutoffs those held-out scores call for:

- **spam cutoff**: the lowest score that at most :data:`HAM_MISFILED` of held-out ham reach;
- **ham cutoff**: the highest score at or below which at most :data:`SPAM_MISSED` of
  held-out spam fall (never above the spam cutoff); between the two is ``unknown``.

Held out how: Fisher's counts by :data:`FOLDS`-fold cross-validation over the run's messages
(each fold scored by the database as it was plus the run's other folds; counts train in any
order, so this is exact), and the regression by what on-line learning gives for free: each
message's margin just before its own step (progressive validation).  The combination takes
both parts of the same message.  A run with fewer messages keeps the cutoffs the database
has; a database without any uses the classifier's constants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from stack.spam.combined import combine
from stack.spam.counts import Training, WordCounts
from stack.spam.fisher import FisherClassifier, mean_log_odds
from stack.spam.regression import probability

#: The share of held-out ham the spam cutoff may let through as spam (the issue's 0.1%).
HAM_MISFILED = 0.001
#: The share of held-out spam the ham cutoff may let through as good mail.
SPAM_MISSED = 0.005
#: Fewer messages of either class than this in a run leave the stored cutoffs alone.
MIN_PER_CLASS = 50
FOLDS = 5


def cutoffs(spam: Sequence[float], ham: Sequence[float]) -> tuple[float, float]:
    """(ham cutoff, spam cutoff) for these held-out scores of spam and ham."""
    if not spam or not ham:
        raise ValueError("calibration needs scores of both classes")
    highest_ham = sorted(ham, reverse=True)
    allowed = int(HAM_MISFILED * len(ham))
    # verdict_for says yes at >= the cutoff: just above the first ham that must stay out.
    spam_cutoff = math.nextafter(highest_ham[allowed], math.inf)
    lowest_spam = sorted(spam)
    missed = int(SPAM_MISSED * len(spam))
    ham_cutoff = math.nextafter(lowest_spam[missed], -math.inf)
    return min(ham_cutoff, math.nextafter(spam_cutoff, -math.inf)), spam_cutoff


def calibrate(
    prior: WordCounts,
    spam_tokens: Sequence[list[str]],
    ham_tokens: Sequence[list[str]],
    spam_margins: Sequence[float] | None,
    ham_margins: Sequence[float] | None,
) -> dict[str, tuple[float, float]]:
    """Cutoffs for ``fisher`` and, given the regression's margins (each message's before its
    step, in the same order as the tokens), for ``lr`` and ``fisher-lr``; none at all when
    either class has fewer than :data:`MIN_PER_CLASS` messages."""
    if min(len(spam_tokens), len(ham_tokens)) < MIN_PER_CLASS:
        return {}
    labelled = [(tokens, True) for tokens in spam_tokens]
    labelled += [(tokens, False) for tokens in ham_tokens]
    folds = [index % FOLDS for index in range(len(spam_tokens))]
    folds += [index % FOLDS for index in range(len(ham_tokens))]
    fisher: list[float] = [0.0] * len(labelled)
    log_odds: list[float] = [0.0] * len(labelled)
    # Each fold's counts are the whole run's less the fold's own messages: every message is
    # added once and taken away once, not added in four folds of five.
    run = Training()
    for tokens, is_spam in labelled:
        run.add(tokens, spam=is_spam)
    whole = WordCounts(prior.spam_messages, prior.ham_messages, dict(prior.words))
    whole.apply(run)
    for fold in range(FOLDS):
        held_out = Training()
        for (tokens, is_spam), where in zip(labelled, folds, strict=True):
            if where == fold:
                held_out.add(tokens, spam=is_spam, sign=-1)
        counts = WordCounts(whole.spam_messages, whole.ham_messages, dict(whole.words))
        counts.apply(held_out)
        classifier = FisherClassifier(counts)
        for index, ((tokens, _), where) in enumerate(zip(labelled, folds, strict=True)):
            if where == fold:
                clues = classifier.clues(tokens)
                fisher[index] = classifier.score(tokens).probability
                log_odds[index] = mean_log_odds(clues)
    spam_count = len(spam_tokens)
    found = {"fisher": cutoffs(fisher[:spam_count], fisher[spam_count:])}
    if spam_margins is None or ham_margins is None:
        return found
    # The later half of each class: margins of a model that had seen at least half the run.
    late_spam = range(len(spam_margins) // 2, len(spam_margins))
    late_ham = range(len(ham_margins) // 2, len(ham_margins))
    for name, score in (("lr", lambda _part, margin: probability(margin)), ("fisher-lr", combine)):
        found[name] = cutoffs(
            [score(log_odds[i], spam_margins[i]) for i in late_spam],
            [score(log_odds[spam_count + i], ham_margins[i]) for i in late_ham],
        )
    return found
