"""Fuzz target: the lossless parse, ``bytes(parse(b)) == b`` for any bytes.

Every part is split and every field unfolded, so the lazy work is done too; ``parse`` must
never raise, whatever the input.

    elsinore fuzz run mime_parse --time 60
"""

from __future__ import annotations

from harness.fuzz_targets import atheris_main, check_lossless


def fuzz_one_input(data: bytes) -> None:
    check_lossless(data)


if __name__ == "__main__":
    atheris_main(fuzz_one_input)
