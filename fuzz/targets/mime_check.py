"""Fuzz target: ``elsinore mime check`` on any bytes, in lenient mode.

The three checks of ``stack.mime.check``: lossless bytes, a decode that does not raise, and a
round trip ``decode(encode(decode(b)))`` equal to ``decode(b)``, for any bytes at all (an
``EncodeError`` is a failure: a field no conformant writer could write is kept as written, so
the encoder never has to refuse what lenient decode read).  What passes for the 6,046 real
messages of the SpamAssassin corpus should pass for whatever the fuzzer derives from them.

    elsinore fuzz run mime_check --time 60
"""

from __future__ import annotations

from stack.mime.check import check


def fuzz_one_input(data: bytes) -> None:
    result = check(data)
    assert result.passed, "; ".join(result.failures)


if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input)
