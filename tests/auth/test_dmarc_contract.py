"""What stack.auth.dmarc promises beyond the main tests: the record grammar of RFC 7489 §6.3
and §6.4 tag by tag, and the reasons a user reads when a record is refused."""

from __future__ import annotations

import re

import pytest
from auth_testbed import FROM_SUB, MESSAGE, dkim, policy, spf

from stack.auth.dmarc import RecordError, aligned, discover, evaluate, parse_record
from stack.auth.lookup import StaticLookup
from stack.auth.psl import SuffixList

pytestmark = pytest.mark.timeout(10)


def refusal(text: str) -> str:
    with pytest.raises(RecordError) as error:
        parse_record(text)
    return str(error.value)


def test_an_empty_tag_between_two_others_is_skipped_not_the_end_of_the_record() -> None:
    # §6.4: dmarc-record is tags separated by ";" with optional white space around it.
    record = parse_record("v=DMARC1; ; p=reject;; pct=50;")
    assert (record.p, record.pct) == ("reject", 50)


def test_a_value_may_hold_an_equals_sign() -> None:
    # §6.2: a DMARC-URI is a URI (RFC 3986), and a mailto: URI may carry ?subject=...
    record = parse_record("v=DMARC1; p=none; rua=mailto:d@castle.test?subject=dmarc")
    assert record.rua == ("mailto:d@castle.test?subject=dmarc",)


def test_report_uris_are_a_comma_separated_list() -> None:
    record = parse_record("v=DMARC1; p=none; rua=mailto:a@castle.test, mailto:b@castle.test")
    assert record.rua == ("mailto:a@castle.test", "mailto:b@castle.test")
    assert parse_record("v=DMARC1; p=none").rua == ()  # rua is optional: no URI when absent


@pytest.mark.parametrize("text", ["", ";", " ; ;", "p=reject; v=DMARC1"])
def test_a_record_that_does_not_start_with_v_is_refused_and_says_so(text: str) -> None:
    # §6.4: "v=DMARC1" must be the first tag; an empty record has no first tag at all.
    assert re.search(r"\bv=DMARC1\b", refusal(text))


def test_pct_takes_every_integer_from_0_to_100() -> None:
    # §6.3: pct is an integer from 0 to 100; 0 is valid (no failing message gets p).
    assert [parse_record(f"v=DMARC1; p=reject; pct={n}").pct for n in (0, 1, 100)] == [0, 1, 100]


def test_a_missing_p_is_quoted_as_empty_not_as_some_value() -> None:
    # The reason quotes what the record holds for the tag it refuses: here nothing.
    quoted = re.search(r"\bp=('[^']*')", refusal("v=DMARC1; adkim=s"))
    assert quoted is not None and quoted.group(1) == "''"


@pytest.mark.parametrize("mode", ["r", "s"])
def test_an_absolute_name_aligns_with_its_relative_form_on_either_side(mode: str) -> None:
    # §3.1 compares domain names; "castle.test." and "castle.test" are one name.
    assert aligned("castle.test", "castle.test.", mode)  # type: ignore[arg-type]
    assert aligned("castle.test.", "castle.test", mode)  # type: ignore[arg-type]


def test_alignment_modes_default_to_relaxed_and_take_only_r_or_s() -> None:
    # §6.3: adkim and aspf are "r" unless the record says "s"; any other value is no record.
    record = parse_record("v=DMARC1; p=none")
    assert (record.adkim, record.aspf) == ("r", "r")
    for bad in ("adkim=x", "aspf=x"):
        reason = refusal(f"v=DMARC1; p=none; {bad}")
        assert re.search(r"\badkim\b", reason) and re.search(r"\baspf\b", reason)


def test_failure_report_uris_are_read_like_aggregate_ones() -> None:
    # §6.3: ruf is a comma-separated list of DMARC-URIs, like rua, and optional.
    record = parse_record("v=DMARC1; p=none; ruf=mailto:f@castle.test, mailto:g@castle.test")
    assert record.ruf == ("mailto:f@castle.test", "mailto:g@castle.test")
    assert parse_record("v=DMARC1; p=none").ruf == ()


@pytest.mark.parametrize(
    "text",
    ["\\011v=DMARC1; p=none", "v=DMARC1\\011; p=none", "vX=DMARC1; p=none", "v=DMARC1X; p=none"],
)
def test_a_record_whose_first_tag_is_not_exactly_v_dmarc1_is_another_record(text: str) -> None:
    # §6.4: dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31, and WSP is
    # space and tab only: a vertical tab (decimal 011 in zone text), or a longer name or
    # version, is some other record, and the organizational domain is asked instead.
    lookup = StaticLookup(
        {
            ("_dmarc.castle.test", "TXT"): ['"v=DMARC1; p=reject"'],
            ("_dmarc.mail.castle.test", "TXT"): [f'"{text}"'],
        }
    )
    found = discover("mail.castle.test", lookup)
    assert (found.name, found.inherited) == ("_dmarc.castle.test", True)


def test_an_absolute_from_domain_is_asked_about_as_its_name() -> None:
    found = discover(
        "castle.test.", StaticLookup({("_dmarc.castle.test", "TXT"): ['"v=DMARC1; p=reject"']})
    )
    assert (found.name, found.inherited) == ("_dmarc.castle.test", False)


def test_a_record_that_is_not_utf_8_is_read_not_an_exception() -> None:
    # TXT strings are octets; a byte that is no UTF-8 (decimal 255 in zone text) cannot
    # stop discovery.
    lookup = StaticLookup(
        {("_dmarc.castle.test", "TXT"): ['"v=DMARC1; p=reject; rua=mailto:\\255@castle.test"']}
    )
    found = discover("castle.test", lookup)
    assert found.record is not None and found.record.p == "reject"


def test_an_unreachable_policy_is_a_temperror_that_names_where_it_asked() -> None:
    found = discover("castle.test", StaticLookup({}, unreachable=["_dmarc.castle.test"]))
    assert (found.record, found.error, found.name) == (None, "temperror", "_dmarc.castle.test")


def test_a_pass_reports_every_aligned_identifier_the_policy_and_no_disposition() -> None:
    # §6.6.2: DMARC passes when SPF or DKIM passes aligned; nothing is done to the message.
    record = parse_record("v=DMARC1; p=reject")
    outcome = evaluate(MESSAGE, spf(), [dkim(), dkim("fail")], policy("v=DMARC1; p=reject"))
    assert (outcome.result, outcome.from_domain, outcome.disposition) == (
        "pass",
        "castle.test",
        "none",
    )
    assert (outcome.policy, outcome.record) == ("reject", record)
    assert (outcome.spf_aligned, outcome.dkim_aligned) == (True, ("castle.test",))
    assert re.search(r"(?<!no )\baligned pass\b", outcome.reason)


def test_a_fail_reports_the_policy_asked_and_no_aligned_identifier() -> None:
    record = parse_record("v=DMARC1; p=quarantine")
    outcome = evaluate(MESSAGE, spf("fail"), [dkim("fail")], policy("v=DMARC1; p=quarantine"))
    assert (outcome.result, outcome.from_domain, outcome.disposition, outcome.policy) == (
        "fail",
        "castle.test",
        "quarantine",
        "quarantine",
    )
    assert (outcome.spf_aligned, outcome.dkim_aligned, outcome.record) == (False, (), record)
    assert re.fullmatch(r"no aligned pass\b", outcome.reason)  # inside the sample: no pct


def test_a_message_at_the_pct_boundary_is_outside_the_sample_and_the_reason_says_so() -> None:
    # §6.6.4: a message is sampled when its number is below pct.
    lookup = policy("v=DMARC1; p=reject; pct=25")
    outcome = evaluate(MESSAGE, spf("fail"), [], lookup, sample=25.0)
    assert outcome.disposition == "quarantine"
    assert "outside pct=25" in outcome.reason


def test_without_a_sample_pct_100_applies_the_policy_and_pct_0_the_milder_one() -> None:
    # §6.3: pct=100 (the default) applies the policy to every failing message; pct=0 to none.
    everyone = evaluate(MESSAGE, spf("fail"), [], policy("v=DMARC1; p=reject"))
    nobody = evaluate(MESSAGE, spf("fail"), [], policy("v=DMARC1; p=reject; pct=0"))
    assert (everyone.disposition, nobody.disposition) == ("reject", "quarantine")


def test_the_from_domains_own_record_applies_p_not_sp() -> None:
    # §6.3: sp is for subdomains that inherit the organizational domain's record.
    outcome = evaluate(MESSAGE, spf("fail"), [], policy("v=DMARC1; p=reject; sp=none"))
    assert (outcome.policy, outcome.disposition) == ("reject", "reject")
    inherited = evaluate(FROM_SUB, spf("fail"), [], policy("v=DMARC1; p=reject; sp=none"))
    assert (inherited.policy, inherited.disposition) == ("none", "none")


@pytest.mark.parametrize(
    "author",
    [b"Players: ophelia@castle.test;", b"ophelia", b"<ophelia@castle.test>, <b@castle.test>"],
)
def test_a_from_that_is_no_single_mailbox_with_a_domain_is_a_permerror(author: bytes) -> None:
    # §6.6.1: the Author Domain is the domain of the single mailbox in From.
    message = MESSAGE.replace(b"Ophelia <ophelia@castle.test>", author)
    outcome = evaluate(message, spf(), [dkim()], policy("v=DMARC1; p=reject"))
    assert (outcome.result, outcome.from_domain) == ("permerror", "")
    assert re.search(r"\bone From author\b", outcome.reason)


def test_no_policy_says_so_and_names_the_last_name_asked() -> None:
    # §6.6.3 step 5: no record at the From domain nor at the organizational domain.
    found = discover("mail.castle.test", StaticLookup({}))
    assert (found.record, found.error, found.name) == (None, None, "_dmarc.castle.test")
    assert re.search(r"\bno DMARC record\b", found.reason)


def test_a_temperror_gives_the_lookups_reason() -> None:
    found = discover("castle.test", StaticLookup({}, unreachable=["_dmarc.castle.test"]))
    assert "_dmarc.castle.test" in found.reason and "no answer" in found.reason


def test_evaluation_discovers_the_policy_with_the_suffix_list_it_is_given() -> None:
    # With a private list that makes castle.test a public suffix, mail.castle.test is its own
    # organizational domain: castle.test's p=reject is not its policy (§6.6.3 step 3).
    private = SuffixList(["test", "castle.test"])
    lookup = policy("v=DMARC1; p=reject")
    assert evaluate(FROM_SUB, spf("fail"), [], lookup).disposition == "reject"
    assert evaluate(FROM_SUB, spf("fail"), [], lookup, suffixes=private).result == "none"


@pytest.mark.parametrize("identifier", ["spf", "dkim"])
def test_relaxed_alignment_uses_the_suffix_list_evaluation_is_given(identifier: str) -> None:
    # §3.1.1: relaxed alignment compares organizational domains, which the list defines; with
    # castle.test a public suffix, castle.test and mail.castle.test are two organizations.
    private = SuffixList(["test", "castle.test"])
    lookup = policy("v=DMARC1; p=reject", at="mail.castle.test")
    spf_result = spf() if identifier == "spf" else spf("fail")
    dkim_results = [dkim()] if identifier == "dkim" else []
    assert evaluate(FROM_SUB, spf_result, dkim_results, lookup).result == "pass"
    alone = evaluate(FROM_SUB, spf_result, dkim_results, lookup, suffixes=private)
    assert (alone.result, alone.disposition) == ("fail", "reject")


def test_strict_dkim_alignment_refuses_a_signature_of_a_subdomain() -> None:
    # §3.1.1: adkim=s asks for the same name; relaxed accepts the organizational domain.
    signed_by_sub = [dkim(domain="mail.castle.test")]
    relaxed = evaluate(MESSAGE, spf("fail"), signed_by_sub, policy("v=DMARC1; p=reject"))
    strict = evaluate(MESSAGE, spf("fail"), signed_by_sub, policy("v=DMARC1; p=reject; adkim=s"))
    assert (relaxed.result, strict.result) == ("pass", "fail")


def test_an_outcome_without_a_policy_still_names_the_from_domain() -> None:
    outcome = evaluate(MESSAGE, spf("fail"), [], StaticLookup({}))
    assert (outcome.result, outcome.from_domain) == ("none", "castle.test")
