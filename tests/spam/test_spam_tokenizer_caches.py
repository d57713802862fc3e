"""The tokenizer's caches can be emptied, every one of them, so that a benchmark can time
mail seen for the first time instead of mail the caches already hold."""

from __future__ import annotations

from stack.spam import tokenizer

MESSAGE = (
    b"Received: from relay.example.net (relay.example.net [192.0.2.7])\r\n"
    b"\tby mx.example.org; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"From: Alice <alice@example.org>\r\nSubject: see http://www.example.com/offer\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    b"Details at http://shop.example.biz/deal today\r\n"
)


def _caches() -> dict[str, int]:
    """Every functools cache the tokenizer defines (not those it imports from stack.mime,
    which cache charset names, not mail), with how many entries it holds."""
    return {
        name: value.cache_info().currsize
        for name, value in vars(tokenizer).items()
        if callable(getattr(value, "cache_clear", None)) and value.__module__ == tokenizer.__name__
    }


def test_clear_caches_empties_every_cache_the_tokenizer_fills() -> None:
    tokens = tokenizer.tokenize(MESSAGE)
    filled = _caches()
    assert len(filled) >= 3 and all(filled.values()), filled
    tokenizer.clear_caches()
    assert set(_caches().values()) == {0}
    assert tokenizer.tokenize(MESSAGE) == tokens  # a cold tokenizer reads mail the same way
