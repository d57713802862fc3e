"""The filter gives the same answers however many processes do the work."""

from __future__ import annotations

from stack.spam.counts import Training, WordCounts
from stack.spam.filter import SpamFilter, classify_many, learn

SPAM = [b"Subject: free money %d\n\nclaim your free cash prize now, winner %d\n" % (i, i)
        for i in range(40)]  # fmt: skip
HAM = [b"Subject: meeting %d\n\nthe release meeting moves to room %d tomorrow\n" % (i, i)
       for i in range(40)]  # fmt: skip


def _trained(jobs: int) -> WordCounts:
    training = Training()
    learn(training, SPAM, spam=True, jobs=jobs)
    learn(training, HAM, spam=False, jobs=jobs)
    counts = WordCounts()
    counts.apply(training)
    return counts


def test_training_on_several_processes_counts_the_same() -> None:
    assert _trained(jobs=2) == _trained(jobs=1)


def test_classifying_on_several_processes_gives_the_same_scores_in_order() -> None:
    spam_filter = SpamFilter(_trained(jobs=1))
    messages = [*HAM[:10], *SPAM[:10], b"", b"\xff\xfe garbage"]
    alone = list(classify_many(spam_filter, messages, jobs=1))
    shared = list(classify_many(spam_filter, messages, jobs=2))
    assert shared == alone
    assert [score.verdict.value for score in alone[:20]] == ["no"] * 10 + ["yes"] * 10
