"""What stack.auth.arc promises beyond the main tests: the fields the ARC-Message-Signature
signs (RFC 8617 §4.1.2), and the refusals a forwarder's operator reads."""

from __future__ import annotations

import logging
import re

import pytest
from auth_testbed import DOMAIN, MESSAGE, signing_key
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.util import parse_tag_value

from stack.auth import arc
from stack.auth.errors import AuthError, SigningKeyError
from stack.auth.keys import _from_rsa
from stack.auth.lookup import StaticLookup
from stack.auth.publish import txt_rdata
from stack.mime import parse
from stack.mime.safe import UnsafeTextError

pytestmark = pytest.mark.timeout(60)

RELAY = "relay.castle.test"
KEY = signing_key("rsa")
STAMPED = f"Authentication-Results: {RELAY}; arc=none\r\n".encode() + MESSAGE
LOOKUP = StaticLookup({(f"arc._domainkey.{DOMAIN}", "TXT"): [txt_rdata(KEY.record()).to_text()]})


def signed_fields(sealed: bytes) -> list[str]:
    """The h= list of the topmost ARC-Message-Signature."""
    ams = parse(sealed).get_all("ARC-Message-Signature")[0]
    h_tag = dict(parse_tag_value(ams.raw_value))[b"h"]
    return [name.strip().lower() for name in h_tag.decode().split(":")]


def test_the_message_signature_signs_each_listed_field_present_once_per_instance() -> None:
    # §4.1.2: the AMS is a DKIM signature; unlike ours, it adds no empty instances, since a
    # later hop may add a field that the AMS must not break on.
    assert signed_fields(arc.seal(STAMPED, DOMAIN, "arc", KEY, RELAY)) == [
        "from",
        "subject",
        "date",
        "message-id",
        "to",
    ]


def test_arc_fields_are_never_signed_by_the_message_signature_even_when_listed() -> None:
    # §4.1.2: ARC's own fields are added by each hop and are covered by the ARC-Seal.
    once = arc.seal(STAMPED, DOMAIN, "arc", KEY, RELAY)
    restamped = f"Authentication-Results: {RELAY}; arc=pass\r\n".encode() + once
    listed = ("from", "arc-seal", "arc-message-signature", "arc-authentication-results")
    twice = arc.seal(restamped, DOMAIN, "arc", KEY, RELAY, headers=listed)
    assert signed_fields(twice) == ["from"]


def test_a_key_that_is_not_rsa_is_refused_naming_the_algorithm_arc_allows() -> None:
    with pytest.raises(SigningKeyError) as error:
        arc.seal(STAMPED, DOMAIN, "arc", signing_key("ed25519"), RELAY)
    assert re.search(r"\bARC\b", str(error.value))
    assert re.search(r"\brsa-sha256\b", str(error.value))
    assert re.search(r"\bRFC 8617\b", str(error.value))


def test_a_non_ascii_authserv_id_is_refused_and_the_refusal_says_why() -> None:
    stamped = "Authentication-Results: relais.château.test; arc=none\r\n".encode() + MESSAGE
    with pytest.raises(AuthError) as error:
        arc.seal(stamped, DOMAIN, "arc", KEY, "relais.château.test")
    assert "relais.château.test" in str(error.value)
    assert re.search(r"\bnot ASCII\b", str(error.value))


def test_without_our_authentication_results_the_refusal_names_what_is_missing() -> None:
    with pytest.raises(AuthError) as error:
        arc.seal(MESSAGE, DOMAIN, "arc", KEY, RELAY)
    assert re.search(rf"\bAuthentication-Results of {re.escape(RELAY)}\b", str(error.value))


def test_a_field_rfc_6376_says_not_to_sign_is_refused_with_the_libraries_reason() -> None:
    stamped = STAMPED.replace(b"From:", b"Received: from x\r\nFrom:", 1)
    with pytest.raises(AuthError) as error:
        arc.seal(stamped, DOMAIN, "arc", KEY, RELAY, headers=("from", "received"))
    reason = str(error.value)
    assert reason.startswith("cannot seal: ParameterError: ")
    assert "received" in reason and "SHOULD NOT be signed" in reason


def test_a_failing_chain_leaves_no_record_in_our_logs(caplog: pytest.LogCaptureFixture) -> None:
    # dkimpy logs why a set failed in words the sender chose; they go to the verdict's reason,
    # never into the logging tree of the process that verifies.
    sealed = arc.seal(STAMPED, DOMAIN, "arc", KEY, RELAY)
    caplog.set_level(logging.DEBUG)
    chain = arc.verify_chain(sealed.replace(b"rosemary,", b"rue,"), LOOKUP)
    assert chain.result == "fail"
    assert caplog.records == []


def test_a_chain_sealed_with_a_1024_bit_key_elsewhere_is_validated() -> None:
    # RFC 8301 §3.2: verifiers MUST be able to validate signatures with keys of 1024 to 4096
    # bits (we seal with 2048 or more ourselves; a forwarder elsewhere may not).
    small = _from_rsa(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    sealed = arc.seal(STAMPED, DOMAIN, "small", small, RELAY)
    lookup = StaticLookup(
        {(f"small._domainkey.{DOMAIN}", "TXT"): [txt_rdata(small.record()).to_text()]}
    )
    assert arc.verify_chain(sealed, lookup).result == "pass"


def test_an_unreadable_header_without_arc_sets_is_no_chain() -> None:
    # §5.2: without ARC sets the chain is none, whatever else the header holds.
    unreadable = b" a fold before any field\r\n" + MESSAGE
    assert arc.verify_chain(unreadable, LOOKUP).result == "none"


def test_a_chain_whose_key_is_missing_gives_both_reasons() -> None:
    # The validator's reason and ours (which key is missing), one after the other.
    sealed = arc.seal(STAMPED, DOMAIN, "arc", KEY, RELAY)
    chain = arc.verify_chain(sealed, StaticLookup({}))
    assert chain.result == "fail"
    reasons = chain.reason.split("; ")
    assert len(reasons) == 2 and reasons[1] == f"no key for signature at arc._domainkey.{DOMAIN}"


def test_an_authserv_id_with_a_control_character_is_refused_naming_it() -> None:
    with pytest.raises(UnsafeTextError, match=r"^authserv-id: "):
        arc.seal(STAMPED, DOMAIN, "arc", KEY, f"{RELAY}\r\nX-Injected: yes")
