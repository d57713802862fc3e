"""Root hints: where recursion starts.

The file has the form of IANA's ``named.root`` (a master file of the root's NS records and
their addresses), so the simulated internet's root can be described the same way as the real
one.  Hints carry no ports; the resolver adds its configured port to every address it learns,
from hints and from glue alike.
"""

from __future__ import annotations

from pathlib import Path

import dns.exception
import dns.name
import dns.rdatatype
import dns.zonefile

from stack.dns.errors import ZoneFileError

_ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


def parse_root_hints(text: str, source: str = "<hints>") -> list[str]:
    """The root servers' addresses named in a hints file, in file order."""
    try:
        rrsets = dns.zonefile.read_rrsets(
            text, rdclass=None, default_ttl=3600000, origin=dns.name.root, relativize=False
        )
    except (dns.exception.DNSException, ValueError) as exc:
        raise ZoneFileError(f"{source}: {exc}") from None
    servers = {rdata.target for r in rrsets if r.rdtype == dns.rdatatype.NS for rdata in r}
    addresses = [
        rdata.address
        for rrset in rrsets
        if rrset.rdtype in _ADDRESS_TYPES and (not servers or rrset.name in servers)
        for rdata in rrset
    ]
    if not addresses:
        raise ZoneFileError(f"{source}: no root server addresses (A or AAAA records)")
    return addresses


def load_root_hints(path: Path) -> list[str]:
    """Read a hints file; an unreadable one raises :class:`ZoneFileError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ZoneFileError(f"{path}: {exc}") from None
    return parse_root_hints(text, str(path))


def format_root_hints(servers: dict[str, str], ttl: int = 3600000) -> str:
    """A hints file for ``{server name: address}``, the form :func:`parse_root_hints` reads."""
    lines = []
    for name, address in servers.items():
        rdtype = "AAAA" if ":" in address else "A"
        lines.append(f". {ttl} IN NS {name}")
        lines.append(f"{name} {ttl} IN {rdtype} {address}")
    return "\n".join(lines) + "\n"
