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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(slots=True)
class WordCounts:
    """How many spam and ham messages were trained, and in how many of each a token occurred.

    ``words`` maps a token to ``(spam, ham)``.
    """

    spam_messages: int = 0
    ham_messages: int = 0
    words: dict[str, tuple[int, int]] = field(default_factory=dict)

    def apply(self, training: Training) -> None:
        """Add ``training`` to these counts (the in-memory twin of a store's ``apply``)."""
        training.check_against(self)
        self.spam_messages += training.spam_messages
        self.ham_messages += training.ham_messages
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
    """

    __slots__ = ("_words", "ham_messages", "spam_messages")

    def __init__(self) -> None:
        self.spam_messages = 0
        self.ham_messages = 0
        self._words: dict[str, list[int]] = {}

    def add(self, tokens: Iterable[str], *, spam: bool, sign: int = 1) -> None:
        if sign not in (1, -1):
            raise ValueError("sign must be 1 or -1")
        column = 0 if spam else 1
        if spam:
            self.spam_messages += sign
        else:
            self.ham_messages += sign
        words = self._words
        for token in set(tokens):
            entry = words.get(token)
            if entry is None:
                entry = words[token] = [0, 0]
            entry[column] += sign

    def items(self) -> Iterator[tuple[str, tuple[int, int]]]:
        """Every token whose counts change, with its ``(spam, ham)`` change."""
        for word, (spam, ham) in self._words.items():
            if spam or ham:
                yield word, (spam, ham)

    def merge_counts(self, counts: WordCounts) -> None:
        """Add whole counts (an imported database) to this change."""
        self.spam_messages += counts.spam_messages
        self.ham_messages += counts.ham_messages
        words = self._words
        for word, (spam, ham) in counts.words.items():
            entry = words.get(word)
            if entry is None:
                words[word] = [spam, ham]
            else:
                entry[0] += spam
                entry[1] += ham

    def check_against(self, counts: WordCounts) -> None:
        """Raise :class:`NegativeCountError` if applying this to ``counts`` would leave any
        count below zero."""
        if counts.spam_messages + self.spam_messages < 0:
            raise NegativeCountError("more spam untrained than was trained")
        if counts.ham_messages + self.ham_messages < 0:
            raise NegativeCountError("more ham untrained than was trained")
        for word, (spam, ham) in self.items():
            if spam >= 0 and ham >= 0:
                continue
            old_spam, old_ham = counts.words.get(word, (0, 0))
            if old_spam + spam < 0 or old_ham + ham < 0:
                raise NegativeCountError(f"untraining would make the count of {word!r} negative")
