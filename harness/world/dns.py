"""The world's DNS: a root server, the ``.test`` TLD, each domain's own server, reverse zones.

The hierarchy is the internet's, in miniature: the root zone delegates ``test.`` to the TLD
server and ``in-addr.arpa.`` to the reverse server; the TLD delegates each domain to its own
name server (with glue); the reverse server holds the PTR records of every host, and
delegates our /24 to our own primary, whose reverse zone ``stack init`` wrote.  A resolver
that starts from the root address (``Resolver(roots=[plan.root])``) finds everything, as our
resolver service does.

Each server is a :class:`stack.dns.primary.Primary` behind a
:class:`stack.dns.server.DnsServer`: the same code our domain runs.  Zones are built as text
once everything is declared, at :meth:`WorldDns.start`.
"""

from __future__ import annotations

import dns.name
import dns.reversename

from harness.world.net import AddressPlan, Ports
from stack.dns.addresses import Endpoint
from stack.dns.primary import Primary
from stack.dns.resolver import Resolver
from stack.dns.server import DnsServer
from stack.dns.zones import ZoneSet, zone_from_text

_TTL = 300
_SOA = "@ {ttl} IN SOA {ns}. hostmaster.{ns}. 1 3600 600 86400 {ttl}"


def _soa(ns: str) -> str:
    return _SOA.format(ttl=_TTL, ns=ns.rstrip("."))


class WorldDns:
    """The DNS of one world: declare with :meth:`delegate`, :meth:`serve` and :meth:`pointer`,
    then :meth:`start`; :meth:`resolver` gives a client that recurses from the root."""

    ROOT_NS = "a.root-servers.test"
    TLD_NS = "ns.nic.test"
    REVERSE_NS = "ns.in-addr.arpa"

    def __init__(self, plan: AddressPlan, ports: Ports) -> None:
        self.plan = plan
        self.ports = ports
        #: domain -> (name server's name, its address), delegated from ``test.``.
        self.delegations: dict[str, tuple[str, str]] = {}
        #: address -> zone texts served there (a provider's own name server).
        self.hosted: dict[str, dict[str, str]] = {}
        #: address -> host name, for the PTR records of the reverse server.
        self.pointers: dict[str, str] = {}
        #: reverse zones delegated to a domain's own server: origin -> (ns name, address).
        self.reverse_delegations: dict[str, tuple[str, str]] = {}
        self.servers: list[DnsServer] = []

    # -- declaring ---------------------------------------------------------------------------

    def delegate(self, domain: str, ns_name: str, ns_address: str) -> None:
        """``domain`` is served by ``ns_name`` at ``ns_address`` (a server the world does not
        run: our primary)."""
        self.delegations[domain.lower().rstrip(".")] = (ns_name.rstrip("."), ns_address)

    def serve(self, domain: str, ns_address: str, zone_text: str) -> None:
        """Run an authoritative server for ``domain`` at ``ns_address``, delegated from the
        TLD as ``ns.DOMAIN``; ``zone_text`` is the zone's master file (with its SOA and NS)."""
        domain = domain.lower().rstrip(".")
        self.delegate(domain, f"ns.{domain}", ns_address)
        self.hosted.setdefault(ns_address, {})[domain] = zone_text

    def pointer(self, address: str, name: str) -> None:
        """A PTR record ``address`` -> ``name`` (the forward record is the domain's own)."""
        self.pointers[address] = name.rstrip(".")

    def delegate_reverse(self, network_zone: str, ns_name: str, ns_address: str) -> None:
        """A reverse zone (``10.77.127.in-addr.arpa``) served by a domain's own server."""
        self.reverse_delegations[network_zone.rstrip(".")] = (ns_name.rstrip("."), ns_address)

    # -- the zones -------------------------------------------------------------------------

    def root_zone(self) -> str:
        lines = [
            "$ORIGIN .",
            _soa(self.ROOT_NS),
            f"@ {_TTL} IN NS {self.ROOT_NS}.",
            f"{self.ROOT_NS}. {_TTL} IN A {self.plan.root}",
            f"test. {_TTL} IN NS {self.TLD_NS}.",
            f"{self.TLD_NS}. {_TTL} IN A {self.plan.tld}",
            f"in-addr.arpa. {_TTL} IN NS {self.REVERSE_NS}.",
            f"{self.REVERSE_NS}. {_TTL} IN A {self.plan.reverse}",
        ]
        return "\n".join(lines) + "\n"

    def tld_zone(self) -> str:
        lines = [
            "$ORIGIN test.",
            _soa(self.TLD_NS),
            f"@ {_TTL} IN NS {self.TLD_NS}.",
            f"{self.TLD_NS}. {_TTL} IN A {self.plan.tld}",
        ]
        for domain, (ns_name, address) in sorted(self.delegations.items()):
            lines.append(f"{domain}. {_TTL} IN NS {ns_name}.")
            lines.append(f"{ns_name}. {_TTL} IN A {address}")
        return "\n".join(lines) + "\n"

    def reverse_zone(self) -> str:
        lines = [
            "$ORIGIN in-addr.arpa.",
            _soa(self.REVERSE_NS),
            f"@ {_TTL} IN NS {self.REVERSE_NS}.",
            f"{self.REVERSE_NS}. {_TTL} IN A {self.plan.reverse}",
        ]
        delegated = [dns.name.from_text(zone) for zone in self.reverse_delegations]
        for zone, (ns_name, address) in sorted(self.reverse_delegations.items()):
            lines.append(f"{zone}. {_TTL} IN NS {ns_name}.")
            lines.append(f"{ns_name}. {_TTL} IN A {address}")
        for address, name in sorted(self.pointers.items()):
            pointer = dns.reversename.from_address(address)
            if any(pointer.is_subdomain(zone) for zone in delegated):
                continue  # that domain's own server answers for it
            lines.append(f"{pointer.to_text()} {_TTL} IN PTR {name}.")
        return "\n".join(lines) + "\n"

    # -- running ---------------------------------------------------------------------------

    async def _serve(self, address: str, zones: dict[str, str]) -> None:
        parsed = [zone_from_text(text, origin) for origin, text in zones.items()]
        primary = Primary(ZoneSet({zone.origin: zone for zone in parsed if zone.origin}))
        server = DnsServer(primary.respond, Endpoint(address, self.ports.dns))
        await server.start()
        self.servers.append(server)

    async def start(self) -> None:
        """Start every server: root, TLD, reverse, and each hosted domain's."""
        try:
            await self._serve(self.plan.root, {".": self.root_zone()})
            await self._serve(self.plan.tld, {"test.": self.tld_zone()})
            await self._serve(self.plan.reverse, {"in-addr.arpa.": self.reverse_zone()})
            for address, zones in self.hosted.items():
                await self._serve(address, zones)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for server in self.servers:
            await server.close()
        self.servers.clear()

    def resolver(self) -> Resolver:
        """A client of the world's DNS: recursion from the root, on the world's DNS port."""
        return Resolver(roots=[self.plan.root], port=self.ports.dns)


__all__ = ["WorldDns"]
