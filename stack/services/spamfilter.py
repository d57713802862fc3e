"""The spamfilter: every message labelled ``X-Spamtacus: yes|no|unknown``, none ever refused.

Its parts, each built from explicit arguments (the service runner reads them from
``stack.toml`` and wires them; nothing here reads a configuration)::

    database = WordDatabase("/var/lib/elsinore/words.db")   # or "redis://127.0.0.1:6379/0"
    config = InboundConfig(
        hostname="spamfilter.castle.test",
        transforms=(stamp_received, Labelling(database)),
    )
    smtp_service("spamfilter", config, spool, Outbound(smarthost=relay),
                 listen=[Endpoint(address, 25)], closers=[database.close])

:class:`Labelling` is the transform after the ``Received:`` field.  It classifies the message
with :class:`~stack.spam.filter.SpamFilter`, exactly as ``elsinore spam classify`` does, and
prepends the fields ``elsinore spam mark`` writes (:func:`stack.spam.mark.stamp`, on the tree
the hop parsed: the bytes below are the bytes that came).

**It never refuses or drops a message.**  When there is nothing to classify with (no
database yet, a corrupt file, a Redis server that cannot be reached) or the classifier fails,
the message is stamped ``unknown`` and goes on, and the reason is logged on that message's
line.  The seed's spamtacus passes mail through the same way: a spam let through unlabelled
costs a reader a glance, a message lost costs its sender and its reader the mail, and a
refusal here would be a bounce for a fault of ours, not of the sender's.

**Reloading without a restart.**  :class:`WordDatabase` holds the counts in memory (a
classification is then a dict lookup per token) and looks at most once a second
(``check_interval``) whether they changed, as the stores tell:

- a SQLite file: by its identity (device, inode, size, modification time, and those of its
  write-ahead log).  ``elsinore spam train --replace``
  (:func:`~stack.spam.stores.sqlite.apply_by_replacing`) trains a copy and renames it into
  place; the new inode is noticed at the next look, exactly.  Training in place is noticed
  by the file's size or time, which a coarse file-system clock can hide for a while: use
  ``--replace`` for a running service;
- Redis: by the store's generation (:meth:`~stack.spam.stores.redis.RedisStore.generation`),
  one ``GET``, which every training moves.  Its counts are shared live between filters, but
  a filter classifies against a copy in memory, so it too has to notice and reload.

A new database is read in a worker thread.  Messages that arrive while it is being read wait
for it, until ``patience`` seconds after the read began (so a read that hangs, on a Redis
server that accepts and never answers, delays mail by that much once, not per message), then
go with what there is.  A Redis URL without ``socket_timeout`` gets ``redis_timeout``
(5 s): redis-py waits for ever by default, and a read that hung would hold back every later
look.  A message already being
classified finishes with the filter it started with: the swap replaces a reference, never
counts in use.  A database that cannot be read leaves the filter as it was (the last good
counts, or none at all, then ``unknown``), and is reported once, not on every look, until it
changes again, as the relay's alias map :class:`~stack.relay.aliases.Watcher` does.

**Where classification runs.**  On the event loop.  Against the SpamAssassin corpus (61,000
words trained) a typical message (3.7 kB) takes 0.3 ms to tokenize and classify, 3 ms at
the most, and 3 to 6 ms for a message of the tokenizer's whole 512 kB budget: the cost of
the hop's own parse of the message, which also runs on the loop.  A thread would buy nothing
for work that holds the GIL throughout, and would cost a hand-over per message.  Reading a
database (tens of milliseconds for a file, a network round trip for Redis) is I/O and runs
in a thread.

**Fields that came from outside.**  ``X-Spamtacus`` and ``X-Spamtacus-Score`` already in the
message (a spammer's ``no``, or another filter's verdict upstream) are left where they are:
ours go above them, and a reader takes the topmost, which is always ours.  Removing them
would change bytes below our fields, and any field may be in a DKIM or ARC signature's
``h=`` (some signers sign every field present; our signer and ARC sealer never sign these);
the tokenizer reads no ``X-Spam*`` field, so a forged one cannot sway the verdict either.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qs, urlencode, urlsplit

from stack.mime.lossless import Message
from stack.mime.safe import safe_text
from stack.smtp.policy import LOG_LIMIT
from stack.smtp.server import Transaction
from stack.spam.counts import WordCounts
from stack.spam.filter import DEFAULT_CLASSIFIER, ClassifierName, SpamFilter
from stack.spam.mark import score_value, stamp
from stack.spam.stores import REDIS_SCHEMES, StoreError, open_store
from stack.spam.verdict import Score, Verdict

if TYPE_CHECKING:
    from stack.spam.stores.redis import RedisStore

log = logging.getLogger("elsinore.services.spamfilter")

#: What a message gets when there is nothing to classify it with: the score field says 0.5
#: on no words, as ``elsinore spam mark`` writes it for a database it cannot read.
UNCLASSIFIED = Score(Verdict.UNKNOWN, 0.5)

#: A database whose identity cannot be read (a file not there, Redis not answering): one
#: state, so that it is reported once however many times it is looked at.
_UNREADABLE: Hashable = ("unreadable",)


class WordDatabase:
    """The counts at ``location`` (a SQLite file, or a ``redis://`` URL with an optional
    ``#prefix``, as ``--db`` takes them), as a :class:`SpamFilter`, read again when they
    change.

    Nothing is read at construction: the first :meth:`refresh` does it, in whatever thread
    the caller chooses.  :attr:`filter` is None until a database was read.  A Redis server
    that does not answer within ``redis_timeout`` seconds is a :class:`StoreError`, unless
    the URL says ``socket_timeout`` itself.
    """

    def __init__(
        self,
        location: str | Path,
        *,
        classifier: ClassifierName = DEFAULT_CLASSIFIER,
        redis_timeout: float = 5.0,
    ) -> None:
        self._redis = str(location).startswith(REDIS_SCHEMES)
        self.location = _with_timeout(str(location), redis_timeout) if self._redis else location
        self.classifier = classifier
        self.filter: SpamFilter | None = None
        self.error: StoreError | None = None
        self._loaded: Hashable = None  # the identity of the database self.filter holds
        self._refused: Hashable = None  # the identity of the one that last failed to load
        self._client: RedisStore | None = None  # kept open, to ask its generation
        self._lock = threading.Lock()  # one refresh at a time
        self._closed = False

    def refresh(self) -> StoreError | None:
        """Read the database again if it changed: None when there is nothing new to report
        (unchanged, or read and swapped in), else the error that kept the filter as it was,
        once per change of the database."""
        with self._lock:
            try:
                now = self._identity()
            except StoreError as error:
                return self._refuse(error, _UNREADABLE)
            if now in (self._loaded, self._refused):
                if now == self._loaded:
                    self.error = self._refused = None
                return None
            try:
                # The identity was read before the counts: a change between the two is
                # read again at the next look, never missed.
                fresh = SpamFilter(self._load(), self.classifier)
            except StoreError as error:
                return self._refuse(error, now)
            self.filter, self._loaded, self.error, self._refused = fresh, now, None, None
            return None

    def _refuse(self, error: StoreError, now: Hashable) -> StoreError | None:
        if now == self._refused:
            return None
        self.error, self._refused = error, now
        return error

    def _identity(self) -> Hashable:
        if self._redis:
            return self._redis_store().generation()
        path = Path(self.location)
        return tuple(_file_identity(p) for p in (path, Path(f"{path}-wal")))

    def _load(self) -> WordCounts:
        if self._redis:
            return self._redis_store().load()
        with open_store(self.location, create=False) as store:
            return store.load()

    def _redis_store(self) -> RedisStore:
        # Kept open: its generation is asked at every look.  Opened on first use, so that a
        # server down at start is tried again at the next look.
        client = self._client
        if client is None:
            if self._closed:
                raise StoreError("the spam database was closed")
            client = self._client = cast("RedisStore", open_store(self.location, create=False))
        return client

    def close(self) -> None:
        """Let go of the Redis connection.  Not under the lock: a read that hangs on the
        server holds it, and closing the connection is what ends that read."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            client.close()


def _with_timeout(url: str, seconds: float) -> str:
    """``url`` with ``socket_timeout`` and ``socket_connect_timeout`` (redis-py reads them
    from the query) set to ``seconds``, unless it has a ``socket_timeout`` of its own."""
    address, hash_mark, prefix = url.partition("#")  # open_store's key prefix stays last
    if "socket_timeout" in parse_qs(urlsplit(address).query):
        return url
    timeouts = urlencode({"socket_timeout": seconds, "socket_connect_timeout": seconds})
    joint = "&" if urlsplit(address).query else "?"
    return f"{address}{joint}{timeouts}{hash_mark}{prefix}"


def _file_identity(path: Path) -> tuple[int, int, int, int] | None:
    """What changes when the file is replaced or written: None when it is not there."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StoreError(f"cannot look at spam database {path}: {error.strerror}") from error
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


class Labelling:
    """The spamfilter's transform: classify, then prepend ``X-Spamtacus`` and the score.

    ``database`` is looked at again at most every ``check_interval`` seconds of ``clock``;
    messages wait for a database being read until ``patience`` seconds after the read began
    (see the module's docstring).  Never returns a refusal.
    """

    def __init__(
        self,
        database: WordDatabase,
        *,
        check_interval: float = 1.0,
        patience: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.check_interval = check_interval
        self.patience = patience
        self.clock = clock
        self._next_check: float | None = None  # None: never looked yet
        self._reading: asyncio.Task[StoreError | None] | None = None
        self._waited_until = 0.0  # on the loop's clock: when messages stop waiting for it

    async def __call__(self, message: Message, transaction: Transaction) -> Message:
        spam_filter = await self._current()
        queue_id = transaction.arrival.queue_id
        if spam_filter is None:
            error = self.database.error
            reason = "no spam database read yet" if error is None else str(error)
            return self._unclassified(message, queue_id, reason)
        try:
            score = spam_filter.classify(bytes(message))
        except Exception as error:  # never drop mail: label it unknown and say why
            return self._unclassified(message, queue_id, f"classifier failed: {error!r}")
        classifier = spam_filter.name  # fisher when fisher-lr finds no regression
        stamp(message, score, classifier)
        log.info(
            "%s: X-Spamtacus: %s %s", queue_id, score.verdict.value, score_value(score, classifier)
        )
        return message

    def _unclassified(self, message: Message, queue_id: str, reason: str) -> Message:
        stamp(message, UNCLASSIFIED, self.database.classifier)
        log.warning(
            "%s: X-Spamtacus: unknown, not classified: %s",
            queue_id,
            safe_text(reason, limit=LOG_LIMIT),
        )
        return message

    async def _current(self) -> SpamFilter | None:
        """The filter to classify with: the database read again first if it is time to look
        (and this message waits for it, up to ``patience``)."""
        now = self.clock()
        if self._reading is None and (self._next_check is None or now >= self._next_check):
            self._next_check = now + self.check_interval
            self._reading = asyncio.create_task(asyncio.to_thread(self.database.refresh))
            self._reading.add_done_callback(self._read)
            self._waited_until = asyncio.get_running_loop().time() + self.patience
        if self._reading is not None:
            left = self._waited_until - asyncio.get_running_loop().time()
            if left > 0:
                await asyncio.wait((self._reading,), timeout=left)
        return self.database.filter

    def _read(self, reading: asyncio.Task[StoreError | None]) -> None:
        self._reading = None
        if reading.cancelled():
            return
        failure = reading.exception()
        if failure is not None:  # a bug, not a bad database: the filter stays as it was
            log.error("spam database: reading it failed: %r", failure)
            return
        error = reading.result()
        if error is None:
            return
        if self.database.filter is None:
            log.warning("%s; every message is labelled unknown until it can be read", error)
        else:
            log.warning("%s; classifying with the counts read before", error)


__all__ = ["UNCLASSIFIED", "Labelling", "WordDatabase"]
