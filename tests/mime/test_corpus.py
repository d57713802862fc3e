"""The codec on 6,046 real messages: lossless, never an unexpected exception, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.mime import ParseError, decode, parse
from stack.mime.check import check

pytestmark = pytest.mark.slow


def _messages(root: Path) -> list[tuple[str, bytes]]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return [(str(p.relative_to(root)), p.read_bytes()) for p in files]


@pytest.fixture(scope="module")
def corpus(spamassassin: Path) -> list[tuple[str, bytes]]:
    messages = _messages(spamassassin)
    assert len(messages) == 6046
    return messages


def test_every_real_message_parses_losslessly(corpus: list[tuple[str, bytes]]) -> None:
    broken = []
    for name, data in corpus:
        message = parse(data)
        for _ in message.walk():
            pass
        if bytes(message) != data:
            broken.append(name)
    assert broken == []


def test_strict_decode_raises_only_parse_error(corpus: list[tuple[str, bytes]]) -> None:
    strict_failures = 0
    for _name, data in corpus:
        try:
            decode(data, strict=True)
        except ParseError:
            strict_failures += 1
    # Real mail is full of defects; the point is that nothing but ParseError escapes.
    assert strict_failures > 0


def test_every_real_message_passes_the_lenient_check(corpus: list[tuple[str, bytes]]) -> None:
    failed = {}
    for name, data in corpus:
        result = check(data)
        if not result.passed:
            failed[name] = result.failures
    assert failed == {}, f"{len(failed)} failed, first: {next(iter(failed.items()))}"
