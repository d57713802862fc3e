"""Fuzz target: ``decode`` in both modes.

Lenient mode never raises; strict mode raises only ``ParseError``; a message strict mode
accepts is read the same way by lenient mode, with no defect.

    elsinore fuzz run mime_decode --time 60
"""

from __future__ import annotations

from harness.fuzz_targets import atheris_main, check_decode


def fuzz_one_input(data: bytes) -> None:
    check_decode(data)


if __name__ == "__main__":
    atheris_main(fuzz_one_input)
