"""The Redis store shared by several filters at once: no update is lost or half-applied,
and no read sees half of one."""

from __future__ import annotations

import threading

import pytest

from stack.spam.counts import Training, WordCounts
from stack.spam.stores import StoreError
from stack.spam.stores.redis import RedisStore


def _one(tokens: list[str], *, spam: bool, sign: int = 1) -> Training:
    training = Training()
    training.add(tokens, spam=spam, sign=sign)
    return training


def test_concurrent_trainers_and_untrainers_lose_nothing(redis_url: str) -> None:
    prefix = "concurrent:"
    setup = RedisStore(redis_url, prefix=prefix)
    setup.clear()
    # Something for the untrainers to take away while the trainers add.
    for _ in range(40):
        setup.apply(_one(["shared", "old"], spam=False))

    def trainer() -> None:
        store = RedisStore(redis_url, prefix=prefix)
        for _ in range(40):
            store.apply(_one(["shared", "new"], spam=True))
        store.close()

    def untrainer() -> None:
        store = RedisStore(redis_url, prefix=prefix)
        for _ in range(20):
            store.apply(_one(["shared", "old"], spam=False, sign=-1))
        store.close()

    threads = [threading.Thread(target=f) for f in (trainer, trainer, untrainer, untrainer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = setup.load()
    setup.clear()
    setup.close()
    assert (counts.spam_messages, counts.ham_messages) == (80, 0)
    assert counts.words == {"shared": (80, 0), "new": (80, 0)}  # zero counts are deleted


def _torn(counts: WordCounts) -> str | None:
    """What is wrong with counts that should be ``n`` whole trainings of one spam holding
    ``spam-word`` and one ham holding ``ham-word``; None if they are such a state."""
    n = counts.spam_messages
    whole = WordCounts(n, n, {"spam-word": (n, 0), "ham-word": (0, n)} if n else {})
    return None if counts == whole else f"{counts}"


def test_a_load_racing_a_trainer_sees_whole_trainings_only(redis_url: str) -> None:
    # One training touches all three hashes (messages, spam, ham); a load that read them
    # one by one would, while the trainer runs, see the messages of one training and the
    # words of a later one.
    prefix = "race:"
    trainings = 400
    with RedisStore(redis_url, prefix=prefix) as setup:
        setup.clear()
    done = threading.Event()

    def trainer() -> None:
        try:
            with RedisStore(redis_url, prefix=prefix) as store:
                training = _one(["spam-word"], spam=True)
                training.add(["ham-word"], spam=False)
                for _ in range(trainings):
                    store.apply(training)
        finally:
            done.set()

    thread = threading.Thread(target=trainer)
    torn: list[str] = []
    reads = midway = 0
    with RedisStore(redis_url, prefix=prefix) as reader:
        thread.start()
        while not done.is_set() and reads < 10 * trainings:
            counts = reader.load()
            reads += 1
            midway += 0 < counts.spam_messages < trainings
            problem = _torn(counts)
            if problem is not None:
                torn.append(problem)
        thread.join()
        final = reader.load()
        reader.clear()
    assert final.spam_messages == trainings and _torn(final) is None
    assert torn == [], f"{len(torn)} of {reads} loads saw part of a training: {torn[:3]}"
    assert midway, "no load ran while the trainer did: the test raced nothing"


def test_a_missing_store_is_refused_when_not_creating(redis_url: str) -> None:
    with pytest.raises(StoreError, match=f"no spam database at {redis_url}#absent:"):
        RedisStore(redis_url, prefix="absent:", create=False)
    with RedisStore(redis_url, prefix="fresh:") as store:  # created, though never trained
        assert store.load() == WordCounts()
    with RedisStore(redis_url, prefix="fresh:", create=False) as store:
        assert store.load() == WordCounts()
        store.clear()
