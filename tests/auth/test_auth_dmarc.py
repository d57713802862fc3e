"""DMARC (RFC 7489): discovery with the organizational domain, alignment, p/sp/pct, results
and dispositions; and the organizational domain from the publicsuffixlist package."""

from __future__ import annotations

import pytest
from auth_testbed import FROM_SUB, MESSAGE, dkim, policy, spf
from dns_testbed import ServerThread, castle_text

from stack.auth.dmarc import RecordError, aligned, discover, evaluate, parse_record
from stack.auth.lookup import StaticLookup, resolver_lookup
from stack.auth.psl import SuffixList, organizational_domain
from stack.auth.spf import SpfResult
from stack.dns.primary import Primary
from stack.dns.zones import ZoneSet, zone_from_text

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("castle.test", "castle.test"),  # the implicit "*" rule: .test is a public suffix
        ("a.b.castle.test", "castle.test"),
        ("mail.example.co.uk", "example.co.uk"),
        ("co.uk", "co.uk"),
        ("a.b.c.kawasaki.jp", "b.c.kawasaki.jp"),  # *.kawasaki.jp
        ("a.city.kawasaki.jp", "city.kawasaki.jp"),  # !city.kawasaki.jp
        ("Mail.Example.COM.", "example.com"),
        ("alice.github.io", "alice.github.io"),  # the private section counts too
    ],
)
def test_organizational_domain_follows_the_public_suffix_list(domain: str, org: str) -> None:
    assert organizational_domain(domain) == org


def test_customers_of_a_private_suffix_do_not_align_with_each_other() -> None:
    assert not aligned("mallory.github.io", "alice.github.io", "r")


def test_a_private_list_can_stand_in_for_the_shipped_one() -> None:
    suffixes = SuffixList(["// comment", "test", "castle.test"])
    assert suffixes.organizational_domain("a.b.castle.test") == "b.castle.test"


def test_record_tags_and_defaults() -> None:
    record = parse_record("v=DMARC1; p=reject; pct=20; adkim=s; rua=mailto:d@castle.test")
    assert (record.p, record.sp, record.pct, record.adkim, record.aspf) == (
        "reject",
        "reject",
        20,
        "s",
        "r",
    )
    assert parse_record("v=DMARC1; rua=mailto:d@castle.test").p == "none"  # §6.6.3 step 6
    for bad in ("p=reject", "v=DMARC1; p=maybe", "v=DMARC1; p=none; pct=101", "v=DMARC1; p"):
        with pytest.raises(RecordError):
            parse_record(bad)


def test_relaxed_alignment_is_the_organizational_domain_strict_is_the_name() -> None:
    assert aligned("mail.castle.test", "castle.test", "r")
    assert not aligned("mail.castle.test", "castle.test", "s")
    assert aligned("CASTLE.test.", "castle.test", "s")
    assert not aligned("castle.test", "elsinore.test", "r")


def test_an_aligned_dkim_pass_passes_even_when_spf_fails() -> None:
    outcome = evaluate(MESSAGE, spf("fail"), [dkim()], policy("v=DMARC1; p=reject"))
    assert (outcome.result, outcome.disposition, outcome.dkim_aligned) == (
        "pass",
        "none",
        ("castle.test",),
    )


def test_an_aligned_spf_pass_passes_without_signatures() -> None:
    outcome = evaluate(MESSAGE, spf(), [], policy("v=DMARC1; p=reject"))
    assert (outcome.result, outcome.spf_aligned) == ("pass", True)


def test_strict_alignment_rejects_a_subdomain_that_relaxed_accepts() -> None:
    relaxed = evaluate(MESSAGE, spf(domain="bounce.castle.test"), [], policy("v=DMARC1; p=reject"))
    strict = evaluate(
        MESSAGE, spf(domain="bounce.castle.test"), [], policy("v=DMARC1; p=reject; aspf=s")
    )
    assert relaxed.result == "pass"
    assert (strict.result, strict.disposition) == ("fail", "reject")


def test_a_pass_for_another_domain_is_not_aligned() -> None:
    outcome = evaluate(
        MESSAGE,
        spf(domain="evil.test"),
        [dkim(domain="evil.test")],
        policy("v=DMARC1; p=quarantine"),
    )
    assert (outcome.result, outcome.disposition) == ("fail", "quarantine")


def test_a_subdomain_gets_sp_from_the_organizational_domains_record() -> None:
    lookup = policy("v=DMARC1; p=none; sp=reject")
    found = discover("mail.castle.test", lookup)
    assert found.inherited and found.name == "_dmarc.castle.test"
    outcome = evaluate(FROM_SUB, spf("fail"), [], lookup)
    assert (outcome.policy, outcome.disposition) == ("reject", "reject")


def test_the_domains_own_record_wins_over_the_organizational_one() -> None:
    lookup = StaticLookup(
        {
            ("_dmarc.castle.test", "TXT"): ['"v=DMARC1; p=reject"'],
            ("_dmarc.mail.castle.test", "TXT"): ['"v=DMARC1; p=none"'],
        }
    )
    assert evaluate(FROM_SUB, spf("fail"), [], lookup).disposition == "none"


@pytest.mark.parametrize(
    ("sample", "disposition"), [(0.0, "reject"), (24.9, "reject"), (25.0, "quarantine")]
)
def test_pct_samples_the_policy_and_applies_the_milder_one_outside(
    sample: float, disposition: str
) -> None:
    outcome = evaluate(
        MESSAGE, spf("fail"), [], policy("v=DMARC1; p=reject; pct=25"), sample=sample
    )
    assert (outcome.result, outcome.disposition) == ("fail", disposition)


def test_no_record_or_two_records_is_none_and_an_unreachable_server_is_temperror() -> None:
    assert evaluate(MESSAGE, spf("fail"), [], StaticLookup({})).result == "none"
    two = StaticLookup({("_dmarc.castle.test", "TXT"): ['"v=DMARC1; p=reject"'] * 2})
    assert evaluate(MESSAGE, spf("fail"), [], two).result == "none"
    lost = StaticLookup({}, unreachable=["_dmarc.castle.test"])
    assert evaluate(MESSAGE, spf("fail"), [], lost).result == "temperror"


def test_a_message_with_two_authors_is_a_permerror() -> None:
    two = MESSAGE.replace(b"<ophelia@castle.test>", b"<ophelia@castle.test>, b@evil.test")
    assert evaluate(two, spf(), [dkim()], policy("v=DMARC1; p=reject")).result == "permerror"


def parent_and_own(*own: str, parent: str = "v=DMARC1; p=reject") -> StaticLookup:
    """castle.test asks for reject; mail.castle.test publishes ``own``."""
    return StaticLookup(
        {
            ("_dmarc.castle.test", "TXT"): [f'"{parent}"'],
            ("_dmarc.mail.castle.test", "TXT"): [f'"{text}"' for text in own],
        }
    )


def test_two_records_at_the_from_domain_end_discovery_without_the_parents_policy() -> None:
    # §6.6.3 step 3 asks the organizational domain only when the From domain's set is empty.
    lookup = parent_and_own("v=DMARC1; p=none", "v=DMARC1; p=none")
    found = discover("mail.castle.test", lookup)
    assert (found.record, found.name, found.inherited) == (None, "_dmarc.mail.castle.test", False)
    outcome = evaluate(FROM_SUB, spf("fail"), [], lookup)
    assert (outcome.result, outcome.disposition) == ("none", "none")


def test_two_records_served_by_our_dns_end_discovery_too(servers: ServerThread) -> None:
    text = castle_text() + (
        '_dmarc      TXT "v=DMARC1; p=reject"\n'
        '_dmarc.mail TXT "v=DMARC1; p=none"\n'
        '_dmarc.mail TXT "v=DMARC1; p=none; pct=50"\n'
    )
    zone = zone_from_text(text, "castle.test.")
    server = servers.serve(Primary(ZoneSet({zone.origin: zone})).respond)  # type: ignore[dict-item]
    with resolver_lookup(server) as lookup:
        outcome = evaluate(FROM_SUB, spf("fail"), [], lookup)
    assert (outcome.result, outcome.disposition) == ("none", "none")
    assert outcome.reason == "2 DMARC records"


def test_an_invalid_record_at_the_from_domain_is_a_permerror_not_the_parents_policy() -> None:
    lookup = parent_and_own("v=DMARC1; p=maybe")
    found = discover("mail.castle.test", lookup)
    assert (found.record, found.name, found.inherited) == (None, "_dmarc.mail.castle.test", False)
    outcome = evaluate(FROM_SUB, spf("fail"), [], lookup)
    assert (outcome.result, outcome.disposition) == ("permerror", "none")
    assert "p='maybe'" in outcome.reason


def test_a_txt_record_that_is_not_dmarc1_is_discarded_and_the_parent_asked() -> None:
    # §6.4: "DMARC1" is case-sensitive (%x44 %x4d ...), so "v=dmarc1" is some other record.
    lookup = parent_and_own("v=spf1 -all", "v=dmarc1; p=none")
    found = discover("mail.castle.test", lookup)
    assert (found.name, found.inherited) == ("_dmarc.castle.test", True)
    assert evaluate(FROM_SUB, spf("fail"), [], lookup).disposition == "reject"


def test_an_invalid_sp_is_not_replaced_by_p() -> None:
    # §6.6.3 step 6: an invalid sp makes the record p=none when rua has a valid URI ...
    record = parse_record("v=DMARC1; p=reject; sp=bogus; rua=mailto:d@castle.test")
    assert (record.p, record.sp, record.rua) == ("none", "none", ("mailto:d@castle.test",))
    # ... and no record at all otherwise.
    with pytest.raises(RecordError, match="sp='bogus'"):
        parse_record("v=DMARC1; p=reject; sp=bogus")


def test_an_rua_without_a_valid_uri_does_not_rescue_an_invalid_p() -> None:
    with pytest.raises(RecordError):
        parse_record("v=DMARC1; p=maybe; rua=nowhere")
    assert parse_record("v=DMARC1; p=maybe; rua=nowhere, mailto:d@castle.test").p == "none"


@pytest.mark.parametrize("bad", ["p=X", "p=none; pct=X", "p=none; sp=X", "p=none; X"])
def test_an_invalid_record_is_quoted_in_a_short_excerpt(bad: str) -> None:
    with pytest.raises(RecordError) as error:
        parse_record("v=DMARC1; " + bad.replace("X", "x" * 60_000))
    assert len(str(error.value)) < 150 and "(60,00" in str(error.value)


def test_a_bounce_aligns_through_its_helo_identity() -> None:
    # A null reverse-path: SPF checks postmaster@HELO (RFC 7208 2.4), and that is the
    # MAIL FROM identity DMARC aligns (RFC 7489 3.1.2).  Refusing it lost every bounce from
    # a domain with p=reject.
    bounce = SpfResult(
        "pass", "helo", "192.0.2.1", "postmaster@mx.castle.test", "mx.castle.test", "mx.castle.test"
    )  # type: ignore[arg-type]
    outcome = evaluate(MESSAGE, bounce, [], policy("v=DMARC1; p=reject"))
    assert (outcome.result, outcome.spf_aligned) == ("pass", True)
    elsewhere = SpfResult(
        "pass", "helo", "192.0.2.1", "postmaster@mx.other.test", "mx.other.test", "mx.other.test"
    )  # type: ignore[arg-type]
    assert evaluate(MESSAGE, elsewhere, [], policy("v=DMARC1; p=reject")).result == "fail"
