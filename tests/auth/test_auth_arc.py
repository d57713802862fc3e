"""ARC (RFC 8617): a forwarder seals what its verifier stamped, the next hop validates the
chain, and a change after sealing breaks it."""

from __future__ import annotations

import pytest
from auth_testbed import DOMAIN, MESSAGE, signing_key

from stack.auth import arc, dkim, inbound
from stack.auth.errors import AuthError, KeyNameError, SigningKeyError
from stack.auth.lookup import StaticLookup
from stack.auth.publish import txt_rdata
from stack.mime import parse
from stack.mime.safe import UnsafeTextError

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


def _with_seal_tag(sealed: bytes, old: bytes, new: bytes) -> bytes:
    head, _, body = sealed.partition(b"\r\n\r\n")
    seal, _, rest = head.partition(b"\r\nARC-Message-Signature:")
    return seal.replace(old, new) + b"\r\nARC-Message-Signature:" + rest + b"\r\n\r\n" + body


@pytest.mark.parametrize("selector", ["sél".encode(), b"s\xff", b"a..b", b"x" * 70, b""])
def test_a_seal_whose_key_name_is_not_a_dns_name_fails_the_chain(selector: bytes) -> None:
    hostile = _with_seal_tag(hop(MESSAGE), b"s=arc", b"s=" + selector)
    chain = arc.verify_chain(hostile, LOOKUP)
    assert chain.result == "fail"
    verdict = inbound.authenticate(hostile, "192.0.2.1", f"ophelia@{DOMAIN}", "mx", LOOKUP)
    assert verdict.arc.result == "fail"
    inbound.stamp(hostile, verdict, "mx.castle.test")


def test_a_seal_that_reports_a_failed_chain_ends_it_in_fail() -> None:
    # dkimpy answers None, not a status, for a chain that a seal says has already failed.
    twice = hop(hop(MESSAGE))
    broken = twice.replace(b"i=2; cv=pass", b"i=2; cv=fail")
    assert arc.verify_chain(broken, LOOKUP).result == "fail"


@pytest.mark.parametrize(
    ("domain", "selector", "authserv_id", "error"),
    [
        (DOMAIN, "arc\r\nX-Injected: yes", RELAY, KeyNameError),
        (f"{DOMAIN}\nX-Injected: yes", "arc", RELAY, KeyNameError),
        (DOMAIN, "arc", f"{RELAY}\r\nX-Injected: yes", UnsafeTextError),
        (DOMAIN, "arc", "relais.château.test", AuthError),
    ],
)
def test_a_configured_name_a_seal_cannot_carry_is_refused(
    domain: str, selector: str, authserv_id: str, error: type[Exception]
) -> None:
    stamped = f"Authentication-Results: {authserv_id}; arc=none\r\n".encode(errors="replace")
    with pytest.raises(error):
        arc.seal(stamped + MESSAGE, domain, selector, KEY, authserv_id)
