"""Full zone transfers (AXFR, RFC 5936): who may have one, and the messages that carry it.

A zone holds the DKIM keys and every host name of the domain, so a transfer is allowed only to
a client that signed its request with one of our TSIG keys; everyone else is REFUSED.  The
transfer itself is the apex SOA, every other RRset, and the SOA again, cut into messages of a
bounded number of RRsets so each fits in one TCP frame.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.zone

from stack.dns.zones import rrset_of

#: RRsets a message: far below the 64 KiB frame for the records a mail domain publishes.
RRSETS_PER_MESSAGE = 64


def transfer_allowed(query: dns.message.Message) -> bool:
    """Only a request that carried a valid TSIG (dnspython verified it) may transfer."""
    return bool(query.had_tsig)


def zone_rrsets(zone: dns.zone.Zone) -> Iterator[dns.rrset.RRset]:
    """The transfer's record order: SOA, everything else, SOA."""
    assert zone.origin is not None
    soa = zone.find_rrset(zone.origin, dns.rdatatype.SOA)
    yield soa
    for name, rdataset in zone.iterate_rdatasets():
        if not (name == zone.origin and rdataset.rdtype == dns.rdatatype.SOA):
            yield rrset_of(name, rdataset)
    yield soa


def transfer_messages(query: dns.message.Message, zone: dns.zone.Zone) -> list[dns.message.Message]:
    """The response messages of an AXFR, in order; each is signed when the query was."""
    messages: list[dns.message.Message] = []
    batch: list[dns.rrset.RRset] = []
    for rrset in zone_rrsets(zone):
        batch.append(rrset)
        if len(batch) == RRSETS_PER_MESSAGE:
            messages.append(_message(query, batch))
            batch = []
    if batch:
        messages.append(_message(query, batch))
    return messages


def _message(query: dns.message.Message, rrsets: list[dns.rrset.RRset]) -> dns.message.Message:
    # RFC 5936 section 2.2 lets every message repeat the question; clients expect it.
    response = dns.message.make_response(query)
    response.answer = list(rrsets)
    response.set_rcode(dns.rcode.NOERROR)
    return response
