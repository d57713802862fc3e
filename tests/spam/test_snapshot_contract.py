"""What stack.spam.stores.snapshot promises beyond the main tests: the byte layout its
docstring gives (format 1, little-endian on every machine, so a database file is portable),
and ``None``, never an exception, for each kind of malformed snapshot it names."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.spam.stores.snapshot import decode_snapshot, encode_snapshot

ROWS = [("a", 1, 2), ("héllo", 1, 2), ("c", 2**40, 0)]
WORDS, PAIRS, WORD_PAIRS = (
    "a\nhéllo\nc".encode(),
    struct.pack("<4Q", 1, 2, 2**40, 0),
    struct.pack("<3I", 0, 0, 1),
)


def test_a_snapshot_is_the_words_the_distinct_pairs_and_each_words_pair_index() -> None:
    assert encode_snapshot(ROWS) == (WORDS, PAIRS, WORD_PAIRS)


def test_a_snapshot_decodes_to_the_counts_of_its_rows() -> None:
    assert decode_snapshot(WORDS, PAIRS, WORD_PAIRS) == {
        "a": (1, 2),
        "héllo": (1, 2),
        "c": (2**40, 0),
    }


def test_no_rows_are_an_empty_snapshot_and_one_empty_word_is_not() -> None:
    assert encode_snapshot([]) == (b"", b"", b"")
    assert decode_snapshot(b"", b"", b"") == {}
    assert encode_snapshot([("", 0, 1)]) == (b"", struct.pack("<2Q", 0, 1), struct.pack("<I", 0))


def test_a_word_holding_the_separator_cannot_be_written() -> None:
    assert encode_snapshot([("a", 1, 0), ("two\nlines", 1, 0)]) is None
    assert encode_snapshot([("\n", 1, 0)]) is None


@pytest.mark.parametrize(
    ("words", "pairs", "word_pairs"),
    [
        pytest.param(WORDS, PAIRS[:-8], WORD_PAIRS, id="half-a-pair"),
        pytest.param(WORDS, PAIRS + b"\0", WORD_PAIRS, id="pairs-of-a-stray-byte"),
        pytest.param(WORDS, PAIRS, WORD_PAIRS + b"\0\0", id="half-an-index"),
        pytest.param(b"a\n\xff\nc", PAIRS, WORD_PAIRS, id="not-utf-8"),
        pytest.param(WORDS, PAIRS, struct.pack("<3I", 0, 0, 2), id="index-out-of-range"),
        pytest.param(b"a\na\nc", PAIRS, WORD_PAIRS, id="a-word-twice"),
        pytest.param(b"a\nc", PAIRS, WORD_PAIRS, id="fewer-words-than-indexes"),
        pytest.param(WORDS + b"\nd", PAIRS, WORD_PAIRS, id="more-words-than-indexes"),
        pytest.param(b"stray", b"", b"", id="words-without-indexes"),
    ],
)
def test_a_malformed_snapshot_decodes_to_none(
    words: bytes, pairs: bytes, word_pairs: bytes
) -> None:
    assert decode_snapshot(words, pairs, word_pairs) is None


@given(
    st.dictionaries(
        st.text().filter(lambda word: "\n" not in word),
        st.tuples(st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1)),
        max_size=50,
    )
)
def test_any_rows_decode_to_their_counts_with_each_pair_once(
    counts: dict[str, tuple[int, int]],
) -> None:
    rows = [(word, spam, ham) for word, (spam, ham) in counts.items()]
    snapshot = encode_snapshot(rows)
    assert snapshot is not None
    assert decode_snapshot(*snapshot) == counts
    assert len(snapshot[1]) == 16 * len(set(counts.values()))
