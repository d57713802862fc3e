"""Fuzz target: an unstructured value with RFC 2047 encoded-words (Subject, Comments).

Both modes raise only ``ParseError``; what strict mode accepts, lenient mode reads alike
without a defect, and ``encode_unstructured`` writes back to the same value.

    elsinore fuzz run field_unstructured --time 60
"""

from __future__ import annotations

from harness.fuzz_targets import atheris_main, check_field_decoder, field_text
from stack.mime.fields import decode_unstructured, encode_unstructured


def fuzz_one_input(data: bytes) -> None:
    check_field_decoder(decode_unstructured, encode_unstructured, field_text(data))


if __name__ == "__main__":
    atheris_main(fuzz_one_input)
