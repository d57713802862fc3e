"""RFC 2136 dynamic updates, applied to a copy of a zone: the policy, with no I/O.

:func:`apply_update` checks the prerequisites (section 3.2), prescans the update section
(3.4.1), applies it (3.4.2) through a dnspython transaction on a clone of the zone, and bumps
the SOA serial when anything changed.  It returns the rcode and, on success, the new zone; the
caller persists the zone before serving it, so a failed write leaves the old zone in place.
Authentication (TSIG) is the caller's concern: this module trusts the message it is given.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.transaction
import dns.update
import dns.zone

from stack.dns.zones import clone_zone

#: Types that name operations, not data: they may never be added to a zone.
_META_TYPES = frozenset(
    {dns.rdatatype.ANY, dns.rdatatype.AXFR, dns.rdatatype.IXFR, dns.rdatatype.MAILA}
    | {dns.rdatatype.MAILB, dns.rdatatype.OPT, dns.rdatatype.TSIG}
)
#: The apex records an update must not delete wholesale (RFC 2136 section 3.4.2.3).
_APEX_PROTECTED = (dns.rdatatype.SOA, dns.rdatatype.NS)


@dataclass(frozen=True)
class UpdateOutcome:
    """The rcode for the reply and, when the update succeeded and changed something, the zone."""

    rcode: dns.rcode.Rcode
    zone: dns.zone.Zone | None = None


class _Refusal(Exception):
    """Ends processing with ``rcode``; never escapes this module."""

    def __init__(self, rcode: dns.rcode.Rcode) -> None:
        super().__init__(dns.rcode.to_text(rcode))
        self.rcode = rcode


def apply_update(message: dns.update.UpdateMessage, zone: dns.zone.Zone) -> UpdateOutcome:
    """Apply ``message`` to (a copy of) ``zone``, the zone its zone section names."""
    new = clone_zone(zone)
    try:
        with new.writer() as txn:
            _check_prerequisites(txn, new, message.prerequisite)
            _prescan(new, message.update)
            for rrset in message.update:
                _apply(txn, new, rrset)
            if not txn.changed():
                raise _Refusal(dns.rcode.NOERROR)
            if not any(
                r.rdtype == dns.rdatatype.SOA and r.deleting is None for r in message.update
            ):
                assert new.origin is not None
                txn.update_serial(name=new.origin)
    except _Refusal as refusal:
        return UpdateOutcome(refusal.rcode)
    return UpdateOutcome(dns.rcode.NOERROR, new)


def _in_zone(zone: dns.zone.Zone, name: dns.name.Name) -> None:
    assert zone.origin is not None
    if not name.is_subdomain(zone.origin):
        raise _Refusal(dns.rcode.NOTZONE)


def _check_prerequisites(
    txn: dns.transaction.Transaction, zone: dns.zone.Zone, prerequisites: list[dns.rrset.RRset]
) -> None:
    """RFC 2136 section 3.2, in its order: the first failing prerequisite decides the rcode."""
    expected: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], set[dns.rdata.Rdata]]
    expected = defaultdict(set)
    for rrset in prerequisites:
        _in_zone(zone, rrset.name)
        if rrset.ttl != 0 or rrset.rdclass != zone.rdclass:
            raise _Refusal(dns.rcode.FORMERR)
        existing = None if rrset.rdtype == dns.rdatatype.ANY else txn.get(rrset.name, rrset.rdtype)
        if rrset.deleting == dns.rdataclass.ANY:
            if rrset.rdtype == dns.rdatatype.ANY:
                if not txn.name_exists(rrset.name):
                    raise _Refusal(dns.rcode.NXDOMAIN)
            elif existing is None:
                raise _Refusal(dns.rcode.NXRRSET)
        elif rrset.deleting == dns.rdataclass.NONE:
            if rrset.rdtype == dns.rdatatype.ANY:
                if txn.name_exists(rrset.name):
                    raise _Refusal(dns.rcode.YXDOMAIN)
            elif existing is not None:
                raise _Refusal(dns.rcode.YXRRSET)
        elif rrset.rdtype in _META_TYPES:
            raise _Refusal(dns.rcode.FORMERR)
        else:
            expected[(rrset.name, dns.rdatatype.RdataType.make(rrset.rdtype))].update(rrset)
    for (name, rdtype), rdatas in expected.items():
        existing = txn.get(name, rdtype)
        if existing is None or set(existing) != rdatas:
            raise _Refusal(dns.rcode.NXRRSET)


def _prescan(zone: dns.zone.Zone, updates: list[dns.rrset.RRset]) -> None:
    """RFC 2136 section 3.4.1: reject the whole update before changing anything."""
    for rrset in updates:
        _in_zone(zone, rrset.name)
        if rrset.rdclass != zone.rdclass:
            raise _Refusal(dns.rcode.FORMERR)
        if rrset.deleting is None and rrset.rdtype in _META_TYPES:
            raise _Refusal(dns.rcode.FORMERR)
        if rrset.deleting == dns.rdataclass.NONE and rrset.rdtype in _META_TYPES:
            raise _Refusal(dns.rcode.FORMERR)
        if rrset.deleting == dns.rdataclass.ANY and (
            rrset.rdtype in _META_TYPES - {dns.rdatatype.ANY}
        ):
            raise _Refusal(dns.rcode.FORMERR)


def _apply(txn: dns.transaction.Transaction, zone: dns.zone.Zone, rrset: dns.rrset.RRset) -> None:
    """RFC 2136 section 3.4.2 for one RRset of the update section."""
    at_apex = rrset.name == zone.origin
    if rrset.deleting is None:
        _add(txn, rrset)
    elif rrset.deleting == dns.rdataclass.ANY:
        if rrset.rdtype == dns.rdatatype.ANY:
            node = txn.get_node(rrset.name)
            for rdataset in list(node or ()):
                if not (at_apex and rdataset.rdtype in _APEX_PROTECTED):
                    txn.delete(rrset.name, rdataset.rdtype)
        elif not (at_apex and rrset.rdtype in _APEX_PROTECTED):
            txn.delete(rrset.name, rrset.rdtype)
    else:
        _delete_records(txn, rrset, at_apex)


def _add(txn: dns.transaction.Transaction, rrset: dns.rrset.RRset) -> None:
    cname = txn.get(rrset.name, dns.rdatatype.CNAME)
    if rrset.rdtype == dns.rdatatype.SOA:
        current = txn.get(rrset.name, dns.rdatatype.SOA)
        # An SOA replaces the zone's only when it is at the apex and its serial is newer.
        if current is None or not _serial_newer(rrset[0].serial, current[0].serial):
            return
        txn.replace(rrset.name, dns.rdataset.from_rdata(rrset.ttl, rrset[0]))
        return
    if rrset.rdtype == dns.rdatatype.CNAME:
        node = txn.get_node(rrset.name)
        if node is not None and any(r.rdtype != dns.rdatatype.CNAME for r in node):
            return
        txn.replace(rrset.name, dns.rdataset.from_rdata(rrset.ttl, rrset[0]))
        return
    if cname is not None:
        return
    txn.add(rrset.name, dns.rdataset.from_rdata_list(rrset.ttl, list(rrset)))


def _delete_records(
    txn: dns.transaction.Transaction, rrset: dns.rrset.RRset, at_apex: bool
) -> None:
    if at_apex and rrset.rdtype == dns.rdatatype.SOA:
        return
    existing = txn.get(rrset.name, rrset.rdtype)
    if existing is None:
        return
    doomed = [rdata for rdata in rrset if rdata in existing]
    if not doomed:
        return
    if at_apex and rrset.rdtype == dns.rdatatype.NS and len(doomed) == len(existing):
        doomed = doomed[:-1]  # a zone keeps at least one NS
    if doomed:
        txn.delete(rrset.name, dns.rdataset.from_rdata_list(existing.ttl, doomed))


def _serial_newer(candidate: int, current: int) -> bool:
    """RFC 1982 serial arithmetic: is ``candidate`` after ``current``?"""
    difference = (candidate - current) % 2**32
    return 0 < difference < 2**31
