"""What an authoritative server answers to a standard query: the policy, with no I/O.

:func:`answer` takes a parsed query and the zones we serve and returns the response message
(or ``None`` when the zone set says the name stays silent).  It follows RFC 1034 section 4.3.2:

- a name outside every zone is REFUSED: we are not a resolver and refuse recursion;
- below a zone cut, a referral: the delegation's NS records in authority, glue in additional;
- a CNAME is followed while its target stays in the same zone (a loop is given as is);
- a missing name is NXDOMAIN and an existing name without the type is NODATA; both carry the
  zone's SOA in authority, with the RFC 2308 negative TTL, so resolvers can cache them apart.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.node
import dns.rcode
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

from stack.dns.zones import ZoneSet
from stack.dns.zones import rrset_of as _rrset

#: Enough for any sane chain; a loop of CNAMEs inside a zone ends here.
MAX_CNAME_CHAIN = 8

_TARGET_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


def answer(query: dns.message.Message, zones: ZoneSet) -> dns.message.Message | None:
    """The response to a one-question QUERY, or ``None`` when it must go unanswered."""
    question = query.question[0]
    qname, qtype = question.name, dns.rdatatype.RdataType.make(question.rdtype)
    if zones.silence(qname, qtype):
        return None
    response = dns.message.make_response(query)
    zone = zones.find(qname)
    if zone is None:
        response.set_rcode(dns.rcode.REFUSED)
        return response
    _answer_from_zone(response, zones, zone, qname, qtype)
    return response


def _answer_from_zone(
    response: dns.message.Message,
    zones: ZoneSet,
    zone: dns.zone.Zone,
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
) -> None:
    name, seen = qname, {qname}
    for _ in range(MAX_CNAME_CHAIN):
        cut = _delegation(zone, name)
        if cut is not None:
            _refer(response, zone, cut)
            return
        response.flags |= dns.flags.AA
        node = zone.get_node(name)
        if node is None:
            if not zones.has_names_below(zone, name):  # else an empty non-terminal
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(zones.negative_soa(zone))
            return
        found = _rrsets_at(node, name, qtype)
        if found:
            response.answer.extend(found)
            _add_targets(response, zone, found)
            return
        cname = node.get_rdataset(zone.rdclass, dns.rdatatype.CNAME)
        if cname is None:
            response.authority.append(zones.negative_soa(zone))
            return
        response.answer.append(_rrset(name, cname))
        target = cname[0].target
        if target in seen or not target.is_subdomain(zone.origin):
            return  # a loop, or another zone's name: the client chases (or gives up)
        seen.add(target)
        name = target
    response.set_rcode(dns.rcode.SERVFAIL)


def _rrsets_at(
    node: dns.node.Node, name: dns.name.Name, qtype: dns.rdatatype.RdataType
) -> list[dns.rrset.RRset]:
    if qtype == dns.rdatatype.ANY:
        return [_rrset(name, rdataset) for rdataset in node.rdatasets]
    return [_rrset(name, r) for r in node.rdatasets if r.rdtype == qtype]


def _delegation(zone: dns.zone.Zone, name: dns.name.Name) -> dns.name.Name | None:
    """The highest zone cut between the apex (exclusive) and ``name`` (inclusive), if any."""
    assert zone.origin is not None
    depth = len(zone.origin)
    for labels in range(depth + 1, len(name) + 1):
        _, candidate = name.split(labels)
        node = zone.get_node(candidate)
        if node is not None and node.get_rdataset(zone.rdclass, dns.rdatatype.NS) is not None:
            return candidate
    return None


def _refer(response: dns.message.Message, zone: dns.zone.Zone, cut: dns.name.Name) -> None:
    ns = zone.find_rdataset(cut, dns.rdatatype.NS)
    response.authority.append(_rrset(cut, ns))
    # Glue is only needed (and only trustworthy) for servers named inside the delegation.
    for rdata in ns:
        if rdata.target.is_subdomain(cut):
            _add_addresses(response, zone, rdata.target)


def _add_targets(
    response: dns.message.Message, zone: dns.zone.Zone, rrsets: list[dns.rrset.RRset]
) -> None:
    """Additional-section processing: the addresses of MX, NS and SRV targets we hold."""
    for rrset in rrsets:
        for rdata in rrset:
            target = getattr(rdata, "exchange", None) or getattr(rdata, "target", None)
            if rrset.rdtype != dns.rdatatype.CNAME and isinstance(target, dns.name.Name):
                _add_addresses(response, zone, target)


def _add_addresses(
    response: dns.message.Message, zone: dns.zone.Zone, target: dns.name.Name
) -> None:
    assert zone.origin is not None
    if not target.is_subdomain(zone.origin):
        return
    node = zone.get_node(target)
    if node is None:
        return
    for rdtype in _TARGET_TYPES:
        rdataset = node.get_rdataset(zone.rdclass, rdtype)
        if rdataset is not None:
            rrset = _rrset(target, rdataset)
            if rrset not in response.additional:
                response.additional.append(rrset)
