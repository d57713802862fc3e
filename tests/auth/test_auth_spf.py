"""check_host() through our lookup interface: the processing limits of RFC 7208 §4.6.4, the
HELO identity, and pyspf's DNS hook kept per evaluation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import spf as pyspf

from stack.auth import spf
from stack.auth.errors import AuthError
from stack.auth.lookup import StaticLookup

pytestmark = pytest.mark.timeout(30)

IP = "192.0.2.10"


def record(text: str, domain: str = "castle.test") -> StaticLookup:
    return StaticLookup({(domain, "TXT"): [f'"{text}"']})


def test_ten_dns_mechanisms_are_allowed_and_the_eleventh_is_a_permerror() -> None:
    ten = " ".join(f"a:h{n}.castle.test" for n in range(9)) + " a:ok.castle.test"
    lookup = StaticLookup(
        {
            ("castle.test", "TXT"): [f'"v=spf1 {ten} -all"'],
            **{(f"h{n}.castle.test", "A"): ["192.0.2.99"] for n in range(9)},
            ("ok.castle.test", "A"): [IP],
        }
    )
    assert spf.check_host(IP, "a@castle.test", "mx", lookup).result == "pass"
    eleven = StaticLookup(
        {
            ("castle.test", "TXT"): [f'"v=spf1 a:x.castle.test {ten} -all"'],
            ("x.castle.test", "A"): ["192.0.2.98"],
            **{(f"h{n}.castle.test", "A"): ["192.0.2.99"] for n in range(9)},
            ("ok.castle.test", "A"): [IP],
        }
    )
    assert spf.check_host(IP, "a@castle.test", "mx", eleven).result == "permerror"


def test_two_void_lookups_are_allowed_and_the_third_is_a_permerror() -> None:
    two = record("v=spf1 a:v1.castle.test a:v2.castle.test -all")
    three = record("v=spf1 a:v1.castle.test a:v2.castle.test a:v3.castle.test -all")
    assert spf.check_host(IP, "a@castle.test", "mx", two).result == "fail"
    assert spf.check_host(IP, "a@castle.test", "mx", three).result == "permerror"


def test_a_null_sender_checks_the_helo_identity() -> None:
    lookup = record(f"v=spf1 ip4:{IP} -all", domain="mx.castle.test")
    result = spf.check_host(IP, "", "mx.castle.test", lookup)
    assert (result.identity, result.result, result.sender) == (
        "helo",
        "pass",
        "postmaster@mx.castle.test",
    )
    assert spf.check_helo(IP, "mx.castle.test", lookup).result == "pass"


def test_an_unreachable_server_is_a_temperror() -> None:
    lookup = StaticLookup({}, unreachable=["castle.test"])
    assert spf.check_host(IP, "a@castle.test", "mx", lookup).result == "temperror"


def test_a_bad_client_address_is_a_user_error() -> None:
    with pytest.raises(AuthError):
        spf.check_host("192.0.2.300", "a@castle.test", "mx", StaticLookup({}))


@pytest.mark.timeout(60)
def test_concurrent_evaluations_each_ask_their_own_lookup() -> None:
    passing = record(f"v=spf1 ip4:{IP} -all")
    failing = record("v=spf1 -all")

    def evaluate(index: int) -> tuple[int, str]:
        lookup = passing if index % 2 else failing
        return index, spf.check_host(IP, "a@castle.test", "mx", lookup).result

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(evaluate, range(400)))
    assert all(result == ("pass" if index % 2 else "fail") for index, result in outcomes)


def test_outside_our_evaluations_pyspf_keeps_its_own_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(spf, "_pyspf_own", lambda name, *args: asked.append(name) or [])
    assert pyspf.DNSLookup("elsewhere.test", "TXT") == []
    assert asked == ["elsewhere.test"]


@pytest.mark.parametrize(
    "helo", ["bad\u2028helo.test", "a" * 64 + ".castle.test", "a..castle.test"]
)
def test_a_helo_that_is_no_domain_name_has_no_record_not_a_temperror(helo: str) -> None:
    # RFC 7208 4.3: a malformed domain is "none".  The resolver refuses to ask about it
    # (modelled here as no answer); that was a temperror, which a receiver may defer on.
    lookup = StaticLookup({}, unreachable=[helo])
    assert spf.check_host(IP, "", helo, lookup).result == "none"
