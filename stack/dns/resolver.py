"""A caching resolver: iterative from root hints, or forwarding to a recursive server.

Recursion follows RFC 1034 section 5.3.3: start at the closest zone cut we know (the root
hints at first), ask one of its servers without RD, follow referrals (NS in authority, glue in
additional, or the servers' addresses resolved in turn when there is no glue), and stop at an
answer, a CNAME (chased from the top, at most :data:`MAX_CNAME_CHAIN` links), an NXDOMAIN or a
NODATA.  Answers and negative answers are cached (:mod:`.cache`); so are zone cuts, so a warm
resolver asks the closest servers directly.

Every server is tried in turn with a per-try timeout, ``retries`` rounds over the list; a
truncated UDP answer is asked again over TCP.  Queries carry EDNS0 with our UDP payload.

DNS glue carries no port: every address learnt gets ``ports[address]`` or else ``port``, which
lets a whole hierarchy run on loopback high ports.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from stack.dns.addresses import DNS_PORT, Endpoint
from stack.dns.cache import Answer, Cache
from stack.dns.errors import ResolveError
from stack.dns.rendering import OUR_UDP_PAYLOAD

MAX_CNAME_CHAIN = 12
MAX_REFERRALS = 16
#: How deep resolving a name server's own address may nest before we call it a loop.
MAX_DEPTH = 4
MAX_CUTS = 1_000
_ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)
_USABLE = (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)

NameLike = dns.name.Name | str
TypeLike = dns.rdatatype.RdataType | str | int


@dataclass(frozen=True)
class _Cut:
    """A zone cut learnt from a referral: the zone and where its servers are."""

    zone: dns.name.Name
    servers: tuple[Endpoint, ...]
    expires: float


class Resolver:
    """Resolves names recursively from ``roots``, or through ``forwarders`` when given."""

    def __init__(
        self,
        roots: Sequence[str] = (),
        forwarders: Sequence[Endpoint] = (),
        *,
        port: int = DNS_PORT,
        ports: Mapping[str, int] | None = None,
        timeout: float = 2.0,
        retries: int = 1,
        cache: Cache | None = None,
        udp_payload: int = OUR_UDP_PAYLOAD,
    ) -> None:
        if bool(roots) == bool(forwarders):
            raise ValueError("give either root hints or forwarders, not both or neither")
        self.port = port
        self.ports = dict(ports or {})
        self.roots = tuple(self.endpoint(address) for address in roots)
        self.forwarders = tuple(forwarders)
        self.timeout = timeout
        self.retries = retries
        self.cache = cache if cache is not None else Cache()
        self.udp_payload = udp_payload
        self._cuts: OrderedDict[dns.name.Name, _Cut] = OrderedDict()

    def endpoint(self, address: str) -> Endpoint:
        """Where a server at ``address`` listens: its own port if configured, else ours."""
        return Endpoint(address, self.ports.get(address, self.port))

    async def resolve(self, name: NameLike, rdtype: TypeLike = "A") -> Answer:
        """The answer for ``name``/``rdtype``, with CNAMEs chased; raises :class:`ResolveError`
        when no server gives a usable answer."""
        return await self._resolve(_name(name), dns.rdatatype.RdataType.make(rdtype), 0)

    async def _resolve(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, depth: int
    ) -> Answer:
        chain: list[dns.rrset.RRset] = []
        current, seen, cached = qname, {qname}, True
        for _ in range(MAX_CNAME_CHAIN):
            step = await self._lookup(current, rdtype, depth)
            cached = cached and step.from_cache
            chain.extend(r for r in step.rrsets if r not in chain)
            target = step.canonical_name
            if step.rrset() is not None or target == current or rdtype == dns.rdatatype.CNAME:
                return Answer(qname, rdtype, step.rcode, tuple(chain), step.authority, cached)
            if target in seen:
                raise ResolveError(f"{qname}: CNAME loop at {target}")
            seen.add(target)
            current = target
        raise ResolveError(f"{qname}: CNAME chain longer than {MAX_CNAME_CHAIN}")

    async def _lookup(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, depth: int
    ) -> Answer:
        """One name, no chasing: from the cache, the forwarders, or by following referrals."""
        cached = self.cache.get(qname, rdtype)
        if cached is not None:
            return cached
        if self.forwarders:
            response = await self._exchange(self.forwarders, qname, rdtype, recursion=True)
            return self._remember(_interpret(response, qname, rdtype))
        zone, servers = self._closest_cut(qname)
        for _ in range(MAX_REFERRALS):
            response = await self._exchange(servers, qname, rdtype, recursion=False)
            referral = _referral(response, zone, qname)
            if referral is None:
                return self._remember(_interpret(response, qname, rdtype, zone))
            servers = await self._servers_of(referral, response, zone, depth)
            zone = referral.name
            self._learn_cut(zone, servers, referral.ttl)
        raise ResolveError(f"{qname}: more than {MAX_REFERRALS} referrals")

    def _remember(self, answer: Answer) -> Answer:
        self.cache.put(answer)
        return answer

    def _closest_cut(self, qname: dns.name.Name) -> tuple[dns.name.Name, tuple[Endpoint, ...]]:
        now = time.monotonic()
        name = qname
        while name != dns.name.root:
            cut = self._cuts.get(name)
            if cut is not None and cut.expires > now:
                return cut.zone, cut.servers
            name = name.parent()
        return dns.name.root, self.roots

    def _learn_cut(self, zone: dns.name.Name, servers: tuple[Endpoint, ...], ttl: int) -> None:
        self._cuts[zone] = _Cut(zone, servers, time.monotonic() + ttl)
        self._cuts.move_to_end(zone)
        while len(self._cuts) > MAX_CUTS:
            self._cuts.popitem(last=False)

    async def _servers_of(
        self,
        ns: dns.rrset.RRset,
        response: dns.message.Message,
        zone: dns.name.Name,
        depth: int,
    ) -> tuple[Endpoint, ...]:
        """The delegated servers' endpoints: from glue, else by resolving their names.

        Glue counts only inside the bailiwick of the ``zone`` that gave the referral: a server
        has no say over addresses of names outside it.
        """
        targets = [rdata.target for rdata in ns]
        glue = [
            self.endpoint(rdata.address)
            for rrset in response.additional
            if rrset.rdtype in _ADDRESS_TYPES
            and rrset.name in targets
            and rrset.name.is_subdomain(zone)
            for rdata in rrset
        ]
        if glue:
            return tuple(glue)
        if depth >= MAX_DEPTH:
            raise ResolveError(f"{ns.name}: name servers without glue nest too deep")
        found: list[Endpoint] = []
        for target in targets:
            try:
                answer = await self._resolve(target, dns.rdatatype.A, depth + 1)
            except ResolveError:
                continue
            rrset = answer.rrset()
            found.extend(self.endpoint(rdata.address) for rdata in rrset or ())
        if not found:
            raise ResolveError(f"{ns.name}: no address for any of its name servers")
        return tuple(found)

    async def _exchange(
        self,
        servers: Sequence[Endpoint],
        qname: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        recursion: bool,
    ) -> dns.message.Message:
        """Ask each server in turn, ``retries`` extra rounds; the first usable reply wins."""
        query = dns.message.make_query(qname, rdtype, use_edns=0, payload=self.udp_payload)
        if not recursion:
            query.flags &= ~dns.flags.RD
        failures: list[str] = []
        for _ in range(self.retries + 1):
            for server in servers:
                try:
                    response = await self._ask(query, server)
                except (dns.exception.DNSException, OSError) as exc:
                    failures.append(f"{server}: {exc.__class__.__name__}")
                    continue
                if recursion and _is_referral(response):
                    failures.append(f"{server}: a referral, not recursion")
                elif response.rcode() in _USABLE:
                    return response
                else:
                    failures.append(f"{server}: {dns.rcode.to_text(response.rcode())}")
        detail = "; ".join(failures[-4:]) or "no servers"
        raise ResolveError(f"{qname} {rdtype.name}: no usable answer ({detail})")

    async def _ask(self, query: dns.message.Message, server: Endpoint) -> dns.message.Message:
        response = await dns.asyncquery.udp(
            query, server.host, timeout=self.timeout, port=server.port, ignore_unexpected=True
        )
        if response.flags & dns.flags.TC:
            response = await dns.asyncquery.tcp(
                query, server.host, timeout=self.timeout, port=server.port
            )
        return response


def _name(name: NameLike) -> dns.name.Name:
    if isinstance(name, dns.name.Name):
        return name if name.is_absolute() else name.concatenate(dns.name.root)
    try:
        return dns.name.from_text(name)
    except dns.exception.DNSException as exc:
        raise ResolveError(f"bad name {name!r}: {exc}") from None


def _referral(
    response: dns.message.Message, zone: dns.name.Name, qname: dns.name.Name
) -> dns.rrset.RRset | None:
    """The NS RRset of a referral to a zone below ``zone`` and above ``qname``, if this is one."""
    if response.rcode() != dns.rcode.NOERROR or response.answer:
        return None
    for rrset in response.authority:
        if (
            rrset.rdtype == dns.rdatatype.NS
            and rrset.name != zone
            and rrset.name.is_subdomain(zone)
            and qname.is_subdomain(rrset.name)
        ):
            return rrset
    return None


def _is_referral(response: dns.message.Message) -> bool:
    """A server that does not recurse answers a forwarded query with NS records only."""
    return (
        response.rcode() == dns.rcode.NOERROR
        and not response.answer
        and not any(r.rdtype == dns.rdatatype.SOA for r in response.authority)
        and any(r.rdtype == dns.rdatatype.NS for r in response.authority)
    )


def _interpret(
    response: dns.message.Message,
    qname: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    zone: dns.name.Name = dns.name.root,
) -> Answer:
    """The answer chain a final response holds for ``qname``, or its negative answer.

    Only records inside ``zone``, the zone the server was asked as, are believed; a CNAME
    leading out of it is chased with a query of its own (no cache poisoning by extra records).
    """
    trusted = [rrset for rrset in response.answer if rrset.name.is_subdomain(zone)]
    chain: list[dns.rrset.RRset] = []
    current = qname
    for _ in range(MAX_CNAME_CHAIN):
        found = _find(trusted, current, rdtype)
        if found is not None:
            chain.append(found)
            break
        cname = _find(trusted, current, dns.rdatatype.CNAME)
        if cname is None:
            break
        chain.append(cname)
        current = cname[0].target
    soa = tuple(
        r for r in response.authority if r.rdtype == dns.rdatatype.SOA and r.name.is_subdomain(zone)
    )
    rcode = dns.rcode.Rcode.make(response.rcode())
    answer = Answer(qname, rdtype, rcode, tuple(chain))
    return (
        answer if answer.rrset() is not None else Answer(qname, rdtype, rcode, answer.rrsets, soa)
    )


def _find(
    rrsets: Sequence[dns.rrset.RRset], name: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> dns.rrset.RRset | None:
    for rrset in rrsets:
        if rrset.name == name and rrset.rdtype == rdtype:
            return rrset
    return None
