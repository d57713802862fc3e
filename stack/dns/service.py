"""The resolver served on a socket, for the stack's other services and for ``dig``.

A client sends an ordinary recursive query; :class:`ResolverService` resolves it with a
:class:`~.resolver.Resolver` and answers with RA set: the answer chain, or the negative
answer's SOA in authority, or SERVFAIL when no server gave a usable answer.
"""

from __future__ import annotations

import logging

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from stack.dns.errors import ResolveError
from stack.dns.rendering import header_reply, is_query_header, rcode_reply, render
from stack.dns.resolver import Resolver

log = logging.getLogger(__name__)

_NOT_RESOLVABLE = (dns.rdatatype.AXFR, dns.rdatatype.IXFR, dns.rdatatype.ANY)


class ResolverService:
    """Answers recursive queries from ``resolver``; plugs into :class:`~.server.DnsServer`."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    async def __call__(self, wire: bytes, tcp: bool) -> list[bytes]:
        """The reply to one query; never raises."""
        try:
            return await self._respond(wire, tcp)
        except Exception:
            log.exception("internal error resolving a %d-octet query", len(wire))
            return header_reply(wire, dns.rcode.SERVFAIL)

    async def _respond(self, wire: bytes, tcp: bool) -> list[bytes]:
        if not is_query_header(wire):
            return []
        try:
            query = dns.message.from_wire(wire)
        except (dns.exception.DNSException, ValueError, UnicodeError):
            return header_reply(wire, dns.rcode.FORMERR)
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            return [render(rcode_reply(query, dns.rcode.NOTIMP), tcp)]
        question = query.question[0]
        if question.rdclass != dns.rdataclass.IN or question.rdtype in _NOT_RESOLVABLE:
            return [render(rcode_reply(query, dns.rcode.REFUSED), tcp)]
        response = dns.message.make_response(query, recursion_available=True)
        try:
            answer = await self.resolver.resolve(question.name, question.rdtype)
        except ResolveError as exc:
            log.info("%s", exc)
            response.set_rcode(dns.rcode.SERVFAIL)
            return [render(response, tcp)]
        response.set_rcode(answer.rcode)
        response.answer = list(answer.rrsets)
        response.authority = list(answer.authority)
        return [render(response, tcp)]
