"""The filter: a message's bytes in, a verdict out; and training from message sources.

This is the one place that puts the tokenizer, the counts and a classifier together, so the
CLI, the SMTP service and the benchmarks all classify exactly the same way.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, TypeVar

from stack.mime.sources import Entry, Source, read_entry
from stack.spam.combined import CombinedClassifier
from stack.spam.counts import Training, WordCounts
from stack.spam.fisher import FisherClassifier, FisherSettings
from stack.spam.graham import GrahamClassifier
from stack.spam.ngrams import Buckets, head_buckets, message_digest
from stack.spam.regression import OnlineTrainer, RegressionClassifier
from stack.spam.stores.base import StoreError
from stack.spam.tokenizer import tokenize
from stack.spam.verdict import Score

ClassifierName = Literal["fisher", "graham", "lr", "fisher-lr"]
CLASSIFIERS: tuple[ClassifierName, ...] = ("fisher", "graham", "lr", "fisher-lr")
#: Chosen by 5-fold cross-validation on the training part of the issue's SpamAssassin split
#: (``python bench/spam_cv.py --models``), at the whole part and at a tenth of it.
#:
#: - First round: Graham (SpamOracle's settings) misfiled no ham but delivered 9.6% of spam
#:   as good ("no"); Fisher misfiled 0.06% of ham and delivered 0.3% of spam as good,
#:   leaving 4.9% unknown.  A spam marked unknown still gets looked at; one marked "no" does
#:   not, so Fisher became the default.
#: - Second round: fisher-lr (:mod:`~stack.spam.combined`) catches at least as much spam as
#:   Fisher at zero and at 0.1% misfiled ham at both sizes (82.8% and 96.2% against 74.7%
#:   and 95.1% on the whole part; 94.1% for both on a tenth), and the regression alone
#:   falls far behind on so little mail (77.5% and 79.7%; 53.3% on a tenth).  Large
#:   corpora favour the regression (the issue's 75,000 messages), which fisher-lr brings in
#:   without giving up Fisher's lead on small ones, so fisher-lr is the default.  On a
#:   database without a regression it is Fisher (:class:`SpamFilter`).
DEFAULT_CLASSIFIER: ClassifierName = "fisher-lr"


def make_classifier(
    counts: WordCounts, name: ClassifierName = DEFAULT_CLASSIFIER
) -> FisherClassifier | GrahamClassifier:
    """One of the classifiers on counts (Fisher unless ``name`` is ``graham``), with the
    database's calibrated cutoffs when it has some for Fisher."""
    if name == "graham":
        return GrahamClassifier(counts)
    if name in ("lr", "fisher-lr"):
        name = "fisher"  # the counts' part of either
    cutoffs = counts.cutoffs.get("fisher")
    if cutoffs is None:
        return FisherClassifier(counts)
    return FisherClassifier(counts, FisherSettings(ham_cutoff=cutoffs[0], spam_cutoff=cutoffs[1]))


class SpamFilter:
    """Classifies messages against counts (and the regression) loaded once into memory.

    A database without a regression (a Redis store, or one trained before there was one)
    is a :class:`~stack.spam.stores.base.StoreError` for ``lr``; ``fisher-lr`` then falls
    back to Fisher alone, so that the spamfilter service on such a database still labels
    mail as it did.
    """

    def __init__(self, counts: WordCounts, classifier: ClassifierName = DEFAULT_CLASSIFIER):
        #: The classifier that scores: ``fisher`` when ``fisher-lr`` has no regression.
        self.name: ClassifierName = classifier
        self.on_bytes: RegressionClassifier | CombinedClassifier | None = None
        self.classifier: FisherClassifier | GrahamClassifier | None = None
        if classifier == "lr":
            if counts.regression is None:
                raise StoreError(
                    "the database holds no regression for --classifier lr (train a SQLite "
                    "database with this version; a Redis store keeps word counts only)"
                )
            self.on_bytes = RegressionClassifier(counts.regression, counts.cutoffs.get("lr"))
        elif classifier == "fisher-lr" and counts.regression is not None:
            cutoffs = counts.cutoffs.get("fisher-lr")
            self.on_bytes = CombinedClassifier(counts, counts.regression, cutoffs, counts.lr_weight)
        else:
            self.classifier = make_classifier(counts, classifier)
            if classifier == "fisher-lr":
                self.name = "fisher"

    @property
    def cutoffs(self) -> tuple[float, float]:
        """The (ham, spam) cutoffs the verdicts come from."""
        if self.on_bytes is not None:
            return self.on_bytes.ham_cutoff, self.on_bytes.spam_cutoff
        if isinstance(self.classifier, FisherClassifier):
            return self.classifier.settings.ham_cutoff, self.classifier.settings.spam_cutoff
        assert self.classifier is not None
        graham = self.classifier.settings
        return graham.ham_threshold, graham.spam_threshold

    def classify(self, data: bytes) -> Score:
        if self.on_bytes is not None:
            return self.on_bytes.score(data)
        assert self.classifier is not None
        return self.classifier.score(tokenize(data, repeats=self.classifier.repeats))


#: A message as the regression trains on it: its features and its digest.
Features = tuple[Buckets, bytes]
#: A message for the workers: its bytes, or an entry of :func:`~stack.mime.sources.iter_entries`
#: (a file's path, which the worker reads itself, so that the process handing the work out
#: does not read and copy every message; or a message read from standard input).
Message = bytes | Entry


def learn(
    training: Training, messages: Iterable[Message], *, spam: bool, forget: bool = False,
    jobs: int = 1, features: list[Features] | None = None,
    tokens: list[list[str]] | None = None,
) -> int:  # fmt: skip
    """Add each message's tokens to ``training`` (or take them away with ``forget``),
    tokenizing on ``jobs`` processes; return how many messages were read.  With
    ``features``, also append each message's regression features to it, for
    :func:`learn_regression`; with ``tokens``, its tokens, for calibration."""
    classes = (messages, ()) if spam else ((), messages)
    index = 0 if spam else 1
    kept_features: tuple[list[Features], list[Features]] | None = None
    if features is not None:
        kept_features = (features, []) if spam else ([], features)
    kept_tokens: tuple[list[list[str]], list[list[str]]] | None = None
    if tokens is not None:
        kept_tokens = (tokens, []) if spam else ([], tokens)
    counts = learn_both(
        training, *classes, forget=forget, jobs=jobs, features=kept_features, tokens=kept_tokens
    )
    return counts[index]


def learn_both(
    training: Training, spam: Iterable[Message], ham: Iterable[Message], *,
    forget: bool = False, jobs: int = 1,
    features: tuple[list[Features], list[Features]] | None = None,
    tokens: tuple[list[list[str]], list[list[str]]] | None = None,
) -> tuple[int, int]:  # fmt: skip
    """:func:`learn` for spam and ham in one pass, on one pool of ``jobs`` processes forked
    before any message is in memory (a pool forked later, with the spam's tokens held here,
    would pay in copy-on-write faults); ``features`` and ``tokens`` are (spam, ham) lists.
    Returns how many spam and ham were read."""
    sign = -1 if forget else 1
    # Tokens kept are kept once: each message's come unpickled from a worker as new strings,
    # and 60,000 messages' worth of copies would take a gigabyte.
    pool: dict[str, str] = {}
    spam_items = 0

    def items() -> Iterator[Message]:
        nonlocal spam_items
        for item in spam:
            spam_items += 1
            yield item
        yield from ham

    counted = [0, 0]
    function = _training_tokens if features is None else _training_both
    # One list per item, in order (an mbox holds several messages).  An item's result comes
    # back after the item was handed out, so spam_items has counted it if it was spam.
    results = map_messages(functools.partial(_each, function), items(), jobs=jobs)
    for index, messages in enumerate(results):
        kind = 0 if index < spam_items else 1
        for message_tokens, message_features in messages:
            if features is not None and message_features is not None:
                features[kind].append(message_features)
            training.add(message_tokens, spam=kind == 0, sign=sign)
            if tokens is not None:
                tokens[kind].append(list(map(pool.setdefault, message_tokens, message_tokens)))
            counted[kind] += 1
    return counted[0], counted[1]


def training_tokens(data: bytes) -> list[str]:
    """The tokens training counts: each once, since a count is of messages."""
    return tokenize(data, repeats=False)


def _training_tokens(data: bytes) -> tuple[list[str], Features | None]:
    return training_tokens(data), None


def _training_both(data: bytes) -> tuple[list[str], Features | None]:
    # An array crosses the pipe from a worker as one string of bytes, not 2,500 ints.
    return training_tokens(data), (head_buckets(data), message_digest(data))


def learn_regression(
    training: Training, counts: WordCounts, spam: list[Features], ham: list[Features],
    *, forget: bool = False,
) -> tuple[list[float], list[float]]:  # fmt: skip
    """Train (or untrain) the regression of ``counts`` on the messages, into ``training``;
    return each trained message's held-out margin (the trained model's, less the message's
    own step: :meth:`~stack.spam.regression.OnlineTrainer.held_out_margin`), spam and ham
    each in their order (empty when forgetting).

    An on-line learner fed all the spam and then all the ham ends up a ham detector, so
    the two classes are dealt in proportion (one spam, then as many ham as the ratio
    says, and so on), in the order the messages came.
    """
    trainer = OnlineTrainer(counts.regression)
    steps: tuple[list[tuple[Features, int]], list[tuple[Features, int]]] = ([], [])
    for message, is_spam in interleave(spam, ham):
        grams, digest = message
        if forget:
            trainer.forget(grams, digest)
        else:
            steps[0 if is_spam else 1].append((message, trainer.train(grams, digest, spam=is_spam)))
    training.regression = trainer.change
    spam_margins, ham_margins = (
        [trainer.held_out_margin(grams, step) for (grams, _), step in trained] for trained in steps
    )
    return spam_margins, ham_margins


def interleave(spam: list[_T], ham: list[_T]) -> Iterator[tuple[_T, bool]]:
    """Both lists merged in proportion, each in its own order, with ``True`` for spam."""
    taken_spam = taken_ham = 0
    while taken_spam < len(spam) or taken_ham < len(ham):
        # Spam next while its share taken is not ahead of ham's (cross-multiplied).
        if taken_ham >= len(ham) or (
            taken_spam < len(spam) and taken_spam * len(ham) <= taken_ham * len(spam)
        ):
            yield spam[taken_spam], True
            taken_spam += 1
        else:
            yield ham[taken_ham], False
            taken_ham += 1


# -- many messages on several cores ------------------------------------------------------------

_I = TypeVar("_I")
_T = TypeVar("_T")
_worker_filter: SpamFilter | None = None


def default_jobs() -> int:
    """The cores this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


#: Messages handed to a worker at a time; fewer messages than this are not worth a fork.
CHUNK = 64


def map_messages(
    function: Callable[[_I], _T], messages: Iterable[_I], *, jobs: int = 1
) -> Iterator[_T]:
    """``function`` over ``messages``, in order, on ``jobs`` forked processes.

    ``function`` must be a module-level function (it is sent by name); what it needs besides
    the message must be in place before the call, since forked workers inherit memory
    copy-on-write.  Only messages and results cross the pipes.  With one job, where fork
    does not exist, or for fewer than :data:`CHUNK` messages, everything runs here.
    """
    messages = iter(messages)
    first = list(itertools.islice(messages, CHUNK))
    if len(first) < CHUNK or jobs <= 1 or not _can_fork():
        yield from map(function, itertools.chain(first, messages))
        return
    import multiprocessing  # noqa: PLC0415 - 6 ms that a run on one core does not need

    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        yield from pool.imap(function, itertools.chain(first, messages), chunksize=CHUNK)


def _can_fork() -> bool:
    import multiprocessing  # noqa: PLC0415

    return "fork" in multiprocessing.get_all_start_methods()


def map_each(
    function: Callable[[bytes], _T], messages: Iterable[Message], *, jobs: int = 1
) -> Iterator[_T]:
    """``function`` over the bytes of every message of ``messages`` (an mbox entry holds
    several), in order, on ``jobs`` processes that read the files they are given."""
    results = map_messages(functools.partial(_each, function), messages, jobs=jobs)
    return itertools.chain.from_iterable(results)


def _sources(message: Message) -> Iterator[Source]:
    if isinstance(message, bytes):
        return iter((Source("", message),))
    return read_entry(message)


def _each(function: Callable[[bytes], _T], message: Message) -> list[_T]:
    return [function(source.data) for source in _sources(message)]


def _classify_each(message: Message) -> list[tuple[str, Score]]:
    assert _worker_filter is not None, "set before the workers were forked"
    classify = _worker_filter.classify
    return [(source.label, classify(source.data)) for source in _sources(message)]


def classify_many(
    spam_filter: SpamFilter, messages: Iterable[Message], *, jobs: int = 1
) -> Iterator[tuple[str, Score]]:
    """``(label, score)`` for every message of ``messages``, in order, on ``jobs`` processes
    that share the loaded counts and read the files they are given (a message given as
    bytes has the label "")."""
    return itertools.chain.from_iterable(classify_entries(spam_filter, messages, jobs=jobs))


def classify_entries(
    spam_filter: SpamFilter, messages: Iterable[Message], *, jobs: int = 1
) -> Iterator[list[tuple[str, Score]]]:
    """The same, as one list per item of ``messages`` (an mbox file's entry holds several),
    for a caller that must know which item each score came from."""
    global _worker_filter  # noqa: PLW0603 - what the forked workers classify with
    _worker_filter = spam_filter
    try:
        yield from map_messages(_classify_each, messages, jobs=jobs)
    finally:
        _worker_filter = None
