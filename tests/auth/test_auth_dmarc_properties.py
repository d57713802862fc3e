"""Properties of identifier alignment (RFC 7489 §3.1) and the organizational domain (§3.2)
over generated DNS names (hypothesis' domains(), whose TLDs are real, so the shipped Public
Suffix List's rules are exercised)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.provisional import domains

from stack.auth.dmarc import aligned
from stack.auth.psl import default_list, organizational_domain

pytestmark = pytest.mark.timeout(60)

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(domains(), domains())
def test_strict_alignment_implies_relaxed_and_relaxed_is_symmetric(a: str, b: str) -> None:
    if aligned(a, b, "s"):
        assert aligned(a, b, "r")
    assert aligned(a, b, "r") == aligned(b, a, "r")


@given(domains())
def test_the_organizational_domain_is_its_own(domain: str) -> None:
    org = organizational_domain(domain)
    assert organizational_domain(org) == org
    assert domain.lower() == org or domain.lower().endswith("." + org)


@given(domains(), labels)
def test_a_subdomain_of_an_organizational_domain_aligns_relaxed_not_strict(
    domain: str, label: str
) -> None:
    org = organizational_domain(domain)
    assume(org != default_list().public_suffix(org))  # a public suffix owns no subdomains
    assert aligned(f"{label}.{org}", org, "r")
    assert not aligned(f"{label}.{org}", org, "s")
