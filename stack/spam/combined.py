"""Fisher's clues and the regression together: the default classifier.

Small training sets favour Fisher and large ones the regression (the TREC spam tracks; the
issue's measurements).  The combination is their sum in log-odds::

    z = mean_log_odds(Fisher's clues) + weight * regression margin
    p = 1 / (1 + exp(-z))

Fisher's part is the mean log-odds of the clues it combines, not its chi-square probability,
which saturates: in 5-fold cross-validation on the SpamAssassin training part a dozen hard
ham reach Fisher's 1.0000, and no cutoff can then separate them from spam; the mean orders
them (spam caught at zero misfiled ham 74.7% with the probability, 81.0% with the mean).

The weight is the database's own: each training run that calibrates chooses it among
:data:`WEIGHTS` on the held-out scores of the mail it trained (see
:mod:`~stack.spam.calibration`), so that the regression counts for more as the mail it has
learned from makes it better.  A database calibrated before weights were stored uses
:data:`LR_WEIGHT`, the weight its cutoffs were calibrated for.
"""

from __future__ import annotations

from stack.spam.counts import WordCounts
from stack.spam.fisher import FisherClassifier, evidence, mean_log_odds
from stack.spam.ngrams import head_buckets
from stack.spam.regression import Regression, probability
from stack.spam.tokenizer import tokenize
from stack.spam.verdict import Score, verdict_for

#: How much a unit of the regression's margin counts against one of Fisher's mean log-odds,
#: when the database has not chosen (5-fold cross-validation on the SpamAssassin training
#: part chose it among 0.1, 0.3, 1 and 3, see ``bench/spam_cv.py --models``).
LR_WEIGHT = 0.1
#: The weights a calibration chooses among: from Fisher nearly alone to the regression
#: nearly alone.
WEIGHTS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: (ham, spam) cutoffs on p until a training run calibrates the database's own.
DEFAULT_CUTOFFS = (0.10, 0.90)


def combine(fisher_log_odds: float, margin: float, weight: float = LR_WEIGHT) -> float:
    """The combined probability from the two parts (one formula for scoring and for the
    calibration that sets its cutoffs)."""
    return probability(fisher_log_odds + weight * margin)


class CombinedClassifier:
    """Scores a message's bytes with Fisher's clues and the regression."""

    name = "fisher-lr"

    def __init__(
        self,
        counts: WordCounts,
        model: Regression,
        cutoffs: tuple[float, float] | None = None,
        weight: float | None = None,
    ) -> None:
        self.fisher = FisherClassifier(counts)
        self.model = model
        self.weight = LR_WEIGHT if weight is None else weight
        self.ham_cutoff, self.spam_cutoff = cutoffs or DEFAULT_CUTOFFS

    def score(self, data: bytes) -> Score:
        clues = self.fisher.clues(tokenize(data, repeats=False))
        margin = self.model.margin(head_buckets(data))
        p = combine(mean_log_odds(clues), margin, self.weight)
        verdict = verdict_for(p, ham_cutoff=self.ham_cutoff, spam_cutoff=self.spam_cutoff)
        return Score(verdict, p, evidence(clues))
