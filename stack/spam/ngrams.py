"""The regression's features: hashed byte 4-grams of the head of the raw message.

The features of the on-line logistic regression filters that led the TREC spam tracks of
2005-2007 (Goodman and Yih; Cormack): every run of four bytes in the first
:data:`HEAD_BYTES` bytes of the message, as they came (no MIME decoding, no case folding),
each counted once (binary), hashed into :data:`FEATURES` buckets.  Reading the bytes and not
the tokenizer's words is the point: base64 bodies, odd charsets and HTML tricks are features
too, and there is nothing to parse, so nothing to fail on.

The hash is the 4-gram read as a little-endian 32-bit integer, modulo a prime.  It is
computed in C (:mod:`array` reads the 4-grams at each of the four alignments, ``map`` takes
the remainders), it is the same in every process and on every machine (not ``hash``, which
``PYTHONHASHSEED`` changes), and a prime modulus spreads the integers of text, whose bytes
differ mostly in their low bits, over every bucket.
"""

from __future__ import annotations

import hashlib
import operator
import sys
from array import array
from itertools import repeat

#: How much of the message is read: headers and the start of the body, where spam shows.
HEAD_BYTES = 3000
#: Buckets, a prime just under 2**20: 4-grams of a large corpus collide little at this size.
FEATURES = 1_048_573

_BIG_ENDIAN = sys.byteorder == "big"


def head_features(data: bytes) -> list[int]:
    """The distinct buckets of the 4-grams of ``data``'s first :data:`HEAD_BYTES` bytes, in
    ascending order (so that two runs agree on order too; a message shorter than four
    bytes has none)."""
    return sorted(head_buckets(data))


def head_buckets(data: bytes) -> set[int]:
    """The same buckets as a set, for scoring, where order does not matter and sorting
    cost a fifth of the time."""
    head = data[:HEAD_BYTES]
    grams = array("I")
    for offset in range(4):
        whole = (len(head) - offset) // 4 * 4
        grams.frombytes(head[offset : offset + whole])
    if _BIG_ENDIAN:
        grams.byteswap()
    return set(map(operator.mod, set(grams), repeat(FEATURES)))


def message_digest(data: bytes) -> bytes:
    """What identifies a trained message, so that untraining takes back exactly what
    training it added: 16 bytes of BLAKE2b over the whole message."""
    return hashlib.blake2b(data, digest_size=16).digest()
