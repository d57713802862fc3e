"""Fuzz target: the verifying hop on any message bytes.

The input is the message as it arrives.  The seeds (``fuzz/corpora/auth``) are messages
signed with the fixed test key that this target's castle.test publishes, sealed ones, and
messages with hostile signatures and ARC sets drawn by ``harness.strategies.auth``; the
dictionary holds the tags, algorithms and values of RFC 6376 and RFC 8617, so mutations keep
to their grammar.  Every verifier must return a result from its documented set.

    elsinore fuzz run auth_message --time 60
"""

from __future__ import annotations

from harness.strategies.auth import castle_lookup, check_verification, fixed_key

LOOKUP = castle_lookup(fixed_key())


def fuzz_one_input(data: bytes) -> None:
    check_verification(data, LOOKUP)


if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input)
