"""Properties of identifier alignment (RFC 7489 §3.1) and the organizational domain (§3.2)
over generated DNS names (hypothesis' domains(), whose TLDs are real, so the shipped Public
Suffix List's rules are exercised)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.provisional import domains

from stack.auth.dmarc import aligned, discover
from stack.auth.lookup import StaticLookup
from stack.auth.psl import default_list, organizational_domain

pytestmark = pytest.mark.timeout(60)

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
#: Tag soup after "v=DMARC1;": valid, invalid and unknown tags, stray separators.
tag_lists = st.lists(
    st.sampled_from(
        [
            "p=reject",
            "p=none",
            "p=bogus",
            "sp=quarantine",
            "sp=",
            "pct=50",
            "pct=x",
            "rua=mailto:d@castle.test",
            "rua=nowhere",
            "adkim=s",
            "x=y",
            "",
            "p",
        ]
    ),
    max_size=5,
).map("; ".join)
dmarc_records = tag_lists.map(lambda tags: f"v=DMARC1; {tags}")
other_records = st.sampled_from(["v=spf1 -all", "v=dmarc1; p=none", "v=DMARC2; p=none", "p=none"])


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


@given(labels, st.lists(dmarc_records, min_size=1, max_size=3), st.lists(other_records))
def test_a_from_domain_with_a_dmarc1_record_never_gets_its_parents_policy(
    label: str, own: list[str], others: list[str]
) -> None:
    """RFC 7489 §6.6.3 step 3: the organizational domain is asked only when the From
    domain's set of v=DMARC1 records is empty; two or an invalid one are not empty."""
    table = {
        ("_dmarc.castle.test", "TXT"): ['"v=DMARC1; p=reject"'],
        (f"_dmarc.{label}.castle.test", "TXT"): [f'"{text}"' for text in own + others],
    }
    found = discover(f"{label}.castle.test", StaticLookup(table))
    assert (found.name, found.inherited) == (f"_dmarc.{label}.castle.test", False)
    if len(own) > 1:
        assert found.record is None


@given(labels, st.lists(other_records))
def test_a_from_domain_without_a_dmarc1_record_gets_its_parents_policy(
    label: str, others: list[str]
) -> None:
    table = {
        ("_dmarc.castle.test", "TXT"): ['"v=DMARC1; p=none; sp=reject"'],
        (f"_dmarc.{label}.castle.test", "TXT"): [f'"{text}"' for text in others],
    }
    found = discover(f"{label}.castle.test", StaticLookup(table))
    assert found.inherited and found.record is not None and found.record.sp == "reject"
