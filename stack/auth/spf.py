"""SPF (RFC 7208): ``check_host()`` through pyspf, with every DNS query sent to our lookup.

pyspf evaluates the record grammar, the macros and the processing limits (§4.6.4: at most 10
mechanisms and modifiers that query DNS, at most 2 void lookups); we give it DNS answers.
pyspf 2.0.14 has no per-query DNS hook: every query object calls the module global
``spf.DNSLookup``.  :func:`_dispatching_lookup` is installed there once, at import, and sends
each call to the lookup of the evaluation running *in the same context* (a
:class:`contextvars.ContextVar`, so concurrent evaluations in threads or asyncio tasks each
see their own lookup).  Outside an evaluation of ours the call goes to pyspf's own function,
so other users of pyspf in the process are unaffected.  This is the only module that touches
pyspf's globals.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

import dns.exception
import dns.name
import dns.rdata
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.PTR
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.txtbase
import spf as pyspf

from stack.auth.errors import AuthError
from stack.auth.lookup import DnsLookup
from stack.dns.errors import ResolveError

#: RFC 7208 §2.6, in the order §8 lists them.
RESULTS = ("none", "neutral", "pass", "fail", "softfail", "temperror", "permerror")
SpfResultName = Literal["none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"]
Identity = Literal["mailfrom", "helo"]

#: What a ``fail`` says when the domain publishes no ``exp=`` of its own (§6.2).
DEFAULT_EXPLANATION: str = pyspf.EXPLANATIONS["fail"]

#: Seconds one evaluation may spend in DNS in all (§4.6.4 suggests at least 20).
DEFAULT_QUERY_TIME = 20.0

_PyspfAnswer = list[tuple[tuple[str, str], Any]]

_current: ContextVar[DnsLookup | None] = ContextVar("elsinore_spf_lookup", default=None)
_pyspf_own: Callable[..., _PyspfAnswer] = pyspf.DNSLookup


@dataclass(frozen=True)
class SpfResult:
    """The outcome of ``check_host()`` for one identity, with what §9.1 reports about it."""

    result: SpfResultName
    identity: Identity
    ip: str
    sender: str
    helo: str
    domain: str
    explanation: str = ""
    mechanism: str | None = None

    @property
    def passed(self) -> bool:
        return self.result == "pass"


def check_host(
    ip: str,
    sender: str,
    helo: str,
    lookup: DnsLookup,
    *,
    query_time: float = DEFAULT_QUERY_TIME,
) -> SpfResult:
    """Evaluate the MAIL FROM identity, or the HELO identity when the reverse-path is null
    (§2.4: ``postmaster@HELO`` is then the sender)."""
    _check_ip(ip)
    # strict=True is RFC 7208 as written; pyspf's strict=2 adds "ambiguous" verdicts of its own.
    query = pyspf.query(i=ip, s=sender, h=helo, strict=True, querytime=query_time)
    return _evaluate(query, lookup, ip, helo)


def check_helo(ip: str, helo: str, lookup: DnsLookup) -> SpfResult:
    """Evaluate the HELO identity alone (§2.3), as a receiver does before MAIL FROM."""
    return check_host(ip, "", helo, lookup)


def _check_ip(ip: str) -> None:
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise AuthError(f"bad client address {ip!r}: expected an IPv4 or IPv6 address") from None


def _evaluate(query: Any, lookup: DnsLookup, ip: str, helo: str) -> SpfResult:
    with _using(lookup):
        result, _code, explanation = query.check()
    identity: Identity = "helo" if query.ident == "helo" else "mailfrom"
    return SpfResult(
        result=result if result in RESULTS else "permerror",
        identity=identity,
        ip=ip,
        sender=query.s,
        helo=helo,
        domain=str(query.o or ""),
        explanation=str(explanation or ""),
        mechanism=getattr(query, "mechanism", None),
    )


@contextmanager
def _using(lookup: DnsLookup) -> Iterator[None]:
    token = _current.set(lookup)
    try:
        yield
    finally:
        _current.reset(token)


def _dispatching_lookup(name: str, qtype: str, strict: Any = True, timeout: float = 20) -> Any:
    """pyspf's ``DNSLookup`` signature: the current evaluation's lookup, else pyspf's own."""
    lookup = _current.get()
    if lookup is None:
        return _pyspf_own(name, qtype, strict, timeout)
    return pyspf_answer(lookup, name, qtype)


def pyspf_answer(lookup: DnsLookup, name: str, qtype: str) -> _PyspfAnswer:
    """Our records in the shape pyspf's lookups return: ``[((name, TYPE), value), ...]``.

    The lookup has already followed CNAMEs, so every record is filed under the name asked;
    a lookup that got no answer is pyspf's :class:`TempError` (§4.4: temperror).  A name
    that is no DNS name holds no record (§4.3: a malformed domain is "none"), and is never
    asked about: our resolver would refuse it, which pyspf would take for a temperror.
    """
    try:
        dns.name.from_text(name)
    except (dns.exception.DNSException, UnicodeError):
        return []
    try:
        records = lookup.records(name, qtype)
    except ResolveError as exc:
        raise pyspf.TempError(f"DNS {exc}") from None
    return [((name, qtype), value) for value in map(_value, records) if value is not None]


def _value(rdata: dns.rdata.Rdata) -> Any:
    if isinstance(rdata, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA):
        return rdata.address
    if isinstance(rdata, dns.rdtypes.ANY.MX.MX):
        return (rdata.preference, rdata.exchange.to_text(omit_final_dot=True))
    if isinstance(rdata, dns.rdtypes.ANY.PTR.PTR | dns.rdtypes.ANY.CNAME.CNAME):
        return rdata.target.to_text(omit_final_dot=True)
    if isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
        return list(rdata.strings)
    return None


pyspf.DNSLookup = _dispatching_lookup

__all__ = [
    "DEFAULT_EXPLANATION",
    "RESULTS",
    "SpfResult",
    "check_helo",
    "check_host",
    "pyspf_answer",
]
