"""The Redis store shared by several filters at once: no update is lost or half-applied."""

from __future__ import annotations

import threading

from stack.spam.counts import Training
from stack.spam.redis_store import RedisStore


def _one(tokens: list[str], *, spam: bool, sign: int = 1) -> Training:
    training = Training()
    training.add(tokens, spam=spam, sign=sign)
    return training


def test_concurrent_trainers_and_untrainers_lose_nothing(redis_url: str) -> None:
    prefix = "concurrent:"
    setup = RedisStore(redis_url, prefix=prefix)
    setup.clear()
    # Something for the untrainers to take away, so that they take the WATCH path.
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
