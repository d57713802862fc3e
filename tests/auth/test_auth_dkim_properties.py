"""Properties over the mail grammar: any generated message signs and verifies, and fields a
later hop prepends through the lossless tree leave the signature valid."""

from __future__ import annotations

import pytest
from auth_testbed import DOMAIN, signing_key
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.strategies import messages
from stack.auth import dkim
from stack.auth.lookup import StaticLookup
from stack.auth.publish import txt_rdata
from stack.mime import Mail, encode, parse

pytestmark = pytest.mark.timeout(120)

KEY = signing_key("ed25519")
LOOKUP = StaticLookup({(f"s1._domainkey.{DOMAIN}", "TXT"): [txt_rdata(KEY.record()).to_text()]})


@settings(max_examples=40)
@given(messages())
def test_a_signature_over_any_generated_message_verifies(mail: Mail) -> None:
    signed = dkim.sign(encode(mail), DOMAIN, "s1", KEY)
    assert [r.result for r in dkim.verify_all(signed, LOOKUP)] == ["pass"], signed


@settings(max_examples=40)
@given(
    messages(),
    st.lists(st.sampled_from(["Received", "X-Spamtacus", "Authentication-Results"]), max_size=3),
)
def test_fields_prepended_by_later_hops_keep_the_signature_valid(
    mail: Mail, names: list[str]
) -> None:
    tree = parse(dkim.sign(encode(mail), DOMAIN, "s1", KEY))
    for number, name in enumerate(names):
        tree.prepend(name, f"hop {number}; by castle.test")
    assert [r.result for r in dkim.verify_all(bytes(tree), LOOKUP)] == ["pass"]
