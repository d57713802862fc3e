"""Fuzz target: the SQLite store's snapshot of every count, as ``load`` decodes it.

A database file may come from anywhere, so ``decode_snapshot`` reads its three blobs
defensively: it returns None for anything that is not a well-formed snapshot and never
raises.  What it returns holds one count pair per word of the snapshot.

The input is the three blobs, each but the last preceded by its length (4 bytes,
little-endian): ``len(words) words len(pairs) pairs word_pairs``.

    elsinore fuzz run spam_snapshot --time 60
"""

from __future__ import annotations

from stack.spam.stores.snapshot import decode_snapshot


def split_blobs(data: bytes) -> tuple[bytes, bytes, bytes]:
    """The three blobs of a fuzz input (short lengths take what is there)."""
    blobs: list[bytes] = []
    for _ in range(2):
        size = int.from_bytes(data[:4], "little")
        blobs.append(data[4 : 4 + size])
        data = data[4 + size :]
    return blobs[0], blobs[1], data


def join_blobs(words: bytes, pairs: bytes, word_pairs: bytes) -> bytes:
    """A fuzz input from a snapshot's blobs (for the seeds)."""
    return (
        b"".join([len(words).to_bytes(4, "little"), words, len(pairs).to_bytes(4, "little"), pairs])
        + word_pairs
    )


def fuzz_one_input(data: bytes) -> None:
    words, pairs, word_pairs = split_blobs(data)
    counts = decode_snapshot(words, pairs, word_pairs)
    if counts is None:
        return
    expected = len(word_pairs) // 4
    assert len(counts) == expected, f"{len(counts)} words for {expected} indexes"
    for word, (spam, ham) in counts.items():
        assert isinstance(word, str), f"word {word!r}"
        assert 0 <= spam < 2**64 and 0 <= ham < 2**64, f"{word!r}: {spam}, {ham}"


if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input)
