"""Where the grammar's choices come from: one grammar, two drivers.

The grammar (:mod:`harness.strategies.rfc5322`, :mod:`harness.strategies.mime`) is written
as plain functions that take a :class:`Source` and make every choice through it.  Two sources
drive it:

- :class:`DrawSource` turns each choice into a hypothesis draw, so property tests get
  hypothesis's search, its database and its shrinking (choices are ordered simplest first, so
  a shrunk example is the simplest one the grammar can write);
- :class:`RandomSource` answers from a seeded :class:`random.Random`, about a hundred times
  faster, for bulk corpora.  Its answers depend only on the seed: :class:`random.Random`'s
  Mersenne Twister and its ``getrandbits``-based ``randrange`` are the same on every platform,
  and the grammar never iterates a set or a dict whose order could differ between runs.

:func:`production` marks a grammar function with the ABNF rule it follows; a source records
each rule it passes through (:attr:`Source.seen`), which is how the corpus manifest says what a
message exercises.  The hottest productions record themselves with one line instead
(``source.seen["rfc5322:mailbox"] = None``): a wrapper's frame costs more than they do.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")
P = ParamSpec("P")


class Source:
    """The choices the grammar may make; subclasses decide how they are answered.

    ``seen`` collects the names of the productions a draw passed through (see
    :func:`production`), in first-seen order.
    """

    def __init__(self) -> None:
        self.seen: dict[str, None] = {}

    def integer(self, low: int, high: int) -> int:
        """An integer in ``[low, high]``; shrinks towards ``low``."""
        raise NotImplementedError

    def repeat(self, low: int, high: int) -> int:
        """How many times a repeated element (``*rule`` in ABNF) occurs, in ``[low, high]``."""
        return self.integer(low, high)

    def choice(self, options: Sequence[T]) -> T:
        """One of ``options``; shrinks towards the first."""
        return options[self.integer(0, len(options) - 1)]

    def boolean(self) -> bool:
        """True or False; shrinks towards False."""
        return self.integer(0, 1) == 1

    def chance(self, one_in: int) -> bool:
        """True once in ``one_in`` draws on average; shrinks towards False."""
        return self.integer(0, one_in - 1) == 0 if one_in > 1 else True

    def text(self, alphabet: str, min_size: int, max_size: int) -> str:
        """A string of ``min_size`` to ``max_size`` characters from ``alphabet``."""
        raise NotImplementedError

    def binary(self, min_size: int, max_size: int) -> bytes:
        """Arbitrary bytes, NUL and CR/LF included."""
        raise NotImplementedError

    def mark(self, name: str) -> None:
        self.seen[name] = None


_TABLES: dict[str, bytes | dict[int, str]] = {}


def _table(alphabet: str) -> bytes | dict[int, str]:
    """Byte to character: a ``bytes.translate`` table for ASCII alphabets, else a mapping
    for ``str.translate``."""
    chars = [alphabet[byte % len(alphabet)] for byte in range(256)]
    if alphabet.isascii():
        return "".join(chars).encode("ascii")
    return dict(enumerate(chars))


class RandomSource(Source):
    """The fast driver: every choice from one seeded :class:`random.Random`.

    Choices scale :meth:`random.Random.random` (53-bit IEEE doubles, the same on every
    platform) instead of calling ``randrange``: four times fewer Python calls per choice, and
    the tiny bias of scaling a double does not matter to a grammar.
    """

    def __init__(self, seed: int | str) -> None:
        super().__init__()
        self.random = random.Random(seed)
        self._float = self.random.random

    def integer(self, low: int, high: int) -> int:
        return low + int(self._float() * (high - low + 1))

    def choice(self, options: Sequence[T]) -> T:
        return options[int(self._float() * len(options))]

    def boolean(self) -> bool:
        return self._float() < 0.5

    def chance(self, one_in: int) -> bool:
        return self._float() * one_in < 1.0

    def text(self, alphabet: str, min_size: int, max_size: int) -> str:
        size = min_size + int(self._float() * (max_size - min_size + 1))
        table = _TABLES.get(alphabet)
        if table is None:
            table = _TABLES[alphabet] = _table(alphabet)
        # Random bytes mapped through a 256-entry table run at C speed; ``byte % len`` favours
        # the first characters of a long alphabet a little, which a grammar does not mind.
        if isinstance(table, bytes):
            return self.random.randbytes(size).translate(table).decode("ascii")
        return self.random.randbytes(size).decode("latin-1").translate(table)

    def binary(self, min_size: int, max_size: int) -> bytes:
        return self.random.randbytes(self.integer(min_size, max_size))


_STRATEGIES: dict[tuple[object, ...], st.SearchStrategy[Any]] = {}


def _cached(
    key: tuple[object, ...], make: Callable[[], st.SearchStrategy[T]]
) -> st.SearchStrategy[T]:
    """One strategy object per distinct choice, built once and unwrapped once.

    The grammar makes hundreds of choices per message; building ``st.integers(a, b)`` and
    unwrapping its lazy wrapper for each of them costs more than the draw itself.
    """
    found = _STRATEGIES.get(key)
    if found is None:
        made = make()
        found = _STRATEGIES[key] = getattr(made, "wrapped_strategy", made)
    return found


class DrawSource(Source):
    """The hypothesis driver: every choice is a draw, so examples shrink.

    Strings and byte strings are kept shorter than the grammar allows (``max_text`` beyond
    their minimum): each character is a draw, and a property test learns more from many small
    messages than from a few long ones.  The corpus driver writes the full lengths.
    """

    def __init__(self, draw: st.DrawFn, max_text: int = 24) -> None:
        super().__init__()
        self.draw = draw
        self.max_text = max_text

    def integer(self, low: int, high: int) -> int:
        return self.draw(_cached(("integer", low, high), lambda: st.integers(low, high)))

    def repeat(self, low: int, high: int) -> int:
        # At most one more than the minimum: each element costs dozens of draws, and
        # properties fail as readily on two mailboxes or two parts as on four.
        return self.integer(low, min(high, low + 1))

    def text(self, alphabet: str, min_size: int, max_size: int) -> str:
        max_size = min(max_size, min_size + self.max_text)
        key = ("text", alphabet, min_size, max_size)
        return self.draw(
            _cached(key, lambda: st.text(alphabet=alphabet, min_size=min_size, max_size=max_size))
        )

    def binary(self, min_size: int, max_size: int) -> bytes:
        max_size = min(max_size, min_size + 4 * self.max_text)
        return self.draw(st.binary(min_size=min_size, max_size=max_size))


def production(
    name: str,
) -> Callable[[Callable[Concatenate[Source, P], T]], Callable[Concatenate[Source, P], T]]:
    """Name the ABNF rule a grammar function follows (``"rfc5322:angle-addr"``), so that a
    source records it when a draw passes through."""

    def decorate(
        function: Callable[Concatenate[Source, P], T],
    ) -> Callable[Concatenate[Source, P], T]:
        @functools.wraps(function)
        def marked(source: Source, /, *args: P.args, **kwargs: P.kwargs) -> T:
            source.seen[name] = None
            return function(source, *args, **kwargs)

        marked.production = name  # type: ignore[attr-defined]
        return marked

    return decorate


def strategy(
    grammar: Callable[Concatenate[Source, P], T], /, *args: P.args, **kwargs: P.kwargs
) -> st.SearchStrategy[T]:
    """The hypothesis strategy that runs ``grammar`` with every choice drawn."""

    @st.composite
    def drawn(draw: st.DrawFn) -> T:
        return grammar(DrawSource(draw), *args, **kwargs)

    return drawn()


def generate(
    grammar: Callable[Concatenate[Source, P], T],
    seed: int | str,
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """One value of ``grammar`` from the fast driver, for a given seed."""
    return grammar(RandomSource(seed), *args, **kwargs)
