"""Fuzz target: the authoritative primary's message handling (bytes in, bytes or nothing out).

``Primary.respond`` must never raise, must not hit an internal error (it would answer
SERVFAIL and count it), and everything it sends must parse as a DNS response.

    elsinore fuzz run dns_server --time 60
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message

from stack.dns.example import EXAMPLE_ORIGIN, example_zone_text
from stack.dns.keys import parse_keys
from stack.dns.primary import Primary
from stack.dns.zones import ZoneSet, zone_from_text

KEYS = "signer:hmac-sha256:c2lnbmVyLXNlY3JldC1mb3ItdGhlLXRlc3RzLW9ubHktMzJieXRlcw=="


def _primary() -> Primary:
    # A CNAME loop on top of the example zone, so the fuzzer can reach the loop guard.
    zone = zone_from_text(example_zone_text() + "loop CNAME loop\n", EXAMPLE_ORIGIN)
    assert zone.origin is not None
    return Primary(ZoneSet({zone.origin: zone}), parse_keys(KEYS))


PRIMARY = _primary()


def fuzz_one_input(data: bytes) -> None:
    """One input, over UDP and over TCP; raises only on a finding."""
    for tcp in (False, True):
        for reply in PRIMARY.respond(data, tcp=tcp):
            try:
                response = dns.message.from_wire(reply, keyring=False)
            except dns.exception.DNSException as exc:
                raise AssertionError(f"unparsable reply {reply!r} to {data!r}: {exc}") from exc
            assert response.flags & dns.flags.QR, "a reply without QR"
            if not tcp:
                assert len(reply) <= 1232, f"a {len(reply)}-octet UDP reply"
    assert PRIMARY.internal_errors == 0, f"internal error on {data!r}"


if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input, include=("stack", "dns"))  # our policy and dnspython's wire code
