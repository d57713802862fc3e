"""The filter gives the same answers however many processes do the work."""

from __future__ import annotations

import os

from stack.spam.counts import Training, WordCounts
from stack.spam.filter import CHUNK, SpamFilter, classify_many, learn, map_messages

# More than CHUNK of each, so that work is really shared out.
SPAM = [b"Subject: free money %d\n\nclaim your free cash prize now, winner %d\n" % (i, i)
        for i in range(2 * CHUNK)]  # fmt: skip
HAM = [b"Subject: meeting %d\n\nthe release meeting moves to room %d tomorrow\n" % (i, i)
       for i in range(2 * CHUNK)]  # fmt: skip


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
    messages = [*HAM[:CHUNK], *SPAM[:CHUNK], b"", b"\xff\xfe garbage"]
    alone = list(classify_many(spam_filter, messages, jobs=1))
    shared = list(classify_many(spam_filter, messages, jobs=2))
    assert shared == alone
    verdicts = [score.verdict.value for score in alone[: 2 * CHUNK]]
    assert verdicts == ["no"] * CHUNK + ["yes"] * CHUNK


def _pid(data: bytes) -> int:
    return os.getpid()


def test_work_goes_to_other_processes_only_when_there_is_more_than_a_chunk() -> None:
    assert set(map_messages(_pid, [b""] * (CHUNK - 1), jobs=2)) == {os.getpid()}
    assert os.getpid() not in set(map_messages(_pid, [b""] * (4 * CHUNK), jobs=2))
