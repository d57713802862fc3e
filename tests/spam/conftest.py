"""Fixtures for the spam filter's tests: word stores of every backend, and a real
redis-server on 127.0.0.1 with an ephemeral port (skipped with a reason when absent)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.spam.stores import MemoryStore, SqliteStore, WordStore


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own, without persistence, stopped at the end of the session."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.skip("redis-server did not start")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


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
