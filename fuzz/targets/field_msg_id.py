"""Fuzz target: a msg-id list (Message-ID, In-Reply-To, References; RFC 5322 3.6.4).

Both modes raise only ``ParseError``; what strict mode accepts, lenient mode reads alike
without a defect, and ``encode_msg_id_list`` writes back to the same value.

    elsinore fuzz run field_msg_id --time 60
"""

from __future__ import annotations

from harness.fuzz_targets import atheris_main, check_field_decoder, field_text
from stack.mime.fields import decode_msg_id_list, encode_msg_id_list


def fuzz_one_input(data: bytes) -> None:
    check_field_decoder(decode_msg_id_list, encode_msg_id_list, field_text(data))


if __name__ == "__main__":
    atheris_main(fuzz_one_input)
