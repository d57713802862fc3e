"""Where the word counts live: one interface, three backends, chosen by the location.

- :mod:`~stack.spam.stores.base`: :class:`WordStore`, the interface, and :class:`StoreError`;
- :mod:`~stack.spam.stores.sqlite`: a SQLite file, the default (its snapshot of the counts
  in :mod:`~stack.spam.stores.snapshot`);
- :mod:`~stack.spam.stores.redis`: a Redis server shared by a fleet of filters (the
  ``redis`` extra);
- :mod:`~stack.spam.stores.memory`: this process only, for tests and one-shot evaluations.

:func:`open_store` picks the backend by the location's URL scheme.  Redis is imported only
for a Redis URL: a command that reads a SQLite file pays nothing for it, and runs where the
``redis`` package is not installed.
"""

from __future__ import annotations

from pathlib import Path

from stack.spam.stores.base import StoreError, WordStore
from stack.spam.stores.memory import MemoryStore
from stack.spam.stores.sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore", "StoreError", "WordStore", "open_store"]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def open_store(location: str | Path, *, create: bool = True) -> WordStore:
    """The store at ``location``: ``redis://host:port/db`` (optionally ``#prefix``) for Redis,
    anything else a SQLite file.  Without ``create``, a store that is not there is a
    :class:`StoreError`, whichever the backend."""
    text = str(location)
    if text.startswith(REDIS_SCHEMES):
        try:
            from stack.spam.stores.redis import RedisStore  # noqa: PLC0415 - optional backend
        except ModuleNotFoundError as exc:
            if exc.name != "redis":
                raise
            raise StoreError(
                f"{text} is a Redis URL, and the redis package is not installed: "
                "pip install 'elsinore[redis]'"
            ) from exc
        url, _, prefix = text.partition("#")
        return RedisStore(url, prefix=prefix or "spamtacus:", create=create)
    return SqliteStore(location, create=create)
