"""ARC (RFC 8617): a forwarder seals what its verifier stamped, the next hop validates the
chain, and a change after sealing breaks it."""

from __future__ import annotations

import pytest
from auth_testbed import DOMAIN, MESSAGE, signing_key

from stack.auth import arc, dkim, inbound
from stack.auth.errors import AuthError, SigningKeyError
from stack.auth.lookup import StaticLookup
from stack.auth.publish import txt_rdata
from stack.mime import parse

pytestmark = pytest.mark.timeout(60)

RELAY = "relay.castle.test"
KEY = signing_key("rsa")
LOOKUP = StaticLookup(
    {
        (f"arc._domainkey.{DOMAIN}", "TXT"): [txt_rdata(KEY.record()).to_text()],
        (f"s1._domainkey.{DOMAIN}", "TXT"): [txt_rdata(KEY.record()).to_text()],
        (DOMAIN, "TXT"): ['"v=spf1 ip4:192.0.2.0/24 -all"'],
    }
)


def hop(message: bytes, ip: str = "192.0.2.1") -> bytes:
    """One forwarding hop: verify and stamp, then seal."""
    verdict = inbound.authenticate(message, ip, f"ophelia@{DOMAIN}", "mx.castle.test", LOOKUP)
    stamped = inbound.stamp(message, verdict, RELAY)
    return arc.seal(stamped, DOMAIN, "arc", KEY, RELAY)


def test_a_message_without_arc_sets_has_chain_none() -> None:
    assert arc.verify_chain(MESSAGE, LOOKUP).result == "none"


def test_each_forwarding_hop_adds_a_set_and_the_chain_passes() -> None:
    once = hop(dkim.sign(MESSAGE, DOMAIN, "s1", KEY))
    assert [f.name for f in parse(once).fields[:3]] == [
        "ARC-Seal",
        "ARC-Message-Signature",
        "ARC-Authentication-Results",
    ]
    assert b"cv=none" in once.split(b"\r\n\r\n")[0]
    assert arc.verify_chain(once, LOOKUP).result == "pass"
    twice = hop(once)
    chain = arc.verify_chain(twice, LOOKUP)
    assert (chain.result, chain.instances) == ("pass", 2)
    assert b"i=2; cv=pass" in twice


def test_a_body_changed_after_sealing_fails_the_chain() -> None:
    sealed = hop(MESSAGE)
    assert arc.verify_chain(sealed.replace(b"rosemary,", b"rue,"), LOOKUP).result == "fail"


def test_sealing_needs_our_authentication_results_and_an_rsa_key() -> None:
    with pytest.raises(AuthError):
        arc.seal(MESSAGE, DOMAIN, "arc", KEY, RELAY)
    with pytest.raises(SigningKeyError):
        arc.seal(MESSAGE, DOMAIN, "arc", signing_key("ed25519"), RELAY)


def test_the_verifier_reports_the_chain_in_authentication_results() -> None:
    sealed = hop(MESSAGE)
    verdict = inbound.authenticate(sealed, "192.0.2.1", f"ophelia@{DOMAIN}", "mx", LOOKUP)
    assert verdict.arc.result == "pass"
    assert "arc=pass" in verdict.authentication_results("mx.elsewhere.test")
