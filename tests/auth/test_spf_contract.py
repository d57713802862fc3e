"""What stack.auth.spf promises beyond the main tests: our DNS answers in the shape pyspf's
own lookups give them, RFC 7208's MX limit, the mechanism reported, and pyspf's own lookup
left as it was outside our evaluations."""

from __future__ import annotations

import dns.rdata
import pytest
import spf as pyspf

from stack.auth import spf
from stack.auth.lookup import StaticLookup
from stack.auth.spf import pyspf_answer

pytestmark = pytest.mark.timeout(10)

LOOKUP = StaticLookup(
    {
        ("castle.test", "MX"): ["10 mx.castle.test."],
        ("castle.test", "A"): ["192.0.2.1"],
        ("castle.test", "TXT"): ['"v=spf1 " "mx -all"'],
        ("1.2.0.192.in-addr.arpa", "PTR"): ["mx.castle.test."],
    }
)


class AbsoluteNames:
    """Records as our resolver gives them: names absolute, with the root's final dot."""

    def records(self, name: str, rdtype: str) -> list[dns.rdata.Rdata]:
        texts = {"MX": "10 mx.castle.test.", "PTR": "mx.castle.test."}
        return [dns.rdata.from_text("IN", rdtype, texts[rdtype], relativize=False)]


def test_names_in_answers_are_written_without_the_final_dot() -> None:
    # pyspf compares names as text without the root's dot (its dnspython lookup writes a
    # PTR target with to_text(omit_final_dot=True)); "mx.castle.test." would be another name.
    assert pyspf_answer(AbsoluteNames(), "castle.test", "MX") == [
        (("castle.test", "MX"), (10, "mx.castle.test"))
    ]
    assert pyspf_answer(AbsoluteNames(), "1.2.0.192.in-addr.arpa", "PTR") == [
        (("1.2.0.192.in-addr.arpa", "PTR"), "mx.castle.test")
    ]


def test_addresses_and_txt_strings_are_given_as_pyspf_reads_them() -> None:
    # An address as text; a TXT record as its list of strings (RFC 7208 §3.3 joins them).
    assert pyspf_answer(LOOKUP, "castle.test", "A") == [(("castle.test", "A"), "192.0.2.1")]
    assert pyspf_answer(LOOKUP, "castle.test", "TXT") == [
        (("castle.test", "TXT"), [b"v=spf1 ", b"mx -all"])
    ]


IP = "192.0.2.10"


def test_more_than_ten_mx_names_are_a_permerror() -> None:
    # RFC 7208 §4.6.4: an "mx" mechanism whose lookup gives more than 10 MX names MUST
    # produce permerror (pyspf checks it only in its strict mode, which we ask for).
    mx = [f"{n} mx{n}.castle.test." for n in range(11)]
    lookup = StaticLookup(
        {
            ("castle.test", "TXT"): ['"v=spf1 mx -all"'],
            ("castle.test", "MX"): mx,
            **{(f"mx{n}.castle.test", "A"): [IP] for n in range(11)},
        }
    )
    assert spf.check_host(IP, "a@castle.test", "mx", lookup).result == "permerror"


def test_the_result_names_the_mechanism_that_matched_and_none_when_none_did() -> None:
    # RFC 7208 §9.1: Received-SPF's mechanism= is the mechanism that matched.
    lookup = StaticLookup({("castle.test", "TXT"): [f'"v=spf1 ip4:{IP} -all"']})
    assert spf.check_host(IP, "a@castle.test", "mx", lookup).mechanism == f"ip4:{IP}"
    nothing = spf.check_host(IP, "a@castle.test", "mx", StaticLookup({}))
    assert (nothing.result, nothing.mechanism, nothing.explanation) == ("none", None, "")


def test_outside_our_evaluations_pyspfs_own_lookup_gets_every_argument_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[object, ...]] = []

    def own(*args: object) -> list[object]:
        asked.append(args)
        return []

    monkeypatch.setattr(spf, "_pyspf_own", own)
    assert pyspf.DNSLookup("elsewhere.test", "MX", 2, 7.5) == []
    assert asked == [("elsewhere.test", "MX", 2, 7.5)]


def test_a_temperror_explains_which_lookup_got_no_answer() -> None:
    # RFC 7208 §9.1: Received-SPF's problem= carries this explanation to the postmaster.
    lookup = StaticLookup({}, unreachable=["castle.test"])
    result = spf.check_host(IP, "a@castle.test", "mx", lookup)
    assert result.result == "temperror"
    assert "castle.test TXT" in result.explanation and "no answer" in result.explanation


def test_with_neither_a_sender_nor_a_helo_there_is_no_domain_and_no_policy() -> None:
    # RFC 7208 §4.3: no domain to check is "none"; the result names no domain of its own.
    result = spf.check_host(IP, "", "", StaticLookup({}))
    assert (result.result, result.domain, result.explanation) == ("none", "", "")


def test_query_time_bounds_the_dns_time_of_one_evaluation() -> None:
    # RFC 7208 §4.6.4: an evaluation may bound its DNS time, and running out is a temperror.
    # A budget of a nanosecond is spent by the first query, so the second is never asked.
    lookup = StaticLookup(
        {
            ("castle.test", "TXT"): ['"v=spf1 a:h.castle.test -all"'],
            ("h.castle.test", "A"): [IP],
        }
    )
    assert spf.check_host(IP, "a@castle.test", "mx", lookup).result == "pass"
    spent = spf.check_host(IP, "a@castle.test", "mx", lookup, query_time=1e-9)
    assert spent.result == "temperror"
