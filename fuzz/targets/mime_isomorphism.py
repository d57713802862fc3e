"""Fuzz target: the encoder isomorphism, driven through the grammar.

libFuzzer's bytes are not mail here: hypothesis reads them as the choices that draw a model
from ``harness.strategies.messages()``, so every input is a valid ``Mail`` and coverage
guidance explores the grammar rather than the byte space.  The target checks
``decode(encode(m))`` equals ``m`` (up to the boundaries an encoder may choose) and that
encoding is canonical.

    elsinore fuzz run mime_isomorphism --time 60
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from harness.strategies import messages
from stack.mime import Mail, decode, encode
from stack.mime.check import equivalent, first_difference


@settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages())
def decode_inverts_encode(mail: Mail) -> None:
    wire = encode(mail)
    again = decode(wire)
    assert equivalent(again, mail), first_difference(mail, again)
    assert encode(again) == wire, "encode is not canonical"


def fuzz_one_input(data: bytes) -> None:
    decode_inverts_encode.hypothesis.fuzz_one_input(data)


if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input, include=("stack", "harness.strategies"))
