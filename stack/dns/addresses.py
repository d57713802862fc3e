"""``ADDR:PORT`` endpoints, the form every command and option of the DNS service takes.

DNS glue carries addresses but no ports, so a hierarchy of servers on high ports (the
simulated internet, or tests) needs the port said separately: an :class:`Endpoint` pairs the
two, and :func:`parse_endpoint` accepts ``127.0.0.1:5353``, ``[::1]:5353`` or a bare address
with a default port.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from stack.dns.errors import AddressError

DNS_PORT = 53


@dataclass(frozen=True, order=True)
class Endpoint:
    """One server address: an IP literal and a port."""

    host: str
    port: int = DNS_PORT

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


def parse_endpoint(text: str, default_port: int = DNS_PORT) -> Endpoint:
    """Parse ``ADDR[:PORT]`` (IPv6 in brackets when a port follows)."""
    host, port_text = text.strip(), ""
    if host.startswith("["):
        host, sep, rest = host[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise AddressError(f"bad address {text!r}: expected [IPV6]:PORT")
        port_text = rest[1:]
    elif host.count(":") == 1:
        host, _, port_text = host.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise AddressError(f"bad address {text!r}: expected an IP address, ADDR:PORT") from None
    if not port_text:
        return Endpoint(host, default_port)
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise AddressError(f"bad port in {text!r}: expected 0-65535")
    return Endpoint(host, int(port_text))
