"""The resolver's cache: answers kept for their TTL, negative answers for the SOA's (RFC 2308).

Entries are whole answers for one (name, type), so a hit costs one dictionary look-up.  An
NXDOMAIN is stored under the name alone: the name does not exist for any type (RFC 2308
section 5).  The cache holds at most ``max_entries`` answers and forgets the least recently
used beyond that, so a flood of random names costs bounded memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

#: Cap on any TTL we honour (RFC 8767 suggests a week at most); keeps bad data from sticking.
MAX_TTL = 7 * 24 * 3600
MAX_ENTRIES = 10_000
#: The key type of an NXDOMAIN entry: no real type, so it never collides with a query for ANY.
_NAME_GONE = -1


@dataclass(frozen=True)
class Answer:
    """What a resolution ended in: the answer chain (CNAMEs first) or a negative answer.

    ``rcode`` is NOERROR or NXDOMAIN; a NOERROR with no RRset of the asked type is NODATA,
    and a negative answer carries the SOA that set its TTL in ``authority``.
    """

    qname: dns.name.Name
    rdtype: dns.rdatatype.RdataType
    rcode: dns.rcode.Rcode
    rrsets: tuple[dns.rrset.RRset, ...] = ()
    authority: tuple[dns.rrset.RRset, ...] = ()
    from_cache: bool = False

    @property
    def canonical_name(self) -> dns.name.Name:
        """The name the CNAME chain ends at (``qname`` when there is none, or for CNAME)."""
        name = self.qname
        if self.rdtype == dns.rdatatype.CNAME:
            return name
        for rrset in self.rrsets:
            if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == name:
                name = rrset[0].target
        return name

    def rrset(self) -> dns.rrset.RRset | None:
        """The RRset of the asked type at the canonical name, or ``None`` (a negative answer)."""
        target = self.canonical_name
        for rrset in self.rrsets:
            if rrset.name == target and rrset.rdtype == self.rdtype:
                return rrset
        return None

    @property
    def negative(self) -> bool:
        return self.rcode == dns.rcode.NXDOMAIN or self.rrset() is None

    def ttl(self) -> int:
        """How long the whole answer may be kept: its shortest TTL, the SOA's for negatives."""
        ttls = [rrset.ttl for rrset in self.rrsets]
        ttls += [min(rrset.ttl, rrset[0].minimum) for rrset in self.authority if len(rrset)]
        # A negative answer without an SOA says nothing about how long it holds: keep it not.
        return min([*ttls, MAX_TTL]) if ttls else 0


@dataclass
class _Entry:
    answer: Answer
    stored: float
    expires: float


class Cache:
    """Answers by (name, type) until their TTL runs out; bounded, least recently used first."""

    def __init__(
        self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[tuple[dns.name.Name, int], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Answer | None:
        """The cached answer with its TTLs counted down, or ``None``."""
        now = self.clock()
        for key in ((qname, _NAME_GONE), (qname, rdtype)):
            entry = self._entries.get(key)
            if entry is None:
                continue
            if entry.expires <= now:
                del self._entries[key]
                continue
            self._entries.move_to_end(key)
            return _aged(entry, now, rdtype)
        return None

    def put(self, answer: Answer) -> None:
        """Keep ``answer`` for its TTL; an NXDOMAIN for the name asked covers all its types."""
        ttl = answer.ttl()
        if ttl <= 0:
            return
        # The name itself is gone only when no CNAME led away from it to the missing name.
        gone = answer.rcode == dns.rcode.NXDOMAIN and not answer.rrsets
        kind = _NAME_GONE if gone else int(answer.rdtype)
        key = (answer.qname, kind)
        now = self.clock()
        self._entries[key] = _Entry(replace(answer, from_cache=True), now, now + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


def _aged(entry: _Entry, now: float, rdtype: dns.rdatatype.RdataType) -> Answer:
    elapsed = int(now - entry.stored)
    return replace(
        entry.answer,
        rdtype=rdtype,
        rrsets=_minus(entry.answer.rrsets, elapsed),
        authority=_minus(entry.answer.authority, elapsed),
    )


def _minus(rrsets: Sequence[dns.rrset.RRset], elapsed: int) -> tuple[dns.rrset.RRset, ...]:
    aged = []
    for rrset in rrsets:
        aged.append(dns.rrset.from_rdata_list(rrset.name, max(0, rrset.ttl - elapsed), list(rrset)))
    return tuple(aged)
