"""Where the simulated internet lives: one loopback address per host, and the ports it uses.

Every host of the world has an address of its own in 127.0.0.0/8 (Linux answers for the
whole /8 on ``lo`` with no set-up), so every MX listens on port 25 and every name server on
53, as on the internet.  Those ports need root; without it the world says so in one line and
moves every service to the same high ports (2525, 5353, ...), still one address per host.

The plan is a function of one /16 (``127.77.0.0/16`` by default), so that two worlds, a test
run's and a user's, do not meet.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from dataclasses import dataclass

from stack.services.init import HIGH_PORTS, PORTS

#: The /16 a world takes its addresses from, unless told otherwise.
DEFAULT_NETWORK = "127.77.0.0/16"


@dataclass(frozen=True)
class Ports:
    """The ports every host of one world uses."""

    smtp: int
    submission: int
    submissions: int
    dns: int

    @property
    def high(self) -> bool:
        return self.smtp != PORTS["smtp"]


STANDARD = Ports(PORTS["smtp"], PORTS["submission"], PORTS["submissions"], PORTS["dns"])
HIGH = Ports(
    HIGH_PORTS["smtp"], HIGH_PORTS["submission"], HIGH_PORTS["submissions"], HIGH_PORTS["dns"]
)


def can_bind(address: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    """Whether this process may bind ``address:port`` (root, or CAP_NET_BIND_SERVICE)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        with contextlib.suppress(OSError):
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except PermissionError:
            return False
        except OSError:
            return True  # taken, not forbidden: the service that binds it says so
    return True


def choose_ports(address: str) -> tuple[Ports, str | None]:
    """The standard ports when ``address`` may bind 25 and 53, else the high ones and the
    one line that says why."""
    if can_bind(address, STANDARD.smtp) and can_bind(address, STANDARD.dns, socket.SOCK_DGRAM):
        return STANDARD, None
    return HIGH, (
        f"cannot bind ports 25 and 53 on {address} (not root): every host of the world "
        f"listens on {HIGH.smtp} (SMTP), {HIGH.submission}/{HIGH.submissions} (submission) "
        f"and {HIGH.dns} (DNS) instead, each on its own address still"
    )


@dataclass(frozen=True)
class AddressPlan:
    """The address of each host of a world, from one /16 of 127.0.0.0/8.

    Each domain gets a /24 of its own (so its reverse zone is a zone of its own): the DNS
    hierarchy ``.0``, ours ``.10``, bigmail ``.20``, outpost ``.30``, and the hosts of
    strangers (a spoofer, a forwarder) ``.40``.
    """

    network: str = DEFAULT_NETWORK

    def __post_init__(self) -> None:
        parsed = ipaddress.ip_network(self.network, strict=True)
        loopback = ipaddress.IPv4Network("127.0.0.0/8")
        if (
            not isinstance(parsed, ipaddress.IPv4Network)
            or parsed.prefixlen != 16
            or not (parsed.subnet_of(loopback))
        ):
            raise ValueError(f"a world needs a /16 of 127.0.0.0/8, not {self.network}")

    def _base(self) -> str:
        return self.network.split("/")[0].rsplit(".", 2)[0]

    def address(self, subnet: int, host: int) -> str:
        return f"{self._base()}.{subnet}.{host}"

    def subnet(self, subnet: int) -> str:
        """A /24 of the plan, as ``stack init --addresses`` takes it."""
        return f"{self._base()}.{subnet}.0/24"

    # The DNS hierarchy.
    @property
    def root(self) -> str:
        return self.address(0, 1)

    @property
    def tld(self) -> str:
        return self.address(0, 2)

    @property
    def reverse(self) -> str:
        """The server of the reverse zones (every /24 but ours, which our primary serves)."""
        return self.address(0, 3)

    @property
    def resolver(self) -> str:
        """A recursive resolver for the world's own clients (the providers, the runner)."""
        return self.address(0, 4)

    # Our domain: the seven addresses `stack init` hands out from this /24.
    @property
    def castle(self) -> str:
        return self.subnet(10)

    def castle_host(self, index: int) -> str:
        return self.address(10, index)

    # The providers: name server, MX, submission, outbound.
    def provider(self, subnet: int) -> dict[str, str]:
        return {
            "ns": self.address(subnet, 1),
            "mx": self.address(subnet, 2),
            "smtp": self.address(subnet, 3),
            "out": self.address(subnet, 4),
        }

    def stranger(self, host: int) -> str:
        return self.address(40, host)


__all__ = [
    "DEFAULT_NETWORK",
    "HIGH",
    "STANDARD",
    "AddressPlan",
    "Ports",
    "can_bind",
    "choose_ports",
]
