"""The primary's answers, sans-IO: query bytes in, response bytes out, no sockets."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
from dns_testbed import castle_zone, zone_set
from hypothesis import given
from hypothesis import strategies as st

from stack.dns.primary import Primary


@pytest.fixture
def castle() -> Primary:
    return Primary(castle_zone())


def ask(
    primary: Primary, name: str, rdtype: str = "A", tcp: bool = False, **query_options: object
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **query_options)  # type: ignore[arg-type]
    replies = primary.respond(query.to_wire(), tcp=tcp)
    assert len(replies) == 1
    return dns.message.from_wire(replies[0])


def test_answers_are_authoritative_with_additional_addresses(castle: Primary) -> None:
    response = ask(castle, "castle.test.", "MX")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert [r.to_text() for r in response.answer] == ["castle.test. 300 IN MX 10 mail.castle.test."]
    extra = {(r.name.to_text(), dns.rdatatype.to_text(r.rdtype)) for r in response.additional}
    assert extra == {("mail.castle.test.", "A"), ("mail.castle.test.", "AAAA")}


def test_nxdomain_and_nodata_carry_the_soa(castle: Primary) -> None:
    missing = ask(castle, "nobody.castle.test.", "A")
    empty = ask(castle, "mail.castle.test.", "MX")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert empty.rcode() == dns.rcode.NOERROR and not empty.answer
    for response in (missing, empty):
        (soa,) = response.authority
        assert soa.rdtype == dns.rdatatype.SOA
        assert soa.ttl == 60  # RFC 2308: min(SOA TTL, MINIMUM)


def test_empty_non_terminal_is_nodata_not_nxdomain(castle: Primary) -> None:
    response = ask(castle, "deep.castle.test.", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert not response.answer and response.authority[0].rdtype == dns.rdatatype.SOA


def test_cname_is_chased_within_the_zone(castle: Primary) -> None:
    response = ask(castle, "alias.castle.test.", "A")
    chain = [(r.name.to_text(), dns.rdatatype.to_text(r.rdtype)) for r in response.answer]
    assert chain == [
        ("alias.castle.test.", "CNAME"),
        ("www.castle.test.", "CNAME"),
        ("mail.castle.test.", "A"),
    ]


def test_cname_leaving_the_zone_is_given_as_is(castle: Primary) -> None:
    response = ask(castle, "away.castle.test.", "A")
    assert [r.rdtype for r in response.answer] == [dns.rdatatype.CNAME]
    assert response.rcode() == dns.rcode.NOERROR


def test_delegation_is_a_referral_with_glue(castle: Primary) -> None:
    response = ask(castle, "host.sub.castle.test.", "A")
    assert not response.flags & dns.flags.AA
    assert not response.answer
    assert [r.to_text() for r in response.authority] == [
        "sub.castle.test. 300 IN NS ns.sub.castle.test."
    ]
    assert [r.to_text() for r in response.additional] == ["ns.sub.castle.test. 300 IN A 127.0.0.14"]


def test_long_txt_keeps_its_strings(castle: Primary) -> None:
    (rrset,) = ask(castle, "long.castle.test.", "TXT").answer
    assert [len(s) for s in rrset[0].strings] == [255, 100]


@pytest.mark.parametrize("recursion", [True, False])
def test_names_outside_our_zones_are_refused(castle: Primary, recursion: bool) -> None:
    flags = dns.flags.RD if recursion else 0
    response = ask(castle, "example.com.", "A", flags=flags)
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.RA


def test_udp_without_edns_is_truncated_to_512_octets(castle: Primary) -> None:
    query = dns.message.make_query("big.castle.test.", "TXT")
    (wire,) = castle.respond(query.to_wire())
    assert len(wire) <= 512
    assert dns.message.from_wire(wire).flags & dns.flags.TC


def test_edns_payload_sets_the_udp_limit_and_tcp_has_none(castle: Primary) -> None:
    query = dns.message.make_query("big.castle.test.", "TXT", use_edns=0, payload=4096)
    (udp,) = castle.respond(query.to_wire())
    (tcp,) = castle.respond(query.to_wire(), tcp=True)
    assert len(udp) <= 1232 and dns.message.from_wire(udp).flags & dns.flags.TC
    full = dns.message.from_wire(tcp)
    assert not full.flags & dns.flags.TC and len(full.answer[0]) == 12
    assert full.payload == 1232  # what we advertise back


def test_small_answer_over_edns_is_whole(castle: Primary) -> None:
    response = ask(castle, "castle.test.", "TXT", use_edns=0, payload=1232)
    assert not response.flags & dns.flags.TC and response.edns == 0


@pytest.mark.parametrize(
    "wire",
    [b"", b"\x00", b"\x12\x34" + b"\x00" * 9, b"\xff" * 40, bytes(range(256))],
    ids=["empty", "one-octet", "short-header", "ones", "ramp"],
)
def test_garbage_is_dropped_or_formerr(castle: Primary, wire: bytes) -> None:
    for reply in castle.respond(wire):
        response = dns.message.from_wire(reply)
        assert response.rcode() == dns.rcode.FORMERR
        assert len(reply) <= max(len(wire), 12)


def test_responses_are_never_answered(castle: Primary) -> None:
    query = dns.message.make_query("castle.test.", "A")
    response = dns.message.make_response(query)
    assert castle.respond(response.to_wire()) == []


def test_other_classes_and_opcodes_are_declined(castle: Primary) -> None:
    chaos = ask(castle, "version.bind.", "TXT", rdclass=dns.rdataclass.CH)
    assert chaos.rcode() == dns.rcode.REFUSED
    notify = dns.message.make_query("castle.test.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    (wire,) = castle.respond(notify.to_wire())
    assert dns.message.from_wire(wire).rcode() == dns.rcode.NOTIMP


def test_any_returns_every_rrset_at_the_name(castle: Primary) -> None:
    response = ask(castle, "castle.test.", "ANY", tcp=True)
    types = {dns.rdatatype.to_text(r.rdtype) for r in response.answer}
    assert types == {"SOA", "NS", "MX", "TXT"}


def test_cname_loop_is_answered_as_is_not_followed_forever() -> None:
    loop = zone_set(("loop.test.", LOOP))
    response = ask(Primary(loop), "a.loop.test.", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert [r.name.to_text() for r in response.answer] == ["a.loop.test.", "b.loop.test."]


LOOP = """\
@ 300 SOA ns hostmaster 1 3600 600 86400 60
@ 300 NS ns
ns 300 A 127.0.0.1
a 300 CNAME b
b 300 CNAME a
"""


def test_reverse_zone_answers_ptr() -> None:
    reverse = zone_set(("0.0.127.in-addr.arpa.", REVERSE), ("castle.test.", LOOP_FREE_CASTLE))
    response = ask(Primary(reverse), "25.0.0.127.in-addr.arpa.", "PTR")
    assert [r.to_text() for r in response.answer] == [
        "25.0.0.127.in-addr.arpa. 300 IN PTR mail.castle.test."
    ]
    assert response.flags & dns.flags.AA


REVERSE = """\
@  300 SOA ns1.castle.test. hostmaster.castle.test. 1 3600 600 86400 60
@  300 NS  ns1.castle.test.
25 300 PTR mail.castle.test.
"""
LOOP_FREE_CASTLE = """\
@    300 SOA ns1 hostmaster 1 3600 600 86400 60
@    300 NS  ns1
ns1  300 A   127.0.0.13
mail 300 A   127.0.0.25
"""


LABELS = ["mail", "www", "alias", "away", "a", "deep", "sub", "ns", "big", "long", "zz", "*"]
TYPES = ["A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "PTR", "SRV"]
CASTLE = Primary(castle_zone())
CASTLE_ZONE = next(iter(castle_zone()))


@given(
    labels=st.lists(st.sampled_from(LABELS), max_size=3),
    rdtype=st.sampled_from(TYPES),
    edns=st.booleans(),
)
def test_every_reply_is_an_answer_a_referral_or_a_negative_with_the_soa(
    labels: list[str], rdtype: str, edns: bool
) -> None:
    name = dns.name.from_text(".".join([*labels, "castle.test."]))
    query = dns.message.make_query(name, rdtype, use_edns=0 if edns else None)
    (wire,) = CASTLE.respond(query.to_wire(), tcp=True)
    response = dns.message.from_wire(wire)
    sub = dns.name.from_text("sub.castle.test.")
    if name.is_subdomain(sub):
        assert not response.flags & dns.flags.AA
        assert [r.name for r in response.authority] == [sub]
        return
    assert response.flags & dns.flags.AA
    exists = CASTLE_ZONE.get_node(name) is not None
    below = any(other != name and other.is_subdomain(name) for other in CASTLE_ZONE.nodes)
    if response.rcode() == dns.rcode.NXDOMAIN:
        assert not exists and not below
    else:
        assert response.rcode() == dns.rcode.NOERROR and (exists or below)
    final = response.answer[-1] if response.answer else None
    if final is not None and final.rdtype == dns.rdatatype.CNAME and rdtype != "CNAME":
        leaves = not final[0].target.is_subdomain(CASTLE_ZONE.origin)
        assert leaves or response.authority, "an in-zone CNAME was not chased to its end"
    elif final is None:  # NXDOMAIN or NODATA
        assert [r.rdtype for r in response.authority] == [dns.rdatatype.SOA]
