"""What stack.spam.stores.redis promises beyond the main tests: the key layout its docstring
gives (other tools read it), the generation a filter polls, and errors that name the server."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis_server import redis_server

from stack.spam.counts import Training, WordCounts
from stack.spam.stores import StoreError, open_store
from stack.spam.stores.redis import RedisStore

_prefixes = iter(range(1_000_000))


@pytest.fixture
def prefix() -> str:
    return f"contract{next(_prefixes)}:"


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client of the same server, to read and write the keys as another tool would."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def _spam(*tokens: str, sign: int = 1) -> Training:
    training = Training()
    training.add(tokens, spam=True, sign=sign)
    return training


def _ham(*tokens: str, sign: int = 1) -> Training:
    training = Training()
    training.add(tokens, spam=False, sign=sign)
    return training


def test_counts_live_under_the_prefix_in_the_documented_keys(
    redis_url: str, raw: redis.Redis, prefix: str
) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        # The message counts are there from creation on, zeros included.
        assert raw.hgetall(prefix + "messages") == {"spam": "0", "ham": "0"}
        store.apply(_spam("both", "spammy"))
        store.apply(_ham("both"))
        assert raw.hgetall(prefix + "messages") == {"spam": "1", "ham": "1"}
        assert raw.hgetall(prefix + "spam") == {"both": "1", "spammy": "1"}
        assert raw.hgetall(prefix + "ham") == {"both": "1"}
        assert raw.get(prefix + "generation") == "2"
        store.clear()


def test_the_default_prefix_is_spamtacus(redis_url: str, raw: redis.Redis) -> None:
    with RedisStore(redis_url) as store:
        assert store.prefix == "spamtacus:"
        assert raw.exists("spamtacus:messages")
        store.clear()
    with open_store(f"{redis_url}#mine:") as chosen:
        assert isinstance(chosen, RedisStore) and chosen.prefix == "mine:"
        assert raw.exists("mine:messages")
        chosen.clear()


def test_counts_written_by_another_tool_are_read(
    redis_url: str, raw: redis.Redis, prefix: str
) -> None:
    # A store filled without its message counts (an older version, a script): the words are
    # read, and a missing message count is zero.
    raw.hset(prefix + "spam", mapping={"only-spam": 3, "both": 1})
    raw.hset(prefix + "ham", mapping={"only-ham": 2, "both": 4})
    with RedisStore(redis_url, prefix=prefix, create=False) as store:
        assert store.load() == WordCounts(
            0, 0, {"only-spam": (3, 0), "only-ham": (0, 2), "both": (1, 4)}
        )
        store.clear()


def test_a_load_reads_in_one_transaction(redis_url: str, raw: redis.Redis, prefix: str) -> None:
    # The module's promise: the three hashes are read in one MULTI/EXEC, so that no training
    # runs between the reads.  The server counts the transactions it ran.
    def transactions() -> int:
        stats = raw.info("commandstats")
        return int(stats.get("cmdstat_exec", {}).get("calls", 0))

    with RedisStore(redis_url, prefix=prefix) as store:
        before = transactions()
        store.load()
        assert transactions() == before + 1
        store.clear()


def test_the_generation_counts_the_changes_applied(redis_url: str, prefix: str) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        assert store.generation() == 0
        store.apply(_spam("a"))
        store.apply(_ham("b"))
        assert store.generation() == 2
        store.load()
        with pytest.raises(StoreError):
            store.apply(_ham("never", sign=-1))
        assert store.generation() == 2  # neither a read nor a refused change moves it
        store.clear()


def test_clear_removes_every_key_of_the_store_and_no_other(
    redis_url: str, raw: redis.Redis, prefix: str
) -> None:
    with RedisStore(redis_url, prefix="neighbour-" + prefix) as neighbour:
        neighbour.apply(_spam("kept"))
        with RedisStore(redis_url, prefix=prefix) as store:
            store.apply(_spam("gone"))
            store.apply(_ham("gone"))
            store.clear()
        assert raw.keys(prefix + "*") == []
        with pytest.raises(StoreError, match="no spam database"):
            RedisStore(redis_url, prefix=prefix, create=False)
        assert neighbour.load().words == {"kept": (1, 0)}
        neighbour.clear()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"cutoffs": {"fisher": (0.2, 0.9)}}, id="cutoffs"),
        pytest.param({"lr_weight": 0.5}, id="lr_weight"),
    ],
)
def test_anything_but_word_counts_is_refused_whole(
    redis_url: str, prefix: str, change: dict[str, object]
) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        training = _spam("word")
        for name, value in change.items():
            setattr(training, name, value)
        with pytest.raises(StoreError, match=r"^a Redis store keeps word counts only"):
            store.apply(training)
        assert store.load() == WordCounts()
        store.clear()


@pytest.mark.parametrize("kind", ["spam", "ham"])
def test_untraining_more_messages_than_were_trained_says_which_class(
    redis_url: str, prefix: str, kind: str
) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        untrain = _spam if kind == "spam" else _ham
        with pytest.raises(StoreError, match=f"^more {kind} untrained than was trained; nothing"):
            store.apply(untrain(sign=-1))
        store.apply(untrain("seen"))
        with pytest.raises(StoreError, match=r"^untraining would make a count negative; nothing"):
            store.apply(untrain("unseen", sign=-1))
        store.clear()


def test_keys_of_the_wrong_type_are_errors_that_name_the_server(
    redis_url: str, raw: redis.Redis, prefix: str
) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        raw.set(prefix + "spam", "not a hash")
        with pytest.raises(
            StoreError, match=f"^cannot read Redis at {re.escape(redis_url)}: .*WRONGTYPE"
        ):
            store.load()
        with pytest.raises(
            StoreError, match=f"^cannot update Redis at {re.escape(redis_url)}: .*WRONGTYPE"
        ):
            store.apply(_spam("word"))
        raw.hset(prefix + "generation-holder", "x", 1)
        raw.rename(prefix + "generation-holder", prefix + "generation")
        with pytest.raises(
            StoreError, match=f"^cannot read Redis at {re.escape(redis_url)}: .*WRONGTYPE"
        ):
            store.generation()
        store.clear()


@pytest.mark.parametrize("written", ["not a number", "2.5", ""])
def test_a_generation_that_is_not_a_count_is_an_error_that_names_the_key(
    redis_url: str, raw: redis.Redis, prefix: str, written: str
) -> None:
    # Another tool (or a hand) wrote the key: the filter polling it gets the store's error,
    # which the CLI prints as one line, not a ValueError from int().
    with RedisStore(redis_url, prefix=prefix) as store:
        raw.set(prefix + "generation", written)
        with pytest.raises(
            StoreError,
            match=f"^cannot read Redis at {re.escape(redis_url)}: "
            f"{re.escape(prefix)}generation holds {re.escape(repr(written))}, not a count",
        ):
            store.generation()
        store.clear()


def test_counts_that_are_not_numbers_are_an_error_that_names_the_key(
    redis_url: str, raw: redis.Redis, prefix: str
) -> None:
    with RedisStore(redis_url, prefix=prefix) as store:
        raw.hset(prefix + "ham", "word", "many")
        with pytest.raises(
            StoreError,
            match=f"^cannot read Redis at {re.escape(redis_url)}: "
            f"{re.escape(prefix)}ham holds 'many' for 'word', not a count",
        ):
            store.load()
        raw.hset(prefix + "ham", "word", 1)
        raw.hset(prefix + "messages", "spam", "x")
        with pytest.raises(
            StoreError,
            match=f"^cannot read Redis at {re.escape(redis_url)}: "
            f"{re.escape(prefix)}messages holds 'x' for 'spam', not a count",
        ):
            store.load()
        store.clear()


@pytest.fixture
def stopped_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own, which the test stops."""
    with redis_server(tmp_path) as served:
        yield served


def test_a_server_that_went_away_is_an_error_that_names_it(
    stopped_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, process = stopped_server
    store = RedisStore(url, prefix="gone:")
    process.terminate()
    process.wait(timeout=10)
    with pytest.raises(StoreError, match=f"^cannot read Redis at {re.escape(url)}: "):
        store.load()
    with pytest.raises(StoreError, match=f"^cannot update Redis at {re.escape(url)}: "):
        store.apply(_spam("word"))
    with pytest.raises(StoreError, match=f"^cannot read Redis at {re.escape(url)}: "):
        store.generation()
    with pytest.raises(StoreError, match=f"^cannot reach Redis at {re.escape(url)}: "):
        RedisStore(url, prefix="gone:")
    store.close()


def test_the_default_server_is_the_local_one_on_the_standard_port() -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pass
    else:
        pytest.skip("a server listens on 127.0.0.1:6379; this test leaves it alone")
    with pytest.raises(
        StoreError, match=re.escape("cannot reach Redis at redis://127.0.0.1:6379/0: ")
    ):
        RedisStore()
