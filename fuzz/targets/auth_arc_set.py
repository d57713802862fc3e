"""Fuzz target: ARC chain validation (and the whole verifying hop) on hostile ARC sets.

As ``auth_signature``, libFuzzer's bytes are hypothesis choices, here over a message signed by
castle.test and sealed by two forwarders (a chain that passes): one tag of one of its seven
signed fields rewritten, or whole ARC sets drawn by ``harness.strategies.auth.arc_sets`` on
top (instances out of range, a member missing or repeated, any ``cv=``).  ARC seals with RSA,
so a key is made when the target starts.

    elsinore fuzz run auth_arc_set --time 60
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
from stack.auth import arc, dkim, inbound, keys

KEY = fixed_key()
SEALING = keys.generate("rsa")
LOOKUP = castle_lookup(KEY, SEALING)


def _forwarded(message: bytes, relay: str) -> bytes:
    verdict = inbound.authenticate(message, "127.0.0.25", "a@castle.test", "mail", LOOKUP)
    stamped = inbound.stamp(message, verdict, relay)
    return arc.seal(stamped, DOMAIN.decode(), "arc", SEALING, relay)


SEALED = _forwarded(
    _forwarded(dkim.sign(MESSAGE, DOMAIN.decode(), "s1", KEY), "relay1.castle.test"),
    "relay2.castle.test",
)
assert arc.verify_chain(SEALED, LOOKUP).result == "pass"


@settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(hostile_messages(SEALED))
def verification_gives_results(message: bytes) -> None:
    check_verification(message, LOOKUP)


def fuzz_one_input(data: bytes) -> None:
    verification_gives_results.hypothesis.fuzz_one_input(data)


if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input, include=("stack", "harness.strategies"))
