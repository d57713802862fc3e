"""``elsinore stack init``: a stack directory that runs as it is.

What it writes, all under DIR::

    stack.toml              the topology: one table per service (see stack.config)
    zones/DOMAIN.zone       SOA, NS, MX, SPF, DMARC, an A record per service
    zones/REVERSE.zone      PTR records for the addresses used (forward-confirmed)
    keys/tsig.keys          the signer's TSIG key, NAME:hmac-sha256:BASE64 (the seed's
                            NAME:SHA256:BASE64 form is read too)
    keys/dkim-rsa.key/.txt  the DKIM keys (RSA 2048 and Ed25519) and their records
    keys/dkim-ed25519.key/.txt
    keys/srs.secrets        the relay's SRS secret (the first line signs)
    tls/ca.crt, ca.key      a local CA, and a certificate per SMTP service
    tls/NAME.crt, NAME.key
    users/                  the users and aliases: one JSON record each (`elsinore user add`)
    spam.db                 an empty spam database (every verdict "unknown" until trained)
    spool/                  the services' spools

Each service gets an address of its own from ``--addresses``, in :data:`SERVICES` order, as
the seed gives each unikernel its own, and listens on its standard port: 53, 25, 587 and 465.
Those ports need root; ``--high-ports`` uses 5353, 2525, 5587 and 4465 instead.

The DKIM records are not in the zone: the signer publishes them through the primary with a
TSIG-signed update when it starts, as the seed's signer does, so the same path serves a key
changed later.  Secrets are written with mode 0600.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.name
import dns.reversename
import dns.tsig

from stack.auth import keys as dkim_keys
from stack.auth.publish import selector_name, zone_line
from stack.config import CONFIG_NAME, toml_table
from stack.dns.addresses import Endpoint
from stack.dns.keys import format_key
from stack.errors import ElsinoreError
from stack.smtp.tls import LocalAuthority
from stack.spam.stores import open_store

#: The addresses of the range each service takes, in this order.
ADDRESS_ORDER = ("dns", "resolver", "submission", "signer", "verifier", "spamfilter", "relay")

#: Standard ports, and the unprivileged ones of ``--high-ports``.
PORTS = {"dns": 53, "smtp": 25, "submission": 587, "submissions": 465}
HIGH_PORTS = {"dns": 5353, "smtp": 2525, "submission": 5587, "submissions": 4465}

#: Each service's host name, under the domain; the MX and submission have the usual names.
HOST_NAMES = {"verifier": "mx", "submission": "smtp", "dns": "ns"}

TSIG_KEY_NAME = "signer._update"


class InitError(ElsinoreError):
    """The stack directory cannot be written as asked."""


@dataclass(frozen=True)
class Layout:
    """Where each service of a new stack listens: its address and host name."""

    domain: str
    addresses: dict[str, str]
    ports: dict[str, int]

    def host(self, service: str) -> str:
        return f"{HOST_NAMES.get(service, service)}.{self.domain}"

    def endpoint(self, service: str, kind: str = "smtp") -> Endpoint:
        return Endpoint(self.addresses[service], self.ports[kind])


def plan(domain: str, network: str, *, high_ports: bool = False) -> Layout:
    """Give each service an address of ``network``; raises :class:`InitError`."""
    try:
        name = dns.name.from_text(domain)
    except dns.exception.DNSException as exc:
        raise InitError(f"--domain {domain!r}: not a domain name: {exc}") from None
    if len(name.labels) < 3:
        raise InitError(f"--domain {domain!r}: give a domain with at least two labels")
    try:
        hosts = list(_first_hosts(ipaddress.ip_network(network, strict=False), len(ADDRESS_ORDER)))
    except ValueError as exc:
        raise InitError(f"--addresses {network!r}: {exc}") from None
    if len(hosts) < len(ADDRESS_ORDER):
        raise InitError(
            f"--addresses {network!r}: needs at least {len(ADDRESS_ORDER)} host addresses, "
            "one per service"
        )
    return Layout(
        domain=name.to_text(omit_final_dot=True).lower(),
        addresses=dict(zip(ADDRESS_ORDER, map(str, hosts), strict=True)),
        ports=HIGH_PORTS if high_ports else PORTS,
    )


def _first_hosts(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, count: int
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    hosts = []
    for host in network.hosts():
        hosts.append(host)
        if len(hosts) == count:
            break
    return hosts


def _private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _reverse_zone(addresses: Sequence[str]) -> dns.name.Name:
    """The reverse zone holding every address: the longest common whole-octet (or, for
    IPv6, whole-nibble) prefix of their reverse names."""
    names = [dns.reversename.from_address(address) for address in addresses]
    common = names[0]
    for name in names[1:]:
        while not name.is_subdomain(common):
            common = common.parent()
    if common == names[0]:
        common = common.parent()
    return common


def zone_texts(layout: Layout) -> dict[str, str]:
    """The forward and reverse zone files, by origin."""
    domain = layout.domain
    serial = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d01")
    soa = f"@ 3600 IN SOA {layout.host('dns')}. hostmaster.{domain}. {serial} 3600 600 604800 300"
    forward = [
        f"$ORIGIN {domain}.",
        soa,
        f"@ 3600 IN NS {layout.host('dns')}.",
        f"@ 3600 IN MX 10 {layout.host('verifier')}.",
        # The relay is the only service that sends to the world.
        f'@ 3600 IN TXT "v=spf1 ip4:{layout.addresses["relay"]} -all"',
        f'_dmarc 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:postmaster@{domain}"',
    ]
    version = "AAAA" if ":" in layout.addresses["dns"] else "A"
    for service in ADDRESS_ORDER:
        forward.append(
            f"{HOST_NAMES.get(service, service)} 3600 IN {version} {layout.addresses[service]}"
        )
    reverse_origin = _reverse_zone(list(layout.addresses.values()))
    reverse = [
        f"$ORIGIN {reverse_origin.to_text()}",
        soa,
        f"@ 3600 IN NS {layout.host('dns')}.",
    ]
    for service in ADDRESS_ORDER:
        pointer = dns.reversename.from_address(layout.addresses[service])
        relative = pointer.relativize(reverse_origin).to_text()
        reverse.append(f"{relative} 3600 IN PTR {layout.host(service)}.")
    return {
        domain: "\n".join(forward) + "\n",
        reverse_origin.to_text(omit_final_dot=True): "\n".join(reverse) + "\n",
    }


def initialise(
    directory: Path,
    layout: Layout,
    *,
    smarthost: Endpoint | None = None,
    postmaster: str | None = None,
    roots: Sequence[str] = (),
) -> Path:
    """Write a working stack directory (see the module); returns the ``stack.toml`` path.

    ``roots``: the resolver recurses from these root servers; without them it asks our own
    primary only, which knows our domain and nothing else (enough with ``smarthost``).
    """
    config = directory / CONFIG_NAME
    if config.exists():
        raise InitError(f"{config}: exists already; not overwritten")
    for sub in ("zones", "keys", "tls", "users", "spool"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    domain = layout.domain
    for origin, text in zone_texts(layout).items():
        (directory / "zones" / f"{origin}.zone").write_text(text, encoding="ascii")

    tsig = dns.tsig.Key(f"{TSIG_KEY_NAME}.{domain}", secrets.token_bytes(32), "hmac-sha256")
    _private(directory / "keys" / "tsig.keys", (format_key(tsig) + "\n").encode("ascii"))
    month = datetime.datetime.now(datetime.UTC).strftime("%Y%m")
    selectors = {"rsa": f"rsa{month}", "ed25519": f"ed{month}"}
    for algorithm in ("rsa", "ed25519"):
        key = dkim_keys.generate(algorithm)
        line = zone_line(selector_name(selectors[algorithm], domain), key.record())
        dkim_keys.write(key, directory / "keys" / f"dkim-{algorithm}", line)
    srs = base64.b64encode(secrets.token_bytes(24)).decode("ascii")
    _private(directory / "keys" / "srs.secrets", f"{srs}\n".encode("ascii"))

    authority = LocalAuthority(f"Elsinore local CA for {domain}", days=3650)
    authority.write(directory / "tls" / "ca.crt")
    _private(directory / "tls" / "ca.key", authority.key_pem)
    for service in ("submission", "signer", "verifier", "spamfilter", "relay"):
        # The address too: the hops reach each other by address, and verify what they reach.
        names = dict.fromkeys(
            [layout.host(service), f"{service}.{domain}", layout.addresses[service]]
        )
        authority.issue(list(names), days=825).write(directory / "tls", service)

    open_store(directory / "spam.db").close()
    config.write_text(_config_text(layout, smarthost, postmaster, roots, selectors), "utf-8")
    return config


def _config_text(
    layout: Layout,
    smarthost: Endpoint | None,
    postmaster: str | None,
    roots: Sequence[str],
    selectors: dict[str, str],
) -> str:
    def at(service: str, kind: str = "smtp") -> str:
        return str(layout.endpoint(service, kind))

    domain = layout.domain
    dns_at = at("dns", "dns")
    resolver: dict[str, object] = {"listen": [at("resolver", "dns")]}
    if roots:
        resolver["roots"] = list(roots)
        resolver["root_port"] = layout.ports["dns"]
    else:
        resolver["forwarders"] = [dns_at]
    tables = [
        toml_table(
            "",
            {"domain": domain, "postmaster": postmaster},
            {
                "postmaster": "Where mail for postmaster goes when users/ has no postmaster "
                "record (RFC 5321 4.5.1: it must always work)."
            },
        ),
        toml_table("dns", {"listen": [dns_at], "zones": "zones", "keys": "keys/tsig.keys"}, {}),
        toml_table(
            "resolver",
            resolver,
            {"forwarders": "Ask these servers; `roots = [...]` recurses from root servers."},
        ),
        toml_table(
            "submission",
            {
                "hostname": layout.host("submission"),
                "listen": [at("submission", "submission")],
                "listen_tls": [at("submission", "submissions")],
                "forward": at("signer"),
            },
            {"listen_tls": "Implicit TLS (RFC 8314); `listen` offers STARTTLS."},
        ),
        toml_table(
            "signer",
            {
                "hostname": layout.host("signer"),
                "listen": [at("signer")],
                "forward": at("relay"),
                "rsa_selector": selectors["rsa"],
                "rsa_key": "keys/dkim-rsa.key",
                "ed25519_selector": selectors["ed25519"],
                "ed25519_key": "keys/dkim-ed25519.key",
                "tsig_key": f"{TSIG_KEY_NAME}.{domain}",
            },
            {"rsa_key": 'Or `key_seed = "BASE64"`: both keys derived from 32 bytes.'},
        ),
        toml_table(
            "verifier",
            {
                "hostname": layout.host("verifier"),
                "listen": [at("verifier")],
                "forward": at("spamfilter"),
                "authserv_id": domain,
            },
            {},
        ),
        toml_table(
            "spamfilter",
            {
                "hostname": layout.host("spamfilter"),
                "listen": [at("spamfilter")],
                "forward": at("relay"),
                "database": "spam.db",
            },
            {"database": "A SQLite file (retrain into a new file and rename it), or redis://."},
        ),
        toml_table(
            "relay",
            {
                "hostname": layout.host("relay"),
                "listen": [at("relay")],
                "smarthost": str(smarthost) if smarthost is not None else None,
                "srs_secrets": "keys/srs.secrets",
                "arc": True,
                # Every MX of a world on high ports listens on the same high port.
                "mx_port": layout.ports["smtp"] if layout.ports["smtp"] != 25 else None,
            },
            {
                "smarthost": "Deliver everything here instead of by MX.",
                "mx_port": "The port MX hosts are reached on (25 unless the world runs high).",
            },
        ),
    ]
    header = (
        f"# Elsinore: the mail domain {domain}, as `elsinore stack init` wrote it.\n"
        "# Paths are relative to this folder.  `elsinore stack up` reads it at start.\n\n"
    )
    return header + "\n".join(tables)


__all__ = [
    "ADDRESS_ORDER",
    "InitError",
    "Layout",
    "initialise",
    "plan",
    "zone_texts",
]
