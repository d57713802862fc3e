"""The authoritative primary's message handling: bytes in, bytes out, never an exception.

:class:`Primary` is the sans-IO core that :mod:`.server` puts behind UDP and TCP sockets (and
that the fuzz target calls directly).  It parses with dnspython, which also verifies TSIG,
dispatches on the opcode to the policies (:mod:`.authority` for queries, :mod:`.update` for
RFC 2136 updates, :mod:`.transfer` for AXFR), and renders the reply within the size the client
can take: 512 octets over UDP without EDNS0, the lesser of the client's EDNS0 payload and ours
with it.  An answer that does not fit is truncated with the TC bit, and the client retries
over TCP (RFC 7766).

Input that is not a DNS query is dropped; a query that cannot be parsed gets FORMERR, one that
fails TSIG gets NOTAUTH, so nothing a client sends can stop the server or make it raise.
"""

from __future__ import annotations

import logging

import dns.exception
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update

from stack.dns.authority import answer
from stack.dns.keys import Keyring
from stack.dns.rendering import (
    OUR_UDP_PAYLOAD,
    header_reply,
    is_query_header,
    rcode_reply,
    render,
)
from stack.dns.replies import ReplyCache
from stack.dns.transfer import transfer_allowed, transfer_messages
from stack.dns.update import apply_update
from stack.dns.zones import ZoneDirectory, ZoneSet

log = logging.getLogger(__name__)

#: What a failed TSIG check raises in dnspython (or a subclass of it: a query whose TSIG
#: carries an error raises one of the ``Peer*`` kinds), and the TSIG error we answer with.
_TSIG_ERRORS: dict[type[Exception], dns.rcode.Rcode] = {
    dns.message.UnknownTSIGKey: dns.rcode.BADKEY,
    dns.tsig.BadKey: dns.rcode.BADKEY,
    dns.tsig.BadAlgorithm: dns.rcode.BADKEY,
    dns.tsig.BadSignature: dns.rcode.BADSIG,
    dns.tsig.BadTime: dns.rcode.BADTIME,
    dns.tsig.PeerError: dns.rcode.BADSIG,
}
_TSIG_FAILURES = tuple(_TSIG_ERRORS)


class Primary:
    """Answers for a set of zones; applies signed updates and writes them back to their files."""

    def __init__(
        self,
        zones: ZoneSet,
        keyring: Keyring | None = None,
        directory: ZoneDirectory | None = None,
        udp_payload: int = OUR_UDP_PAYLOAD,
    ) -> None:
        self.replies = ReplyCache()
        self._zones = zones
        self.keyring: Keyring = dict(keyring or {})
        self.directory = directory
        self.udp_payload = udp_payload
        #: Messages that hit a bug of ours (answered SERVFAIL); the fuzz target wants none.
        self.internal_errors = 0

    @property
    def zones(self) -> ZoneSet:
        return self._zones

    @zones.setter
    def zones(self, zones: ZoneSet) -> None:
        """New zones (a reload or an update): replies rendered from the old ones are void."""
        self._zones = zones
        self.replies.clear()

    @classmethod
    def from_directory(cls, directory: ZoneDirectory, keyring: Keyring | None = None) -> Primary:
        """A primary serving (and writing updates back to) a directory of zone files."""
        return cls(directory.load(), keyring, directory)

    def reload(self) -> None:
        """Re-read the zone directory; on any error the zones being served stay as they were."""
        if self.directory is not None:
            zones = self.directory.load()
            self.zones = ZoneSet(zones.zones, self.zones.silence)

    def respond_datagram(self, wire: bytes) -> bytes | None:
        """The reply to one UDP datagram, or ``None`` to stay silent."""
        replies = self.respond(wire, tcp=False)
        return replies[0] if replies else None

    def respond(self, wire: bytes, tcp: bool = False) -> list[bytes]:
        """The replies to one message (several only for a zone transfer); never raises."""
        try:
            return self._respond(wire, tcp)
        except Exception:  # a bug of ours or dnspython's must not stop the server
            self.internal_errors += 1
            log.exception("internal error answering a %d-octet message", len(wire))
            return header_reply(wire, dns.rcode.SERVFAIL)

    def _respond(self, wire: bytes, tcp: bool) -> list[bytes]:
        if not is_query_header(wire):
            return []
        cached = self.replies.get(wire, tcp)
        if cached is not None:
            return [cached]
        try:
            query = dns.message.from_wire(wire, keyring=self.keyring)
        except _TSIG_FAILURES as failure:
            error = next(e for kind, e in _TSIG_ERRORS.items() if isinstance(failure, kind))
            return _tsig_error_reply(wire, error)
        except (dns.exception.DNSException, ValueError, UnicodeError):
            return header_reply(wire, dns.rcode.FORMERR)
        opcode = query.opcode()
        if opcode == dns.opcode.UPDATE and isinstance(query, dns.update.UpdateMessage):
            return [self._render(self._update(query), tcp)]
        if opcode != dns.opcode.QUERY:
            return [self._render(rcode_reply(query, dns.rcode.NOTIMP), tcp)]
        if len(query.question) != 1:
            return [self._render(rcode_reply(query, dns.rcode.FORMERR), tcp)]
        question = query.question[0]
        if question.rdclass != dns.rdataclass.IN:
            return [self._render(rcode_reply(query, dns.rcode.REFUSED), tcp)]
        if question.rdtype == dns.rdatatype.AXFR:
            return self._transfer(query, tcp)
        if question.rdtype == dns.rdatatype.IXFR:
            return [self._render(rcode_reply(query, dns.rcode.NOTIMP), tcp)]
        response = answer(query, self.zones)
        if response is None:
            return []
        reply = self._render(response, tcp)
        if not query.had_tsig:  # a signed reply carries a time and a MAC: never reusable
            self.replies.put(wire, tcp, reply)
        return [reply]

    def _update(self, message: dns.update.UpdateMessage) -> dns.message.Message:
        if len(message.zone) != 1:
            return rcode_reply(message, dns.rcode.FORMERR)  # RFC 2136 section 3.1.1
        if not message.had_tsig:
            return rcode_reply(message, dns.rcode.REFUSED)
        zone = self.zones.zones.get(message.zone[0].name)
        if zone is None:
            return rcode_reply(message, dns.rcode.NOTAUTH)
        outcome = apply_update(message, zone)
        if outcome.zone is not None:
            if self.directory is not None:
                try:
                    self.directory.write(outcome.zone)
                except OSError as exc:
                    log.error("cannot write zone %s back: %s", zone.origin, exc)
                    return rcode_reply(message, dns.rcode.SERVFAIL)
            self.zones = self.zones.replace(outcome.zone)
            log.info("updated zone %s", zone.origin)
        return rcode_reply(message, outcome.rcode)

    def _transfer(self, query: dns.message.Message, tcp: bool) -> list[bytes]:
        zone = self.zones.zones.get(query.question[0].name)
        if not tcp or not transfer_allowed(query):
            return [self._render(rcode_reply(query, dns.rcode.REFUSED), tcp)]
        if zone is None:
            return [self._render(rcode_reply(query, dns.rcode.NOTAUTH), tcp)]
        replies: list[bytes] = []
        context = None
        for message in transfer_messages(query, zone):
            replies.append(message.to_wire(multi=True, tsig_ctx=context))
            context = message.tsig_ctx
        return replies

    def _render(self, response: dns.message.Message, tcp: bool) -> bytes:
        return render(response, tcp, self.udp_payload)


def _tsig_error_reply(wire: bytes, error: dns.rcode.Rcode) -> list[bytes]:
    """NOTAUTH with an unsigned TSIG record that names the fault (RFC 8945 section 5.2).

    It cannot be signed: the key is unknown or did not verify.  A dnspython client turns it
    into ``PeerBadKey``, ``PeerBadSignature`` or ``PeerBadTime``.
    """
    try:
        query = dns.message.from_wire(wire, keyring=False)  # read the TSIG, do not check it
    except (dns.exception.DNSException, ValueError, UnicodeError):
        return header_reply(wire, dns.rcode.NOTAUTH)
    response = rcode_reply(query, dns.rcode.NOTAUTH)
    if query.tsig is not None:
        rdata = query.tsig[0].replace(mac=b"", error=error, other=b"")
        response.tsig = dns.rrset.from_rdata(query.tsig.name, 0, rdata)
    return [response.to_wire()]
