"""The snapshot of every count that the SQLite store keeps beside its rows, as bytes.

Format 1, chosen to decode fast with nothing but :mod:`array` and ``str.split`` (neither
pickle nor marshal: a database file may come from anywhere)::

    words       every word in UTF-8, joined by "\\n", in the order of the words table
    pairs       the distinct (spam, ham) count pairs, as unsigned 64-bit little-endian
                integers: spam0 ham0 spam1 ham1 ...
    word_pairs  for each word, the index of its pair, as unsigned 32-bit little-endian

Most words share a few pairs (six in ten are "in one message", spam or ham), so the decoded
counts hold one tuple per distinct pair (3,000 for 140,000 words) instead of one per word.

:func:`decode_snapshot` reads untrusted bytes: it returns ``None`` for anything that is not
a well-formed snapshot and never raises (the ``spam_snapshot`` fuzz target holds it to that).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable

import numpy as np

SNAPSHOT_FORMAT = 1

# The snapshot's integers: 'Q' and 'I' are 8 and 4 bytes wherever CPython runs.  They are
# stored little-endian on every machine, so that the file stays portable as SQLite's is.
_PAIR, _INDEX = "Q", "I"
_SWAP = sys.byteorder == "big"


def encode_snapshot(rows: Iterable[tuple[str, int, int]]) -> tuple[bytes, bytes, bytes] | None:
    """The snapshot (words, pairs, word_pairs) of ``rows`` of ``(word, spam, ham)``, or
    ``None`` if a word holds the separator or a count is not an integer, and so cannot be
    written in one.

    The distinct pairs are found by numpy, in their sorted order (a training rewrites the
    snapshot of 140,000 words, and a dict of pairs filled word by word took 0.2 s of it)."""
    columns = list(zip(*rows, strict=True)) or [(), (), ()]
    words: tuple[str, ...] = columns[0]
    text = "\n".join(words)
    if text.count("\n") != max(len(words) - 1, 0):
        return None
    spam, ham = (np.array(column) for column in columns[1:])
    # Read as numpy infers them, so that text or a real (which SQLite keeps in an INTEGER
    # column) is seen here, not cut to an integer the rows do not hold.
    if words and (spam.dtype.kind not in "iu" or ham.dtype.kind not in "iu"):
        return None
    spam, ham = spam.astype(np.uint64), ham.astype(np.uint64)
    order = np.lexsort((ham, spam))  # by spam, then ham
    spam, ham = spam[order], ham[order]
    starts = np.ones(len(order), dtype=np.bool_)  # where a new distinct pair starts
    starts[1:] = (spam[1:] != spam[:-1]) | (ham[1:] != ham[:-1])
    word_pairs = np.empty(len(order), dtype="<u4")
    word_pairs[order] = np.cumsum(starts) - 1
    pairs = np.stack([spam[starts], ham[starts]], axis=1).astype("<u8")
    return text.encode(), pairs.tobytes(), word_pairs.tobytes()


def decode_snapshot(
    words: bytes, pairs: bytes, word_pairs: bytes
) -> dict[str, tuple[int, int]] | None:
    """The counts a snapshot holds, or ``None`` if it is not a well-formed one: wrong
    lengths, bytes that are not UTF-8, a pair index out of range, a word twice."""
    pair_array, index = array(_PAIR), array(_INDEX)
    if len(pairs) % (2 * pair_array.itemsize) or len(word_pairs) % index.itemsize:
        return None
    pair_array.frombytes(pairs)
    index.frombytes(word_pairs)
    if _SWAP:
        pair_array.byteswap()
        index.byteswap()
    try:
        text = words.decode()
    except UnicodeDecodeError:
        return None
    # "" is no word at all, or the one word "": the number of indexes tells which.
    word_list = text.split("\n") if index else []
    if len(word_list) != len(index) or (text and not index):
        return None
    shared = list(zip(pair_array[0::2], pair_array[1::2], strict=True))
    try:
        counts = dict(zip(word_list, map(shared.__getitem__, index), strict=True))
    except IndexError:
        return None
    return counts if len(counts) == len(word_list) else None
