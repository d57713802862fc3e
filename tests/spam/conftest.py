"""Fixtures for the spam filter's tests: word stores of every backend, and a real
redis-server on 127.0.0.1 with an ephemeral port (skipped with a reason when absent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_server import redis_server

from stack.spam.stores import MemoryStore, SqliteStore, WordStore


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own, without persistence, stopped at the end of the session."""
    with redis_server(tmp_path_factory.mktemp("redis")) as (url, _):
        yield url


_counter = iter(range(1_000_000))


@pytest.fixture(params=["sqlite", "memory", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WordStore]:
    """An empty word store of each backend; every test runs against all of them."""
    if request.param == "sqlite":
        backend: WordStore = SqliteStore(tmp_path / "words.db")
    elif request.param == "memory":
        backend = MemoryStore()
    else:
        from stack.spam.stores.redis import RedisStore

        url = request.getfixturevalue("redis_url")
        backend = RedisStore(url, prefix=f"test{next(_counter)}-{tmp_path.name}:")
    yield backend
    backend.close()
