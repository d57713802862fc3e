"""SpamOracle's portable text format (``spamoracle backup`` / ``spamoracle restore``).

So that a SpamOracle user can bring their database::

    SPAMORACLE/1 <good messages> <spam messages>
    <word> <good count> <spam count>
    ...

Words are bytes without white space, usually Latin-1.  A line is read as UTF-8 when it is
valid UTF-8 and as Latin-1 otherwise, which never fails and keeps every word distinct.

SpamOracle counts a word's occurrences, not the messages it occurs in, so an imported count
can exceed its message count; the classifiers cap their ratios at 1 exactly as SpamOracle
does.  A count, or a word's counts summed over its lines, may not exceed :data:`MAX_COUNT`
(2**53, past which a ratio of counts means nothing): the stores keep 64-bit integers, and a
larger count would fail there, far from the line that held it.
"""

from __future__ import annotations

from collections.abc import Iterable

from stack.errors import ElsinoreError
from stack.spam.counts import WordCounts

MAGIC = b"SPAMORACLE/1"
MAX_COUNT = 2**53
_MAX_DIGITS = len(str(MAX_COUNT))


class BackupFormatError(ElsinoreError):
    """The input is not a SpamOracle backup; says which line and why."""


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _count(raw: bytes, number: int) -> int:
    if not raw.isdigit():
        raise BackupFormatError(f"line {number}: {raw[:40]!r} is not a count")
    # Leading zeros off, then the digits counted before int() reads them: CPython refuses to
    # read more than 4,300 digits, zeros included.
    digits = raw.lstrip(b"0") or b"0"
    if len(digits) > _MAX_DIGITS or int(digits) > MAX_COUNT:
        raise BackupFormatError(f"line {number}: count {raw[:40]!r} is over {MAX_COUNT}")
    return int(digits)


def read_backup(lines: Iterable[bytes]) -> WordCounts:
    """The counts in a SpamOracle backup (lines as bytes, with or without line breaks)."""
    iterator = iter(lines)
    first = next(iterator, b"").split()
    if len(first) != 3 or first[0] != MAGIC:
        raise BackupFormatError(
            f"line 1: expected '{MAGIC.decode()} <good> <spam>', not a SpamOracle backup"
        )
    counts = WordCounts(spam_messages=_count(first[2], 1), ham_messages=_count(first[1], 1))
    words = counts.words
    for number, line in enumerate(iterator, start=2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise BackupFormatError(f"line {number}: expected '<word> <good> <spam>'")
        word = _text(fields[0])
        good, spam = _count(fields[1], number), _count(fields[2], number)
        old_spam, old_good = words.get(word, (0, 0))
        total = (old_spam + spam, old_good + good)
        if max(total) > MAX_COUNT:
            raise BackupFormatError(
                f"line {number}: the counts of {word[:40]!r} add up past {MAX_COUNT}"
            )
        words[word] = total
    return counts


def write_backup(counts: WordCounts) -> bytes:
    """``counts`` in SpamOracle's backup format (words sorted, for stable output)."""
    lines = [b"%s %d %d" % (MAGIC, counts.ham_messages, counts.spam_messages)]
    for word in sorted(counts.words):
        spam, ham = counts.words[word]
        lines.append(b"%s %d %d" % (word.encode("utf-8", "surrogateescape"), ham, spam))
    return b"\n".join(lines) + b"\n"
