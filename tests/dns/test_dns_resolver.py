"""The resolver against a hierarchy of our own servers on loopback: root -> test. -> castle.test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from dns_testbed import Hierarchy, ServerThread

from stack.dns.addresses import Endpoint
from stack.dns.blocking import BlockingResolver
from stack.dns.cache import Answer
from stack.dns.errors import ResolveError
from stack.dns.resolver import Resolver
from stack.dns.service import ResolverService

pytestmark = pytest.mark.timeout(30)
CASTLE = dns.name.from_text("castle.test.")


@pytest.fixture
def hierarchy(servers: ServerThread) -> Hierarchy:
    return Hierarchy(servers)


@pytest.fixture
def resolver(hierarchy: Hierarchy) -> Resolver:
    return Resolver(hierarchy.roots, port=hierarchy.port, timeout=1.0, retries=0)


def resolve(resolver: Resolver, name: str, rdtype: str = "A") -> Answer:
    return asyncio.run(resolver.resolve(name, rdtype))


def addresses(answer: Answer) -> list[str]:
    return sorted(rdata.to_text() for rdata in answer.rrset() or ())


def test_recursion_follows_referrals_with_glue_from_the_root(resolver: Resolver) -> None:
    answer = resolve(resolver, "mail.castle.test")
    assert answer.rcode == dns.rcode.NOERROR
    assert addresses(answer) == ["127.0.0.25"]


def test_two_levels_of_delegation(resolver: Resolver) -> None:
    assert addresses(resolve(resolver, "host.sub.castle.test")) == ["127.0.0.41"]


def test_glueless_delegation_resolves_the_name_server_first(resolver: Resolver) -> None:
    assert addresses(resolve(resolver, "host.glueless.test")) == ["127.0.0.40"]


def test_cname_is_chased_across_zones(resolver: Resolver) -> None:
    answer = resolve(resolver, "away.castle.test")
    assert [r.rdtype for r in answer.rrsets] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert answer.canonical_name.to_text() == "host.glueless.test."
    assert addresses(answer) == ["127.0.0.40"]


def test_nxdomain_and_nodata_come_back_with_the_soa(resolver: Resolver) -> None:
    missing = resolve(resolver, "nobody.castle.test")
    empty = resolve(resolver, "mail.castle.test", "MX")
    assert missing.rcode == dns.rcode.NXDOMAIN and missing.negative
    assert empty.rcode == dns.rcode.NOERROR and empty.negative
    for answer in (missing, empty):
        assert [r.rdtype for r in answer.authority] == [dns.rdatatype.SOA]


def test_answers_and_negative_answers_are_cached(resolver: Resolver, servers: ServerThread) -> None:
    resolve(resolver, "mail.castle.test")
    resolve(resolver, "nobody.castle.test")
    resolve(resolver, "mail.castle.test", "MX")
    servers.stop()  # the whole hierarchy goes away: only the cache can answer now
    assert addresses(resolve(resolver, "mail.castle.test")) == ["127.0.0.25"]
    for name, rdtype in [("nobody.castle.test", "A"), ("nobody.castle.test", "TXT")]:
        cached = resolve(resolver, name, rdtype)  # NXDOMAIN covers every type (RFC 2308)
        assert cached.from_cache and cached.rcode == dns.rcode.NXDOMAIN
    nodata = resolve(resolver, "mail.castle.test", "MX")
    assert nodata.from_cache and nodata.negative and nodata.rcode == dns.rcode.NOERROR
    with pytest.raises(ResolveError):
        resolve(resolver, "ns1.castle.test", "TXT")


def test_warm_resolver_asks_the_closest_servers(
    resolver: Resolver, hierarchy: Hierarchy, servers: ServerThread
) -> None:
    resolve(resolver, "mail.castle.test")
    servers.stop(0)  # the root is gone, but castle.test's servers are known
    servers.stop(1)
    assert addresses(resolve(resolver, "ns1.castle.test")) == ["127.0.0.13"]


def test_truncated_answer_is_fetched_again_over_tcp(resolver: Resolver) -> None:
    answer = resolve(resolver, "big.castle.test", "TXT")
    rrset = answer.rrset()
    assert rrset is not None and len(rrset) == 12


def test_silent_servers_time_out_within_the_retry_budget(servers: ServerThread) -> None:
    silent = servers.serve(lambda wire, tcp: [], "127.0.0.1")
    resolver = Resolver(forwarders=[silent, silent], timeout=0.2, retries=1)
    started = time.monotonic()
    with pytest.raises(ResolveError, match="Timeout"):
        resolve(resolver, "castle.test")
    assert 0.7 < time.monotonic() - started < 3.0  # 2 servers x 2 rounds x 0.2 s


def test_a_retry_gets_the_answer_a_lost_datagram_did_not(
    servers: ServerThread, hierarchy: Hierarchy
) -> None:
    castle = hierarchy.primaries["127.0.0.13"]
    seen: list[bytes] = []

    def lossy(wire: bytes, tcp: bool) -> list[bytes]:
        seen.append(wire)
        return [] if len(seen) == 1 else castle.respond(wire, tcp)

    flaky = servers.serve(lossy, "127.0.0.1")
    resolver = Resolver(forwarders=[flaky], timeout=1.0, retries=1)
    assert addresses(resolve(resolver, "mail.castle.test")) == ["127.0.0.25"]
    assert len(seen) == 2


def test_refusing_and_referring_servers_are_skipped_for_the_next(hierarchy: Hierarchy) -> None:
    refusing = Endpoint("127.0.0.14", hierarchy.port)  # sub.castle.test only: REFUSED
    referring = Endpoint("127.0.0.11", hierarchy.port)  # the root: a referral, no recursion
    good = Endpoint("127.0.0.13", hierarchy.port)
    resolver = Resolver(forwarders=[refusing, referring, good], timeout=1.0, retries=0)
    assert addresses(resolve(resolver, "mail.castle.test")) == ["127.0.0.25"]


@pytest.fixture
def resolver_service(servers: ServerThread, resolver: Resolver) -> Iterator[Endpoint]:
    yield servers.serve(ResolverService(resolver), "127.0.0.1")


def test_resolver_served_on_a_socket_answers_recursive_queries(
    resolver_service: Endpoint,
) -> None:
    query = dns.message.make_query("www.castle.test.", "A")
    response = dns.query.udp(query, resolver_service.host, port=resolver_service.port, timeout=5)
    assert response.flags & dns.flags.RA
    assert [r.to_text() for r in response.answer] == [
        "www.castle.test. 300 IN CNAME mail.castle.test.",
        "mail.castle.test. 300 IN A 127.0.0.25",
    ]
    missing = dns.message.make_query("nobody.castle.test.", "A")
    response = dns.query.tcp(missing, resolver_service.host, port=resolver_service.port, timeout=5)
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.authority[0].rdtype == dns.rdatatype.SOA


def test_resolver_service_says_servfail_when_nobody_answers(resolver_service: Endpoint) -> None:
    query = dns.message.make_query("www.example.", "A")
    response = dns.query.udp(query, resolver_service.host, port=resolver_service.port, timeout=5)
    assert response.rcode() == dns.rcode.NXDOMAIN  # the root itself says example. is not there
    query = dns.message.make_query("castle.test.", "AXFR")
    response = dns.query.udp(query, resolver_service.host, port=resolver_service.port, timeout=5)
    assert response.rcode() == dns.rcode.REFUSED


def test_blocking_api_serves_synchronous_callers(resolver: Resolver) -> None:
    with BlockingResolver(resolver) as blocking:
        assert blocking.txt("castle.test") == b"v=spf1 mx -all"
        assert blocking.txt("nobody.castle.test") is None
        exchanges = [r.to_text() for r in blocking.records("castle.test", "MX")]
        assert exchanges == ["10 mail.castle.test."]


def test_records_outside_the_servers_bailiwick_are_not_believed(
    servers: ServerThread, hierarchy: Hierarchy
) -> None:
    castle = hierarchy.primaries["127.0.0.13"]
    forged_a = dns.rrset.from_text("host.glueless.test.", 300, "IN", "A", "192.0.2.66")
    forged_glue = dns.rrset.from_text("ns.test.", 300, "IN", "A", "192.0.2.67")

    def forging(wire: bytes, tcp: bool) -> list[bytes]:
        (reply,) = castle.respond(wire, tcp)
        response = dns.message.from_wire(reply)
        if response.question[0].name.is_subdomain(CASTLE):  # glueless.test stays honest
            response.answer.append(forged_a)  # castle.test's answer speaks for glueless.test
            response.additional.append(forged_glue)  # ...and for the TLD's server
        return [response.to_wire()]

    servers.stop(2)  # castle.test's honest server at 127.0.0.13 ...
    servers.serve(forging, "127.0.0.13", hierarchy.port)  # ... replaced by a forger
    resolver = Resolver(hierarchy.roots, port=hierarchy.port, timeout=1.0, retries=0)
    assert addresses(resolve(resolver, "away.castle.test")) == ["127.0.0.40"]
    assert addresses(resolve(resolver, "ns.test")) == ["127.0.0.12"]
