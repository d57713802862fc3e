"""Word counts in memory, and the changes that training makes to them.

A store is read whole into :class:`WordCounts` before classifying, so that the hot path is a
dict lookup per token and never a query.  Training goes the other way: a run accumulates a
:class:`Training` in memory (message by message) and the store applies it in one transaction,
so a run that fails half-way (an unreadable file, a full disk, an interrupt) changes nothing.

Counts are per message: a token that occurs ten times in one message counts once.  That makes
``spam_count / spam_messages`` the probability that a spam contains the token, which is what
both classifiers reason about.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat

from stack.spam.regression import Regression, RegressionChange


@dataclass(slots=True)
class WordCounts:
    """How many spam and ham messages were trained, and in how many of each a token occurred.

    ``words`` maps a token to ``(spam, ham)``.  ``regression`` is the on-line regression
    trained beside the counts (None when the store keeps none), ``cutoffs`` the calibrated
    (ham, spam) cutoffs per classifier name and ``lr_weight`` the regression's weight in
    ``fisher-lr`` (None: not chosen; see :mod:`~stack.spam.calibration`).
    """

    spam_messages: int = 0
    ham_messages: int = 0
    words: dict[str, tuple[int, int]] = field(default_factory=dict)
    regression: Regression | None = None
    cutoffs: dict[str, tuple[float, float]] = field(default_factory=dict)
    lr_weight: float | None = None

    def apply(self, training: Training) -> None:
        """Add ``training`` to these counts (the in-memory twin of a store's ``apply``)."""
        training.check_against(self)
        self.spam_messages += training.spam_messages
        self.ham_messages += training.ham_messages
        if not self.words:
            # Nothing to add to (a new database, or calibration's copy of one): checked
            # above, so no change is negative, and a dict built in C takes them all.
            self.words = dict(training.items())
            return
        for word, (spam, ham) in training.items():
            old_spam, old_ham = self.words.get(word, (0, 0))
            new = (old_spam + spam, old_ham + ham)
            if new == (0, 0):
                self.words.pop(word, None)
            else:
                self.words[word] = new


class NegativeCountError(ValueError):
    """Untraining would take a count below zero: the message was never trained as that
    class (or was untrained already)."""


class Training:
    """A pending change to a store: messages added or removed, and their tokens.

    ``add(tokens, spam=True)`` learns one spam; ``add(tokens, spam=True, sign=-1)`` unlearns
    it.  Tokens are counted once per message whatever their repetitions.

    Additions and removals are kept in separate counters per class, so that a message's
    tokens are counted by :meth:`collections.Counter.update`, in C: a training run adds
    hundreds of thousands of tokens, in the process that also feeds the tokenizing workers.
    """

    __slots__ = (
        "_added", "_removed", "cutoffs", "ham_messages", "lr_weight", "regression", "spam_messages",
    )  # fmt: skip

    def __init__(self) -> None:
        self.spam_messages = 0
        self.ham_messages = 0
        #: The regression's part of the change, and new cutoffs and weight (replacing those
        #: stored).
        self.regression = RegressionChange()
        self.cutoffs: dict[str, tuple[float, float]] = {}
        self.lr_weight: float | None = None
        # (spam, ham) each: how many messages added, and removed, held the token.
        self._added: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
        self._removed: tuple[Counter[str], Counter[str]] = (Counter(), Counter())

    def add(self, tokens: Iterable[str], *, spam: bool, sign: int = 1) -> None:
        if sign not in (1, -1):
            raise ValueError("sign must be 1 or -1")
        if spam:
            self.spam_messages += sign
        else:
            self.ham_messages += sign
        counters = self._added if sign == 1 else self._removed
        counters[0 if spam else 1].update(set(tokens))

    def items(self) -> Iterator[tuple[str, tuple[int, int]]]:
        """Every token whose counts change, with its ``(spam, ham)`` change."""
        spam, ham = self._added
        removed = any(self._removed)
        if removed:
            spam, ham = spam.copy(), ham.copy()
            spam.subtract(self._removed[0])  # loops over the removed tokens only
            ham.subtract(self._removed[1])
        # Built by zip and map, in C: a training run changes a hundred thousand tokens.
        ham_of_spam_words = map(ham.get, spam, repeat(0, len(spam)))
        changes = dict(zip(ham, zip(repeat(0, len(ham)), ham.values(), strict=True), strict=True))
        changes.update(zip(spam, zip(spam.values(), ham_of_spam_words, strict=True), strict=True))
        if removed:  # only a removal can bring a change back to nothing
            return ((word, change) for word, change in changes.items() if change != (0, 0))
        return iter(changes.items())

    def merge_counts(self, counts: WordCounts) -> None:
        """Add whole counts (an imported database) to this change."""
        self.spam_messages += counts.spam_messages
        self.ham_messages += counts.ham_messages
        added_spam, added_ham = self._added
        for word, (spam, ham) in counts.words.items():
            if spam:
                added_spam[word] += spam
            if ham:
                added_ham[word] += ham

    def check_against(self, counts: WordCounts) -> None:
        """Raise :class:`NegativeCountError` if applying this to ``counts`` would leave any
        count below zero."""
        if counts.spam_messages + self.spam_messages < 0:
            raise NegativeCountError("more spam untrained than was trained")
        if counts.ham_messages + self.ham_messages < 0:
            raise NegativeCountError("more ham untrained than was trained")
        if not any(self._removed):
            return  # only a removal can lower a count
        for word, (spam, ham) in self.items():
            if spam >= 0 and ham >= 0:
                continue
            old_spam, old_ham = counts.words.get(word, (0, 0))
            if old_spam + spam < 0 or old_ham + ham < 0:
                raise NegativeCountError(f"untraining would make the count of {word!r} negative")
