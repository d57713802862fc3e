"""What the tokenizer catches, and what it lets through: input it cannot read costs tokens,
never an exception; a bug is an exception, so that the fuzzer and the tests can see it."""

from __future__ import annotations

import pytest

from stack.mime import lossless
from stack.mime.errors import ParseError
from stack.spam import tokenizer
from stack.spam.tokenizer import tokenize

# Text codecs by Python's registry that refuse to decode with errors="replace" (idna and
# undefined), or that ignore it (punycode reads its input as ASCII first).
_CODECS_WITHOUT_REPLACE = ("idna", "punycode", "undefined")


@pytest.mark.parametrize("charset", _CODECS_WITHOUT_REPLACE)
def test_a_charset_that_cannot_replace_bad_bytes_is_read_as_unknown(charset: str) -> None:
    data = (
        b"Subject: lottery results\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=" + charset.encode() + b"\r\n\r\n"
        b"millions of dollars \xff\x80 waiting\r\n"
    )
    tokens = tokenize(data)
    assert "decode:failed" not in tokens
    assert {"subject:lottery", "content-type:text/plain", "charset:unknown"} <= set(tokens)
    assert {"millions", "dollars", "waiting"} <= set(tokens)


def test_a_bug_in_the_parser_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fault injected on purpose: the parser promises never to raise, so if it does, the
    # tokenizer must not turn the bug into a quiet "decode:failed" token.
    def broken(data: bytes) -> None:
        raise SystemError("a bug in the parser")

    monkeypatch.setattr(lossless, "parse", broken)
    with pytest.raises(SystemError, match="a bug in the parser"):
        tokenize(b"Subject: hi\n\nmillions of dollars waiting\n")


def test_a_parse_error_from_the_lenient_address_reader_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The lenient reader skips an address it cannot read and keeps the rest of the list
    # (stack.mime.fields.address), so it promises never to raise; if it did, that would be a
    # bug for the fuzzer to find, not a message to file under a token.
    def broken(text: str, defects: list[object]) -> None:
        raise ParseError("a bug in the address reader", 0)

    monkeypatch.setattr(tokenizer, "decode_address_list", broken)
    # An address no other test reads: its tokens cannot be in the cache already.
    with pytest.raises(ParseError, match="a bug in the address reader"):
        tokenize(b"From: fault@injected.example\r\n\r\nbody\r\n")
