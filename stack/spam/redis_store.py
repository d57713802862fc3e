"""The word store in Redis, so that a fleet of filters shares one set of counts (the way
rspamd shares its Bayes statistics).

Layout, under a key prefix (default ``spamtacus:``)::

    <prefix>messages   hash  spam -> n, ham -> n
    <prefix>spam       hash  token -> messages of spam that held it
    <prefix>ham        hash  token -> messages of ham that held it

A training is one ``MULTI``/``EXEC`` transaction of ``HINCRBY``: every filter sees all of it
or none of it.  An untraining must not take a count below zero, so it first ``WATCH``es the
three hashes, reads the counts it is about to lower, and only then queues the transaction;
if another writer changed anything in between, ``EXEC`` fails and the whole check is redone.
Counts that reach zero are deleted in the same transaction.
"""

from __future__ import annotations

from typing import Any

import redis

from stack.spam.counts import NegativeCountError, Training, WordCounts
from stack.spam.store import StoreError

_RETRIES = 20
_BATCH = 5000


class RedisStore:
    """Word counts in a Redis server, behind the same interface as the SQLite store."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "spamtacus:"):
        self.url = url
        self.prefix = prefix
        self._messages = prefix + "messages"
        self._spam = prefix + "spam"
        self._ham = prefix + "ham"
        try:
            self._client: Any = redis.Redis.from_url(url, decode_responses=True)
            self._client.ping()
        except (redis.RedisError, ValueError) as exc:
            raise StoreError(f"cannot reach Redis at {url}: {exc}") from exc

    def load(self) -> WordCounts:
        try:
            messages = self._client.hgetall(self._messages)
            spam = self._client.hgetall(self._spam)
            ham = self._client.hgetall(self._ham)
        except redis.RedisError as exc:
            raise StoreError(f"cannot read Redis at {self.url}: {exc}") from exc
        words = {token: (int(count), 0) for token, count in spam.items()}
        for token, count in ham.items():
            words[token] = (words.get(token, (0, 0))[0], int(count))
        return WordCounts(int(messages.get("spam", 0)), int(messages.get("ham", 0)), words)

    def apply(self, training: Training) -> None:
        changes = list(training.items())
        lowered = [token for token, (spam, ham) in changes if spam < 0 or ham < 0]
        try:
            for _ in range(_RETRIES):
                with self._client.pipeline(transaction=True) as pipe:
                    try:
                        if lowered or training.spam_messages < 0 or training.ham_messages < 0:
                            pipe.watch(self._messages, self._spam, self._ham)
                            current = self._current(pipe, lowered)
                            training.check_against(current)
                        pipe.multi()
                        self._queue(pipe, training, changes, lowered)
                        pipe.execute()
                        return
                    except redis.WatchError:
                        continue
            raise StoreError(f"Redis at {self.url} kept changing under an untraining; retry")
        except NegativeCountError as exc:
            raise StoreError(f"{exc}; nothing was changed") from exc
        except redis.RedisError as exc:
            raise StoreError(f"cannot update Redis at {self.url}: {exc}") from exc

    def _current(self, pipe: Any, tokens: list[str]) -> WordCounts:
        """The counts of ``tokens`` and of messages, read while watching (immediate mode)."""
        messages = pipe.hgetall(self._messages)
        counts = WordCounts(int(messages.get("spam", 0)), int(messages.get("ham", 0)))
        for start in range(0, len(tokens), _BATCH):
            batch = tokens[start : start + _BATCH]
            spam = pipe.hmget(self._spam, batch)
            ham = pipe.hmget(self._ham, batch)
            for token, s, h in zip(batch, spam, ham, strict=True):
                counts.words[token] = (int(s or 0), int(h or 0))
        return counts

    def _queue(
        self, pipe: Any, training: Training, changes: list[tuple[str, tuple[int, int]]],
        lowered: list[str],
    ) -> None:  # fmt: skip
        if training.spam_messages:
            pipe.hincrby(self._messages, "spam", training.spam_messages)
        if training.ham_messages:
            pipe.hincrby(self._messages, "ham", training.ham_messages)
        for token, (spam, ham) in changes:
            if spam:
                pipe.hincrby(self._spam, token, spam)
            if ham:
                pipe.hincrby(self._ham, token, ham)
        # A count this transaction lowers may reach zero: a small script, run in order
        # after the increments, deletes it so that the hashes do not fill with zeros.
        for token in lowered:
            pipe.eval(_DELETE_IF_ZERO, 2, self._spam, self._ham, token)

    def clear(self) -> None:
        """Delete every key of this store (tests, and ``--reset``-style tools)."""
        self._client.delete(self._messages, self._spam, self._ham)

    def close(self) -> None:
        self._client.close()


# Runs inside the transaction after the increments: removes a field whose count is now 0.
_DELETE_IF_ZERO = """
for i = 1, 2 do
  if redis.call('HGET', KEYS[i], ARGV[1]) == '0' then redis.call('HDEL', KEYS[i], ARGV[1]) end
end
return 0
"""
