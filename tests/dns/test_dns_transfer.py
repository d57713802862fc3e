"""AXFR: refused without TSIG, whole and verified with it, over TCP only."""

from __future__ import annotations

from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.xfr
import dns.zone
import pytest
from dns_testbed import ServerThread, castle_text

from stack.dns.addresses import Endpoint
from stack.dns.keys import Keyring
from stack.dns.primary import Primary
from stack.dns.zones import ZoneDirectory, zone_from_text

pytestmark = pytest.mark.timeout(20)


def transfer(server: Endpoint, keyring: Keyring | None) -> dns.zone.Zone:
    zone = dns.zone.Zone("castle.test.", relativize=False)
    query, _ = dns.xfr.make_query(zone, keyring=keyring)
    dns.query.inbound_xfr(server.host, zone, query, port=server.port, timeout=5)
    return zone


def test_axfr_without_tsig_is_refused(castle_server: Endpoint) -> None:
    with pytest.raises(dns.xfr.TransferError) as refused:
        transfer(castle_server, None)
    assert refused.value.rcode == dns.rcode.REFUSED


def test_axfr_with_tsig_returns_the_whole_zone(castle_server: Endpoint, keyring: Keyring) -> None:
    received = transfer(castle_server, keyring)
    assert received == zone_from_text(castle_text(), "castle.test.")


def test_large_zone_transfers_in_several_signed_messages(
    tmp_path: Path, keyring: Keyring, servers: ServerThread
) -> None:
    hosts = "\n".join(f"host{n} A 127.0.{n // 250}.{n % 250 + 1}" for n in range(300))
    (tmp_path / "castle.test.zone").write_text(castle_text() + hosts + "\n", encoding="utf-8")
    primary = Primary.from_directory(ZoneDirectory(tmp_path), keyring)
    query = dns.message.make_query("castle.test.", "AXFR")
    query.use_tsig(keyring)
    assert len(primary.respond(query.to_wire(), tcp=True)) > 1
    endpoint = servers.serve(primary.respond)
    received = transfer(endpoint, keyring)
    assert received == primary.zones.zones[dns.name.from_text("castle.test.")]


def test_axfr_over_udp_is_refused(castle_server: Endpoint, keyring: Keyring) -> None:
    query = dns.message.make_query("castle.test.", "AXFR")
    query.use_tsig(keyring)
    response = dns.query.udp(query, castle_server.host, port=castle_server.port, timeout=5)
    assert response.rcode() == dns.rcode.REFUSED
