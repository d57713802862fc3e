"""Fuzz target: DKIM (and what reads its results) on whole hostile signatures.

libFuzzer's bytes are not mail here: hypothesis reads them as the choices that draw from
``harness.strategies.auth.hostile_messages`` over a message really signed by castle.test, so
every input is that message with one tag of its signature rewritten, or with plausible
signatures and ARC sets on top (non-ASCII selectors, bad base64, ``l=`` past CPython's digit
limit, duplicate tags...).  Every verifier must return a result from its documented set, and
the verifier's stamp must add exactly its two fields (``check_verification``).

    elsinore fuzz run auth_signature --time 60
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from harness.strategies.auth import (
    DOMAIN,
    MESSAGE,
    castle_lookup,
    check_verification,
    fixed_key,
    hostile_messages,
)
from stack.auth import dkim

KEY = fixed_key()
LOOKUP = castle_lookup(KEY)
SIGNED = dkim.sign(MESSAGE, DOMAIN.decode(), "s1", KEY)


@settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(hostile_messages(SIGNED))
def verification_gives_results(message: bytes) -> None:
    check_verification(message, LOOKUP)


def fuzz_one_input(data: bytes) -> None:
    verification_gives_results.hypothesis.fuzz_one_input(data)


if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input, include=("stack", "harness.strategies"))
