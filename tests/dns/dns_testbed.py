"""The DNS tests' test bed: castle.test's zone, and our servers in a background event loop.

Servers run in a thread of their own so a test can query them with blocking dnspython calls,
``kdig`` subprocesses or a :class:`~stack.dns.resolver.Resolver` on another loop.  Everything
binds 127.0.0.0/8 only, on ports the kernel picks.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from stack.dns.addresses import Endpoint
from stack.dns.example import example_zone_text
from stack.dns.hints import format_root_hints
from stack.dns.primary import Primary
from stack.dns.server import DnsServer, Handler
from stack.dns.zones import ZoneSet, zone_from_text

KEY_LINE = "signer:hmac-sha256:c2lnbmVyLXNlY3JldC1mb3ItdGhlLXRlc3RzLW9ubHktMzJieXRlcw=="


def castle_text() -> str:
    """castle.test's master file: every record type the issue names, and one huge RRset."""
    return example_zone_text()


def castle_zone() -> ZoneSet:
    zone = zone_from_text(castle_text(), "castle.test.")
    assert zone.origin is not None
    return ZoneSet({zone.origin: zone})


class ServerThread:
    """An event loop in a daemon thread that our servers run on for the test's duration."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[DnsServer] = []

    def serve(
        self, handler: Handler, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> Endpoint:
        server = DnsServer(handler, Endpoint(host, port), **options)
        future = asyncio.run_coroutine_threadsafe(server.start(), self.loop)
        endpoint = future.result(5)
        self.servers.append(server)
        return endpoint

    def stop(self, server_index: int | None = None) -> None:
        chosen = self.servers if server_index is None else [self.servers[server_index]]
        for server in chosen:
            asyncio.run_coroutine_threadsafe(server.close(), self.loop).result(5)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


ROOT = """\
$TTL 3600
@                   SOA a.root-servers.net. hostmaster.root-servers.net. 1 3600 600 86400 300
@                   NS  a.root-servers.net.
a.root-servers.net. A   127.0.0.11
test.               NS  ns.test.
ns.test.            A   127.0.0.12
"""

TEST_TLD = """\
$TTL 3600
@          SOA ns hostmaster 1 3600 600 86400 300
@          NS  ns
ns         A   127.0.0.12
castle     NS  ns1.castle
ns1.castle A   127.0.0.13
glueless   NS  ns1.castle.test.
"""

GLUELESS = """\
$TTL 300
@    SOA ns1.castle.test. hostmaster.castle.test. 1 3600 600 86400 300
@    NS  ns1.castle.test.
host A   127.0.0.40
"""

SUB = """\
$TTL 300
@    SOA ns hostmaster 1 3600 600 86400 300
@    NS  ns
ns   A   127.0.0.14
host A   127.0.0.41
"""


def zone_set(*zones: tuple[str, str]) -> ZoneSet:
    parsed = [zone_from_text(text, origin) for origin, text in zones]
    return ZoneSet({zone.origin: zone for zone in parsed if zone.origin is not None})


class Hierarchy:
    """A small internet on loopback: root (127.0.0.11) -> test. (.12) -> castle.test. and
    glueless.test. (.13) -> sub.castle.test. (.14), all on one port the kernel picked."""

    def __init__(self, servers: ServerThread) -> None:
        self.primaries = {
            "127.0.0.11": Primary(zone_set((".", ROOT))),
            "127.0.0.12": Primary(zone_set(("test.", TEST_TLD))),
            "127.0.0.13": Primary(
                zone_set(("castle.test.", castle_text()), ("glueless.test.", GLUELESS))
            ),
            "127.0.0.14": Primary(zone_set(("sub.castle.test.", SUB))),
        }
        self.port = 0
        for address, primary in self.primaries.items():
            self.port = servers.serve(primary.respond, address, self.port).port
        self.roots = ["127.0.0.11"]

    def root_hints(self) -> str:
        return format_root_hints({"a.root-servers.net.": "127.0.0.11"})
