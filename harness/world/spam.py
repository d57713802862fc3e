"""Our domain's spam database in the simulated internet: trained, cached, put in place.

The spamfilter of ``castle.test`` reads the SQLite file that ``elsinore stack init`` makes
(``spam.db``, empty: every verdict ``unknown``).  :func:`prepare_spam_database` replaces it
with one trained as a user's filter would be, on one of two sources:

- **the SpamAssassin corpus**, when ``ELSINORE_CORPORA`` (or the ``corpora`` argument) holds
  ``spamassassin/``: the training part of the issue's split
  (:func:`stack.spam.evaluation.corpus_split`; its test part stays unseen, as everywhere
  else), **together with the shipped sample**.  The corpus's ham is mailing-list mail of
  2002: it holds almost no mail that a service sends its user (codes, receipts, "please
  click the link below to confirm"), so trained on it alone the filter files Gmail's "send
  mail as" confirmation as spam (``click``, ``below``, ``please``, ``sincerely,``,
  ``requested``, ``account`` are spam words there), which is the seed's false positive.  A
  real user's mailbox holds such mail, and the sample is that mailbox;
- **the sample** alone otherwise: ``sample/ham/*.eml`` and ``sample/spam/*.eml`` beside this
  module, written for the project (never taken from the corpus): a user's own mail (notes
  from friends, newsletters, receipts, account codes and confirmations, notifications) and
  the spam that reached them (lotteries, pills, crypto, phishing).  It holds 55 of each:
  a training run calibrates the database's cutoffs only from 50 of each class on
  (:data:`stack.spam.calibration.MIN_PER_CLASS`), and without them the default classifier
  calls every message of so small a training ``unknown``.

The database is what ``elsinore spam train`` writes: the word counts and the regression
beside them (:func:`train`).  On the corpus that takes 12 to 33 seconds here (one process;
the machine's load decides), and a world must start in a few, so the trained file is kept
in a cache (``$XDG_CACHE_HOME/elsinore/``, else ``~/.cache/elsinore/``), from which it is
copied in a fifth of a second.
Its key changes with anything that would change the database: the listing of what is
trained (each file's class, name, size and modification time) and the code that turns mail
into counts (the sources of ``stack.mime``, ``stack.spam`` and this module).  A cached file
that cannot be read, or does not hold the counts its key promises, is ignored and trained
again; the :data:`CACHE_ENTRIES` written last are kept, the older ones removed.

The database reaches ``target`` as :func:`stack.spam.stores.sqlite.apply_by_replacing`
writes one: copied under a temporary name beside it, checked, flushed and renamed over it,
so a spamfilter that opens ``target`` sees the empty database or the trained one, never a
part.  Nothing is printed: the world runner says what it does, from the
:class:`TrainingSummary`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import stack.mime
import stack.spam
from harness.shared import corpora_dir
from stack.errors import ElsinoreError
from stack.files import fsync_directory, fsync_path
from stack.spam.counts import WordCounts
from stack.spam.evaluation import corpus_split
from stack.spam.stores import SqliteStore, StoreError
from stack.spam.training import train_database

#: The shipped sample: a user's ham and spam, one message per file.
SAMPLE = Path(__file__).with_name("sample")
SAMPLE_SUFFIX = ".eml"

#: Bumped when what a cached database means changes in a way the sources do not show.
CACHE_FORMAT = 1
#: Cached databases are ``spam-KEY.db``; this many are kept, the last written.
CACHE_PREFIX = "spam-"
CACHE_ENTRIES = 4


class SpamDatabaseError(ElsinoreError):
    """The spam database cannot be trained or put in place."""


@dataclass(frozen=True)
class TrainingSet:
    """The messages a database is trained on, by class, and what they are called."""

    source: str
    spam: tuple[Path, ...]
    ham: tuple[Path, ...]


@dataclass(frozen=True)
class TrainingSummary:
    """What :func:`prepare_spam_database` put in place.

    ``source`` names what was trained (``"sample"``, or ``"spamassassin+sample"``);
    ``spam``, ``ham`` and ``words`` are the database's counts; ``seconds`` is the time this
    call took, training or copying; ``cached`` says the database came from ``cache_file``
    without training; ``cache_file`` is None when the cache could not be written.
    """

    source: str
    target: Path
    spam: int
    ham: int
    words: int
    seconds: float
    cached: bool
    cache_file: Path | None


def sample_set(sample: Path = SAMPLE) -> TrainingSet:
    """The shipped sample (or one laid out like it: ``ham/`` and ``spam/`` of ``.eml``)."""
    return TrainingSet("sample", _messages(sample / "spam"), _messages(sample / "ham"))


def corpus_set(root: Path, sample: Path = SAMPLE) -> TrainingSet:
    """The training part of the issue's split of the SpamAssassin corpus at ``root``, and
    the sample (see the module for why both)."""
    try:
        split = corpus_split(root)
    except OSError as error:
        raise SpamDatabaseError(
            f"cannot list the SpamAssassin corpus at {root}: {error.strerror}: {error.filename}"
        ) from error
    own = sample_set(sample)
    return TrainingSet(
        "spamassassin+sample",
        (*split.spam_train, *own.spam),
        (*split.ham_train, *own.ham),
    )


def choose_training_set(corpora: Path | None = None) -> TrainingSet:
    """The corpus when ``corpora`` (default: ``ELSINORE_CORPORA``) has ``spamassassin/``,
    else the sample."""
    root = (corpora if corpora is not None else corpora_dir()) / "spamassassin"
    return corpus_set(root) if root.is_dir() else sample_set()


def _messages(folder: Path) -> tuple[Path, ...]:
    try:
        found = sorted(
            path
            for path in folder.iterdir()
            if path.suffix == SAMPLE_SUFFIX and not path.name.startswith(".")
        )
    except OSError as error:
        raise SpamDatabaseError(f"cannot list {folder}: {error.strerror}") from error
    if not found:
        raise SpamDatabaseError(f"{folder}: no {SAMPLE_SUFFIX} messages to train on")
    return tuple(found)


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/elsinore``, else ``~/.cache/elsinore`` (the XDG base directories)."""
    base = os.environ.get("XDG_CACHE_HOME")
    # The specification says a relative value is invalid and must be ignored.
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "elsinore"


def cache_key(training_set: TrainingSet) -> str:
    """A digest of everything a trained database depends on (see the module)."""
    digest = hashlib.sha256(f"elsinore spam cache {CACHE_FORMAT}\n".encode())
    digest.update(_code_version().encode())
    for kind, paths in (("spam", training_set.spam), ("ham", training_set.ham)):
        for path in paths:
            try:
                status = path.stat()
            except OSError as error:
                raise SpamDatabaseError(f"cannot read {path}: {error.strerror}") from error
            # The name with its folder (spam/ and spam_2/ both number from 00001), not the
            # whole path: the same corpus elsewhere is the same training.
            line = f"{kind}\t{path.parent.name}/{path.name}\t{status.st_size}\t{status.st_mtime_ns}"
            digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def _code_version() -> str:
    """The package's version and a digest of the sources that make counts from mail: the
    codec the tokenizer reads through, the spam filter, and this module."""
    try:
        version = metadata.version("elsinore")
    except metadata.PackageNotFoundError:
        version = "unknown"
    digest = hashlib.sha256()
    folders = [Path(package.__path__[0]) for package in (stack.mime, stack.spam)]
    sources = sorted(source for folder in folders for source in folder.rglob("*.py"))
    for source in [*sources, Path(__file__)]:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return f"{version}\n{digest.hexdigest()}\n"


def prepare_spam_database(
    target: Path, *, corpora: Path | None = None, cache: Path | None = None
) -> TrainingSummary:
    """Put a trained spam database at ``target``, from the cache when it has one for the
    same training (see the module); returns what was done.

    ``corpora`` is a folder of corpora (default: ``ELSINORE_CORPORA``); ``cache`` the cache
    folder (default: :func:`default_cache`).  Raises :class:`SpamDatabaseError` when
    nothing can be trained or ``target`` cannot be written; a cache that cannot be read or
    written only costs a training.
    """
    start = time.perf_counter()
    if not target.parent.is_dir():
        raise SpamDatabaseError(f"cannot put the spam database at {target}: no such folder")
    training_set = choose_training_set(corpora)
    cache_file = (cache if cache is not None else default_cache()) / (
        f"{CACHE_PREFIX}{cache_key(training_set)[:32]}.db"
    )
    expected = (len(training_set.spam), len(training_set.ham))
    counts = _install(cache_file, target, expected)
    if counts is not None:
        return _summary(training_set, target, counts, start, cached=True, cache_file=cache_file)
    counts, kept = _train_into(target, training_set, cache_file)
    return _summary(training_set, target, counts, start, cached=False, cache_file=kept)


def _summary(
    training_set: TrainingSet,
    target: Path,
    counts: WordCounts,
    start: float,
    *,
    cached: bool,
    cache_file: Path | None,
) -> TrainingSummary:
    return TrainingSummary(
        source=training_set.source,
        target=target,
        spam=counts.spam_messages,
        ham=counts.ham_messages,
        words=len(counts.words),
        seconds=time.perf_counter() - start,
        cached=cached,
        cache_file=cache_file,
    )


def train(target: Path, spam: Iterable[Path], ham: Iterable[Path]) -> WordCounts:
    """Train a new SQLite database at ``target`` (which must not exist) on these messages
    as ``elsinore spam train`` does (:func:`stack.spam.training.train_database`: the word
    counts, the regression beside them, and the cutoffs and weight calibrated on the run's
    held-out scores, in one transaction); returns its counts."""
    if target.exists():
        raise SpamDatabaseError(f"{target}: exists already; a database is trained new")
    # In this process (jobs=1): the world calls this from a worker thread beside its event
    # loop, where forking tokenizer workers is unsafe.
    try:
        return train_database(target, _read_all(spam), _read_all(ham), jobs=1).counts
    except StoreError as error:
        raise SpamDatabaseError(str(error)) from error


def _read_all(paths: Iterable[Path]) -> Iterable[bytes]:
    for path in paths:
        try:
            yield path.read_bytes()
        except OSError as error:
            raise SpamDatabaseError(f"cannot read {path}: {error.strerror}") from error


def _train_into(
    target: Path, training_set: TrainingSet, cache_file: Path
) -> tuple[WordCounts, Path | None]:
    """Train beside ``target``, keep a copy in the cache if it can be written, and rename
    the new database over ``target``; returns its counts and the cache file (or None)."""
    fresh = _temporary(target)
    try:
        counts = train(fresh, training_set.spam, training_set.ham)
        fsync_path(fresh)
        kept = _keep(fresh, cache_file)
        _replace(fresh, target)
    finally:
        _remove(fresh)
    return counts, kept


def _install(cache_file: Path, target: Path, expected: tuple[int, int]) -> WordCounts | None:
    """Copy ``cache_file`` over ``target`` if it is a database of the ``expected`` (spam,
    ham) counts; None, and ``target`` untouched, if it is not there or not that."""
    if not cache_file.is_file():
        return None
    copy = _temporary(target)
    try:
        try:
            shutil.copyfile(cache_file, copy)
        except OSError:
            return None  # unreadable: trained again, and written anew
        counts = _counts(copy)
        if counts is None or (counts.spam_messages, counts.ham_messages) != expected:
            return None
        fsync_path(copy)
        _replace(copy, target)
        return counts
    finally:
        _remove(copy)


def _counts(path: Path) -> WordCounts | None:
    """The counts of the database at ``path``, or None when it is not a word database."""
    try:
        with SqliteStore(path, create=False) as store:
            return store.load()
    except StoreError:
        return None


def _keep(fresh: Path, cache_file: Path) -> Path | None:
    """Copy the new database into the cache, atomically; None when the cache cannot be
    written (a read-only home costs a training per start, not the world)."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        copy = _temporary(cache_file)
        try:
            shutil.copyfile(fresh, copy)
            fsync_path(copy)
            os.replace(copy, cache_file)
        finally:
            _remove(copy)
    except OSError:
        return None
    _prune(cache_file.parent)
    return cache_file


def _prune(cache: Path) -> None:
    """Keep the :data:`CACHE_ENTRIES` databases written last: every change to the code
    makes a new key, and a corpus's database is megabytes."""
    entries = []
    for entry in cache.glob(f"{CACHE_PREFIX}*.db"):
        try:
            entries.append((entry.stat().st_mtime_ns, entry))
        except OSError:
            continue  # gone meanwhile: another world pruned it
    entries.sort(reverse=True)
    for _, stale in entries[CACHE_ENTRIES:]:
        with contextlib.suppress(OSError):
            stale.unlink()


def _temporary(beside: Path) -> Path:
    return beside.with_name(f".{beside.name}.{secrets.token_hex(8)}.new")


def _replace(source: Path, target: Path) -> None:
    try:
        os.replace(source, target)
        fsync_directory(target.parent)
    except OSError as error:
        raise SpamDatabaseError(
            f"cannot put the spam database at {target}: {error.strerror}"
        ) from error


def _remove(path: Path) -> None:
    """A temporary database and what SQLite left beside it, if anything is there."""
    for leftover in (path, *(Path(f"{path}{end}") for end in ("-wal", "-shm"))):
        leftover.unlink(missing_ok=True)


__all__ = [
    "SAMPLE",
    "SpamDatabaseError",
    "TrainingSet",
    "TrainingSummary",
    "cache_key",
    "choose_training_set",
    "corpus_set",
    "default_cache",
    "prepare_spam_database",
    "sample_set",
    "train",
]
