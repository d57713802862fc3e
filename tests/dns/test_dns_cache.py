"""The resolver's cache: TTLs count down, negatives last the SOA MINIMUM, size is bounded."""

from __future__ import annotations

import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
from hypothesis import given
from hypothesis import strategies as st

from stack.dns.cache import Answer, Cache

NAME = dns.name.from_text("mail.castle.test.")
A = dns.rdatatype.A
SOA = dns.rrset.from_text(
    "castle.test.", 300, "IN", "SOA", "ns1.castle.test. hostmaster.castle.test. 1 3600 600 86400 60"
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def positive(ttl: int = 300, name: dns.name.Name = NAME) -> Answer:
    rrset = dns.rrset.from_text(name, ttl, "IN", "A", "127.0.0.25")
    return Answer(name, A, dns.rcode.NOERROR, (rrset,))


def test_ttls_count_down_and_the_entry_expires() -> None:
    clock = Clock()
    cache = Cache(clock=clock)
    cache.put(positive(ttl=300))
    clock.now += 100
    hit = cache.get(NAME, A)
    assert hit is not None and hit.from_cache
    assert hit.rrsets[0].ttl == 200
    clock.now += 200
    assert cache.get(NAME, A) is None


def test_negative_answers_last_the_soa_minimum() -> None:
    clock = Clock()
    cache = Cache(clock=clock)
    cache.put(Answer(NAME, dns.rdatatype.MX, dns.rcode.NOERROR, (), (SOA,)))
    clock.now += 59
    nodata = cache.get(NAME, dns.rdatatype.MX)
    assert nodata is not None and nodata.negative
    assert cache.get(NAME, A) is None  # NODATA is for that type only
    clock.now += 1
    assert cache.get(NAME, dns.rdatatype.MX) is None


def test_nxdomain_covers_every_type_at_the_name() -> None:
    cache = Cache(clock=Clock())
    cache.put(Answer(NAME, A, dns.rcode.NXDOMAIN, (), (SOA,)))
    for rdtype in (A, dns.rdatatype.TXT, dns.rdatatype.ANY):
        hit = cache.get(NAME, rdtype)
        assert hit is not None and hit.rcode == dns.rcode.NXDOMAIN and hit.rdtype == rdtype


def test_negative_answer_without_soa_is_not_cached() -> None:
    cache = Cache(clock=Clock())
    cache.put(Answer(NAME, A, dns.rcode.NXDOMAIN))
    assert cache.get(NAME, A) is None


@given(st.lists(st.integers(0, 5_000), max_size=300), st.integers(1, 50))
def test_cache_never_holds_more_than_its_bound(labels: list[int], bound: int) -> None:
    cache = Cache(max_entries=bound, clock=Clock())
    for label in labels:
        cache.put(positive(name=dns.name.from_text(f"h{label}.castle.test.")))
        assert len(cache) <= bound
    if labels:  # the most recent is always kept
        assert cache.get(dns.name.from_text(f"h{labels[-1]}.castle.test."), A) is not None


def test_cname_to_a_missing_name_does_not_make_the_alias_vanish() -> None:
    cache = Cache(clock=Clock())
    cname = dns.rrset.from_text(NAME, 300, "IN", "CNAME", "gone.castle.test.")
    cache.put(Answer(NAME, A, dns.rcode.NXDOMAIN, (cname,), (SOA,)))
    assert cache.get(NAME, dns.rdatatype.CNAME) is None  # not "NXDOMAIN for every type"
    hit = cache.get(NAME, A)
    assert hit is not None and hit.rrsets == (cname,)
