"""What stack.dns.authority answers, sans-IO: which queries go unanswered, how CNAME chains end
(RFC 1034 4.3.2 step 3a), and additional-section processing for NS and SRV targets
(RFC 1035 3.3.11 and 4.1.4, RFC 2782)."""

from __future__ import annotations

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
from dns_testbed import zone_set

from stack.dns.authority import MAX_CNAME_CHAIN, answer
from stack.dns.zones import ZoneSet

ORIGIN = dns.name.from_text("keep.test.")

KEEP = """\
@     300 SOA ns1 hostmaster 1 3600 600 86400 60
@     300 NS  ns1
ns1   300 A   127.0.0.53
_sip._tcp 300 SRV 10 5 5060 pbx
pbx   300 A   127.0.0.60
a     300 CNAME b
b     300 CNAME c
c     300 CNAME b
"""


def ask(zones: ZoneSet, name: str, rdtype: str) -> dns.message.Message | None:
    return answer(dns.message.make_query(dns.name.from_text(name, ORIGIN), rdtype), zones)


def _chain(length: int) -> str:
    """A zone whose name ``c0`` starts an in-zone chain of ``length`` CNAMEs ending in an A."""
    links = [f"c{i} 300 CNAME c{i + 1}" for i in range(length)]
    return "\n".join([*KEEP.splitlines()[:3], *links, f"c{length} 300 A 127.0.0.1", ""])


def test_silence_is_asked_about_the_name_and_the_type_of_the_question() -> None:
    ns1 = dns.name.from_text("ns1", ORIGIN)
    zones = zone_set(("keep.test.", KEEP))
    quiet = ZoneSet(zones.zones, lambda name, rdtype: (name, rdtype) == (ns1, dns.rdatatype.A))
    assert ask(quiet, "ns1", "A") is None
    response = ask(quiet, "ns1", "AAAA")
    assert response is not None and response.rcode() == dns.rcode.NOERROR


def test_a_cname_loop_not_through_the_query_name_ends_at_the_first_repeat() -> None:
    response = ask(zone_set(("keep.test.", KEEP)), "a", "A")
    assert response is not None and response.rcode() == dns.rcode.NOERROR
    owners = [r.name.to_text() for r in response.answer]
    assert owners == ["a.keep.test.", "b.keep.test.", "c.keep.test."]


def test_a_chain_within_the_limit_is_followed_to_its_end() -> None:
    response = ask(zone_set(("keep.test.", _chain(MAX_CNAME_CHAIN - 1))), "c0", "A")
    assert response is not None and response.rcode() == dns.rcode.NOERROR
    assert response.answer[-1].rdtype == dns.rdatatype.A


def test_a_chain_longer_than_the_limit_is_servfail() -> None:
    response = ask(zone_set(("keep.test.", _chain(MAX_CNAME_CHAIN + 1))), "c0", "A")
    assert response is not None and response.rcode() == dns.rcode.SERVFAIL


def test_ns_and_srv_answers_carry_their_targets_addresses() -> None:
    zones = zone_set(("keep.test.", KEEP))
    for name, rdtype, target in [
        ("@", "NS", "ns1.keep.test."),
        ("_sip._tcp", "SRV", "pbx.keep.test."),
    ]:
        response = ask(zones, name, rdtype)
        assert response is not None
        extra = [(r.name.to_text(), dns.rdatatype.to_text(r.rdtype)) for r in response.additional]
        assert extra == [(target, "A")]
