"""Fuzz target: the spam tokenizer on any bytes.

``tokenize`` never raises, returns at most ``MAX_TOKENS`` tokens, and every token is storable
as UTF-8 (the word stores write them to SQLite and Redis).

    elsinore fuzz run spam_tokenizer --time 60
"""

from __future__ import annotations

from stack.spam.tokenizer import MAX_TOKENS, tokenize


def fuzz_one_input(data: bytes) -> None:
    tokens = tokenize(data)
    assert len(tokens) <= MAX_TOKENS, f"{len(tokens)} tokens"
    for token in tokens:
        assert isinstance(token, str) and token, f"token {token!r}"
        token.encode("utf-8")


if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input)
