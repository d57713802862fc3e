"""The filter gives the same answers however many processes do the work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stack.mime.sources import iter_entries, iter_messages
from stack.spam.counts import Training, WordCounts
from stack.spam.filter import (
    CHUNK,
    SpamFilter,
    classify_entries,
    classify_many,
    learn,
    map_messages,
)

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
    verdicts = [score.verdict.value for _, score in alone[: 2 * CHUNK]]
    assert verdicts == ["no"] * CHUNK + ["yes"] * CHUNK


@pytest.mark.parametrize("jobs", [1, 2])
def test_workers_read_the_files_they_are_given_and_every_message_of_an_mbox(
    tmp_path: Path, jobs: int
) -> None:
    spam_filter = SpamFilter(_trained(jobs=1))
    for index, message in enumerate([*HAM[:CHUNK], *SPAM[:CHUNK]]):
        (tmp_path / f"{index:03}.eml").write_bytes(message)
    mbox = b"".join(b"From a@b Thu Aug 22 12:36:23 2002\n" + m + b"\n" for m in SPAM[:2])
    (tmp_path / "zz.mbox").write_bytes(mbox)
    expected = [(s.label, spam_filter.classify(s.data)) for s in iter_messages([tmp_path])]
    assert len(expected) == 2 * CHUNK + 2  # the mbox is two messages
    assert list(classify_many(spam_filter, iter_entries([tmp_path]), jobs=jobs)) == expected
    per_entry = list(classify_entries(spam_filter, iter_entries([tmp_path]), jobs=jobs))
    assert [len(scores) for scores in per_entry] == [1] * 2 * CHUNK + [2]


def _pid(data: bytes) -> int:
    return os.getpid()


def test_work_goes_to_other_processes_only_when_there_is_more_than_a_chunk() -> None:
    assert set(map_messages(_pid, [b""] * (CHUNK - 1), jobs=2)) == {os.getpid()}
    assert os.getpid() not in set(map_messages(_pid, [b""] * (4 * CHUNK), jobs=2))
