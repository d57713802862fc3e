"""Fuzz target: a date-time (RFC 5322 3.3 and its obsolete forms).

Both modes raise only ``ParseError``; what strict mode accepts, lenient mode reads alike
without a defect, and ``encode_date`` writes back to the same value.

    elsinore fuzz run field_date --time 60
"""

from __future__ import annotations

from harness.fuzz_targets import atheris_main, check_field_decoder, field_text
from stack.mime.fields import decode_date, encode_date


def fuzz_one_input(data: bytes) -> None:
    check_field_decoder(decode_date, encode_date, field_text(data))


if __name__ == "__main__":
    atheris_main(fuzz_one_input)
