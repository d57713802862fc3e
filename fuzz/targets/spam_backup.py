"""Fuzz target: SpamOracle's backup format, as ``elsinore spam import`` reads it.

``read_backup`` either returns counts, every one of them between 0 and ``MAX_COUNT``, or
raises ``BackupFormatError`` naming the line at fault; anything else (another exception, a
count the stores could not hold) is a finding.

    elsinore fuzz run spam_backup --time 60
"""

from __future__ import annotations

import re

from stack.spam.backup import MAX_COUNT, BackupFormatError, read_backup

_AT_LINE = re.compile(r"line [1-9][0-9]*: ")
_SEPARATORS = " \t\n\r\x0b\x0c"  # what bytes.split() splits a line at


def fuzz_one_input(data: bytes) -> None:
    try:
        counts = read_backup(data.splitlines())
    except BackupFormatError as error:
        assert _AT_LINE.match(str(error)), f"no line in {error}"
        return
    assert 0 <= counts.spam_messages <= MAX_COUNT and 0 <= counts.ham_messages <= MAX_COUNT
    for word, (spam, ham) in counts.words.items():
        assert word and not any(c in _SEPARATORS for c in word), f"word {word!r}"
        assert 0 <= spam <= MAX_COUNT and 0 <= ham <= MAX_COUNT, f"{word!r}: {spam}, {ham}"


if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input)
