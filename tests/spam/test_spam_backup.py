"""SpamOracle's `spamoracle backup` format: read, written, and read from the real tool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from stack.spam.backup import MAX_COUNT, BackupFormatError, read_backup, write_backup
from stack.spam.counts import WordCounts

BACKUP = b"SPAMORACLE/1 5 3\ninfo 3 0\never 3 1\nyour 4 5\n$1,000 0 5\n"


def test_counts_up_to_the_limit_are_read_with_leading_zeros_allowed() -> None:
    counts = read_backup([b"SPAMORACLE/1 0 0", b"w 0009007199254740992 0", b"w 0 1"])
    assert counts.words["w"] == (1, MAX_COUNT)
    # More digits than CPython reads in one int, all but one of them zeros.
    assert read_backup([b"SPAMORACLE/1 1 1", b"w " + b"0" * 5000 + b"7 0"]).words["w"] == (0, 7)


def test_reading_a_backup_maps_good_to_ham_and_spam_to_spam() -> None:
    counts = read_backup(BACKUP.splitlines())
    assert (counts.ham_messages, counts.spam_messages) == (5, 3)
    assert counts.words["your"] == (5, 4)  # (spam, ham)
    assert counts.words["$1,000"] == (5, 0)


def test_backup_round_trips_byte_for_byte() -> None:
    text = b"SPAMORACLE/1 5 3\n$1,000 0 5\never 3 1\ninfo 3 0\nyour 4 5\ncaf\xc3\xa9 1 1\n"
    assert (
        write_backup(read_backup(text.splitlines()))
        == b"\n".join([text.splitlines()[0], *sorted(text.splitlines()[1:])]) + b"\n"
    )


def test_counts_round_trip_through_the_format() -> None:
    counts = WordCounts(7, 9, {"a": (1, 2), "héllo": (3, 0), "z": (0, 4)})
    assert read_backup(write_backup(counts).splitlines()) == counts


def test_latin1_words_are_read_as_latin1() -> None:
    counts = read_backup([b"SPAMORACLE/1 1 1", b"caf\xe9 1 0"])
    assert counts.words["café"] == (0, 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello world\n", "not a SpamOracle backup"),
        (b"SPAMORACLE/1 1 1\nword x 1\n", "line 2"),
        (b"SPAMORACLE/1 1 1\nword 1\n", "line 2"),
        (b"SPAMORACLE/1 1 1\nword 99999999999999999999 1\n", "line 2: count .* is over"),
        (b"SPAMORACLE/1 1 " + b"9" * 5000 + b"\n", "line 1: count .* is over"),
        (b"SPAMORACLE/1 1 1\nw 9007199254740992 0\nw 1 0\n", "line 3: .* add up past"),
    ],
)
def test_bad_backups_say_which_line(data: bytes, message: str) -> None:
    with pytest.raises(BackupFormatError, match=message):
        read_backup(data.splitlines())


@pytest.mark.interop
def test_a_real_spamoracle_database_imports(tmp_path: Path, spamassassin: Path) -> None:
    if shutil.which("spamoracle") is None:
        pytest.skip("spamoracle is not installed (apt-get install spamoracle)")
    db = tmp_path / "oracle.db"
    spam = sorted((spamassassin / "spam").iterdir())[:10]
    ham = sorted((spamassassin / "easy_ham").iterdir())[:20]
    subprocess.run(
        ["spamoracle", "-f", db, "add", "-spam", *spam, "-good", *ham],
        check=True, capture_output=True,
    )  # fmt: skip
    backup = subprocess.run(
        ["spamoracle", "-f", db, "backup"], check=True, capture_output=True
    ).stdout
    counts = read_backup(backup.splitlines())
    assert (counts.spam_messages, counts.ham_messages) == (10, 20)
    assert len(counts.words) > 100
    assert write_backup(counts).splitlines()[0] == backup.splitlines()[0]
