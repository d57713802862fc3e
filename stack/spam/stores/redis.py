"""The word store in Redis, so that a fleet of filters shares one set of counts (the way
rspamd shares its Bayes statistics).

Layout, under a key prefix (default ``spamtacus:``, given after ``#`` in a ``--db`` URL)::

    <prefix>messages   hash  spam -> n, ham -> n (there from creation on, zeros included)
    <prefix>spam       hash  token -> messages of spam that held it
    <prefix>ham        hash  token -> messages of ham that held it
    <prefix>generation string  how many changes were applied (missing: none yet)

A change is applied by one Lua script, which Redis runs atomically: it first checks that no
count would go below zero (an untraining of mail that was never trained), and only then
applies every increment and deletes the counts that reached zero.  A load reads the three
hashes in one MULTI/EXEC transaction, so every filter sees all of a training or none of it.
Concurrent trainers need no retry loop (an earlier WATCH/MULTI version starved untrainers
while trainers kept writing).

The same script counts the change in ``generation``, so that a long-running filter, which
classifies against counts loaded into memory, learns that they changed with one ``GET``
(:meth:`RedisStore.generation`) instead of reading every count again.
"""

from __future__ import annotations

from typing import Any

import redis

from stack.spam.counts import Training, WordCounts
from stack.spam.stores.base import StoreError, WordStore, missing_store

# KEYS: messages, spam, ham, generation.
# ARGV: spam messages, ham messages, then token, spam, ham...
_APPLY = """
local function count(key, field)
  return tonumber(redis.call('HGET', key, field) or '0')
end
local message_changes = {spam = tonumber(ARGV[1]), ham = tonumber(ARGV[2])}
for class, change in pairs(message_changes) do
  if change < 0 and count(KEYS[1], class) + change < 0 then
    return redis.error_reply('NEGATIVE more ' .. class .. ' untrained than was trained')
  end
end
for i = 3, #ARGV, 3 do
  local spam, ham = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  if (spam < 0 and count(KEYS[2], ARGV[i]) + spam < 0)
      or (ham < 0 and count(KEYS[3], ARGV[i]) + ham < 0) then
    return redis.error_reply('NEGATIVE untraining would make a count negative')
  end
end
for class, change in pairs(message_changes) do
  if change ~= 0 then redis.call('HINCRBY', KEYS[1], class, change) end
end
for i = 3, #ARGV, 3 do
  for column = 1, 2 do
    local change = tonumber(ARGV[i + column])
    if change ~= 0 then
      local key = KEYS[column + 1]
      if redis.call('HINCRBY', key, ARGV[i], change) == 0 then
        redis.call('HDEL', key, ARGV[i])
      end
    end
  end
end
redis.call('INCR', KEYS[4])
return 0
"""


def _is_count(value: str) -> bool:
    """Whether ``value`` reads as the integer a count is."""
    try:
        int(value)
    except ValueError:
        return False
    return True


class RedisStore(WordStore):
    """Word counts in a Redis server, behind the same interface as the SQLite store: created
    when opened unless ``create`` is false, and then a :class:`StoreError` if none is there."""

    def __init__(
        self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "spamtacus:",
        create: bool = True,
    ) -> None:  # fmt: skip
        self.url = url
        self.prefix = prefix
        self._keys = [prefix + "messages", prefix + "spam", prefix + "ham"]
        self._generation = prefix + "generation"
        try:
            self._client: Any = redis.Redis.from_url(url, decode_responses=True)
            if create:
                # A store is there once its message counts are, trained or not, as a
                # SQLite file is there once created.
                pipeline = self._client.pipeline(transaction=True)
                for field in ("spam", "ham"):
                    pipeline.hsetnx(self._keys[0], field, 0)
                pipeline.execute()
                there = True
            else:
                there = bool(self._client.exists(*self._keys))
        except (redis.RedisError, ValueError) as exc:
            raise StoreError(f"cannot reach Redis at {url}: {exc}") from exc
        if not there:
            self._client.close()
            raise missing_store(f"{url}#{prefix}")
        self._apply = self._client.register_script(_APPLY)

    def load(self) -> WordCounts:
        # One MULTI/EXEC: Redis runs the three reads with no command of another client
        # between them, so a training (one script, as atomic) is read whole or not at all.
        pipeline = self._client.pipeline(transaction=True)
        for key in self._keys:
            pipeline.hgetall(key)
        try:
            messages, spam, ham = pipeline.execute()
        except redis.RedisError as exc:
            raise StoreError(f"cannot read Redis at {self.url}: {exc}") from exc
        try:
            words = {token: (int(count), 0) for token, count in spam.items()}
            for token, count in ham.items():
                words[token] = (words.get(token, (0, 0))[0], int(count))
            totals = int(messages.get("spam", 0)), int(messages.get("ham", 0))
        except ValueError:
            # Only another hand writes a count that is not an integer (the script's HINCRBY
            # refuses to add to one); it is looked for once the fast reading has failed.
            hashes = zip(self._keys, (messages, spam, ham), strict=True)
            key, field, value = next(
                (key, field, value)
                for key, values in hashes
                for field, value in values.items()
                if not _is_count(value)
            )
            raise self._not_a_count(f"{key} holds {value!r} for {field!r}") from None
        return WordCounts(*totals, words)

    def apply(self, training: Training) -> None:
        if training.regression or training.cutoffs or training.lr_weight is not None:
            # keeps_regression is False: training leaves both out for this store.
            raise StoreError("a Redis store keeps word counts only, not the regression")
        arguments: list[str | int] = [training.spam_messages, training.ham_messages]
        for token, (spam, ham) in training.items():
            arguments.extend((token, spam, ham))
        try:
            self._apply(keys=[*self._keys, self._generation], args=arguments)
        except redis.ResponseError as exc:
            if "NEGATIVE" in str(exc):
                reason = str(exc).split("NEGATIVE", 1)[1].strip()
                raise StoreError(f"{reason}; nothing was changed") from exc
            raise StoreError(f"cannot update Redis at {self.url}: {exc}") from exc
        except redis.RedisError as exc:
            raise StoreError(f"cannot update Redis at {self.url}: {exc}") from exc

    def generation(self) -> int:
        """How many changes were applied so far: a count that only grows, read in one
        round trip; a filter loads the counts again when it moves."""
        try:
            value = self._client.get(self._generation)
        except redis.RedisError as exc:
            raise StoreError(f"cannot read Redis at {self.url}: {exc}") from exc
        if value is None:  # no change applied yet
            return 0
        try:
            return int(value)
        except ValueError:
            raise self._not_a_count(f"{self._generation} holds {value!r}") from None

    def _not_a_count(self, what: str) -> StoreError:
        return StoreError(f"cannot read Redis at {self.url}: {what}, not a count")

    def clear(self) -> None:
        """Delete every key of this store (tests, and ``--reset``-style tools)."""
        self._client.delete(*self._keys, self._generation)

    def close(self) -> None:
        self._client.close()
