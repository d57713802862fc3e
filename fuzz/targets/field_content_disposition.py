"""Fuzz target: a Content-Disposition value (RFC 2183) with RFC 2231 parameters.

Both modes raise only ``ParseError``; what strict mode accepts, lenient mode reads alike
without a defect, and ``encode_content_disposition`` writes back to the same value.

    elsinore fuzz run field_content_disposition --time 60
"""

from __future__ import annotations

from harness.fuzz_targets import atheris_main, check_field_decoder, field_text
from stack.mime.fields import decode_content_disposition, encode_content_disposition


def fuzz_one_input(data: bytes) -> None:
    check_field_decoder(decode_content_disposition, encode_content_disposition, field_text(data))


if __name__ == "__main__":
    atheris_main(fuzz_one_input)
