"""The filter: a message's bytes in, a verdict out; and training from message sources.

This is the one place that puts the tokenizer, the counts and a classifier together, so the
CLI, the SMTP service and the benchmarks all classify exactly the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, Protocol

from stack.spam.counts import Training, WordCounts
from stack.spam.fisher import FisherClassifier
from stack.spam.graham import GrahamClassifier
from stack.spam.tokenizer import tokenize
from stack.spam.verdict import Score

ClassifierName = Literal["fisher", "graham"]
CLASSIFIERS: tuple[ClassifierName, ...] = ("fisher", "graham")
#: Chosen by cross-validation on the training part of the SpamAssassin corpus: see README
#: and ``bench/spam_side_by_side.py``.
DEFAULT_CLASSIFIER: ClassifierName = "fisher"


class Classifier(Protocol):
    name: str

    def score(self, tokens: Iterable[str]) -> Score: ...


def make_classifier(counts: WordCounts, name: ClassifierName = DEFAULT_CLASSIFIER) -> Classifier:
    if name == "graham":
        return GrahamClassifier(counts)
    return FisherClassifier(counts)


class SpamFilter:
    """Classifies messages against counts loaded once into memory."""

    def __init__(self, counts: WordCounts, classifier: ClassifierName = DEFAULT_CLASSIFIER):
        self.classifier = make_classifier(counts, classifier)

    def classify(self, data: bytes) -> Score:
        return self.classifier.score(tokenize(data))


def learn(
    training: Training, messages: Iterable[bytes], *, spam: bool, forget: bool = False
) -> int:
    """Add each message's tokens to ``training`` (or take them away with ``forget``); return
    how many messages were read."""
    count = 0
    for data in messages:
        training.add(tokenize(data), spam=spam, sign=-1 if forget else 1)
        count += 1
    return count


def verdict_counts(scores: Sequence[Score]) -> dict[str, int]:
    """``{"yes": n, "no": n, "unknown": n}`` for a list of scores."""
    counts = {"yes": 0, "no": 0, "unknown": 0}
    for score in scores:
        counts[score.verdict.value] += 1
    return counts
