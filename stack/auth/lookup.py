"""The one door from stack.auth to DNS: a :class:`DnsLookup`, usually our resolver.

Evaluation code takes a lookup as a value, so it is pure over bytes and answers: tests give it
a dict, the stack gives it a :class:`~stack.dns.blocking.BlockingResolver`.  A lookup returns
the records of the asked type at the end of any CNAME chain (empty for NXDOMAIN and NODATA)
and raises :class:`~stack.dns.errors.ResolveError` when no answer came: the "temporary
error" that SPF, DKIM and DMARC all distinguish from "no record".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import dkim as dkimpy
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.txtbase

from stack.dns.addresses import Endpoint
from stack.dns.blocking import BlockingResolver
from stack.dns.errors import ResolveError
from stack.dns.resolver import Resolver


class DnsLookup(Protocol):
    """What stack.auth asks of DNS; :class:`BlockingResolver` has this shape."""

    def records(self, name: str, rdtype: str) -> list[dns.rdata.Rdata]: ...


def txt_strings(lookup: DnsLookup, name: str) -> list[bytes]:
    """Every TXT record at ``name``, each one's strings joined (RFC 7208 3.3, RFC 6376 3.6.2.2)."""
    return [
        b"".join(rdata.strings)
        for rdata in lookup.records(name, "TXT")
        if isinstance(rdata, dns.rdtypes.txtbase.TXTBase)
    ]


def dkim_dnsfunc(
    lookup: DnsLookup, problems: dict[str, str] | None = None
) -> Callable[..., bytes | None]:
    """dkimpy's ``dnsfunc``, for DKIM and ARC alike: the first TXT record at a key name.

    The name is ``s=._domainkey.d=.``, written by whoever wrote the signature, so it is hostile
    text: one that is not printable ASCII or not a DNS name (an empty label, a label over 63
    octets) holds no key.  It is never sent to DNS, and the answer is None, which dkimpy
    reports as a key it could not find: a ``permerror`` of that signature (RFC 6376 §6.1.2),
    not a ``temperror`` that would have the message tried again for ever.  A lookup that got
    no answer raises dkimpy's ``DnsTimeoutError``, which dkimpy reports as a failed signature.

    ``problems``, when given, is told which happened: ``problems["permerror"]`` or
    ``problems["temperror"]`` holds the reason, so a caller can name the right result.
    """
    noted = problems if problems is not None else {}

    def dnsfunc(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = _key_name(name)
        if text is None:
            shown = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
            noted["permerror"] = f"key name {shown.rstrip('.')!r} is not a DNS name"
            return None
        try:
            found = txt_strings(lookup, text)
        except ResolveError as exc:
            noted["temperror"] = f"key lookup failed: {exc}"
            raise dkimpy.DnsTimeoutError(str(exc)) from None
        if not found:
            noted["permerror"] = f"no key for signature at {text.rstrip('.')}"
            return None
        return found[0]

    return dnsfunc


def _key_name(name: bytes | str) -> str | None:
    """``name`` as text if it is printable ASCII and a DNS name, else None."""
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")  # U+FFFD is not ASCII: refused below
    if not name.isascii() or not name.isprintable() or " " in name:
        return None
    try:
        dns.name.from_text(name)
    except dns.exception.DNSException:
        return None
    return name


class StaticLookup:
    """Answers from a table, for tests and offline evaluation: ``{(name, TYPE): [text]}``.

    Names are matched without case or final dot; a name in ``unreachable`` raises
    :class:`ResolveError`, as a server that never answers would.
    """

    def __init__(
        self,
        table: Mapping[tuple[str, str], Sequence[str]],
        unreachable: Sequence[str] = (),
    ) -> None:
        # Parsed once: evaluation code (and the benchmarks) ask the same names many times.
        self._table = {
            (_key(name), rdtype.upper()): [
                dns.rdata.from_text(dns.rdataclass.IN, rdtype, text, dns.name.root)
                for text in texts
            ]
            for (name, rdtype), texts in table.items()
        }
        self._unreachable = {_key(name) for name in unreachable}

    def records(self, name: str, rdtype: str) -> list[dns.rdata.Rdata]:
        key = _key(name)
        if key in self._unreachable:
            raise ResolveError(f"{name} {rdtype}: no answer (unreachable)")
        return list(self._table.get((key, rdtype.upper()), []))


def _key(name: str) -> str:
    return name.lower().rstrip(".")


def resolver_lookup(
    server: Endpoint, *, timeout: float = 2.0, retries: int = 1
) -> BlockingResolver:
    """A caching resolver that forwards to ``server``: the lookup every CLI command uses.

    Close it when done (it owns a thread).
    """
    return BlockingResolver(Resolver(forwarders=[server], timeout=timeout, retries=retries))


__all__ = ["DnsLookup", "StaticLookup", "dkim_dnsfunc", "resolver_lookup", "txt_strings"]
