"""Turning a response message into the octets one transport can carry.

Shared by the primary and the resolver service: both answer UDP clients within the size they
can take (512 octets without EDNS0, else the lesser of their payload and ours), truncate with
the TC bit past that so the client retries over TCP (RFC 7766), and answer what they cannot
parse with a bare header.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode

#: Our EDNS0 UDP payload: the DNS Flag Day 2020 size that avoids IP fragmentation.
OUR_UDP_PAYLOAD = 1232
#: What a UDP client without EDNS0 can take (RFC 1035 section 4.2.1).
CLASSIC_UDP_PAYLOAD = 512
TCP_MESSAGE_LIMIT = 65535
HEADER_SIZE = 12
#: The opcode's four bits in the header's flags word (RFC 1035 section 4.1.1).
_OPCODE_MASK = 0x7800


def render(response: dns.message.Message, tcp: bool, udp_payload: int = OUR_UDP_PAYLOAD) -> bytes:
    """The wire form of ``response``, truncated (TC set) to what the transport allows."""
    client = CLASSIC_UDP_PAYLOAD
    if response.edns >= 0:
        client = response.request_payload
        response.use_edns(0, response.ednsflags, udp_payload, client)
    limit = TCP_MESSAGE_LIMIT if tcp else max(CLASSIC_UDP_PAYLOAD, min(client, udp_payload))
    return response.to_wire(max_size=limit, prefer_truncation=True)


def is_query_header(wire: bytes) -> bool:
    """At least a header, with QR clear: anything else is dropped unanswered."""
    return len(wire) >= HEADER_SIZE and not wire[2] & 0x80


def rcode_reply(query: dns.message.Message, rcode: dns.rcode.Rcode) -> dns.message.Message:
    """An empty response to ``query`` with ``rcode`` (signed when the query was)."""
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    return response


def header_reply(wire: bytes, rcode: dns.rcode.Rcode) -> list[bytes]:
    """A bare header with ``rcode`` for a query we could not (or would not) parse in full.

    It echoes the id, opcode and RD only, so it is never larger than what it answers and
    cannot serve to amplify a spoofed flood.
    """
    if not is_query_header(wire):
        return []
    reply = dns.message.Message(id=int.from_bytes(wire[:2], "big"))
    opcode_and_rd = int.from_bytes(wire[2:4], "big") & (_OPCODE_MASK | dns.flags.RD)
    reply.flags = dns.flags.QR | opcode_and_rd
    reply.set_rcode(rcode)
    return [reply.to_wire()]
