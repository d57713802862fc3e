"""Knot's kdig and knsupdate against our primary: what they see must be the zone file."""

from __future__ import annotations

import shutil
import subprocess

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
from dns_testbed import KEY_LINE, castle_text

from stack.dns.addresses import Endpoint
from stack.dns.zones import zone_from_text

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        shutil.which("kdig") is None, reason="kdig not installed (Debian: knot-dnsutils)"
    ),
]

ZONE = zone_from_text(castle_text(), "castle.test.")
SUB = dns.name.from_text("sub.castle.test.")
#: kdig's -y form is ALGORITHM:NAME:SECRET; our keys file says NAME:ALGORITHM:SECRET.
_name, _algorithm, _secret = KEY_LINE.split(":")
KDIG_KEY = f"{_algorithm}:{_name}:{_secret}"


def kdig(server: Endpoint, *args: str) -> str:
    command = ["kdig", f"@{server.host}", "-p", str(server.port), "+time=2", "+retry=0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=20, check=True).stdout


def answer_records(output: str) -> set[tuple[str, str, str]]:
    """(name, type, rdata) from kdig's answer lines, rdata in dnspython's canonical text."""
    records = set()
    for line in output.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        name, _ttl, rdclass, rdtype, data = line.split(None, 4)
        rdata = dns.rdata.from_text(rdclass, rdtype, data, dns.name.root, relativize=False)
        records.add((name.lower(), rdtype, rdata.to_text()))
    return records


def zone_records(zone: dns.zone.Zone) -> list[tuple[str, str, set[tuple[str, str, str]]]]:
    served = []
    for name, rdataset in zone.iterate_rdatasets():
        if name.is_subdomain(SUB):
            continue  # delegated: answered by referral, not from this zone
        rdtype = dns.rdatatype.to_text(rdataset.rdtype)
        expected = {(name.to_text(), rdtype, rdata.to_text()) for rdata in rdataset}
        served.append((name.to_text(), rdtype, expected))
    return served


@pytest.mark.parametrize("transport", ["+noignore", "+tcp"], ids=["udp-then-tcp-on-tc", "tcp"])
def test_kdig_sees_every_rrset_of_the_zone_file(castle_server: Endpoint, transport: str) -> None:
    # Over UDP, big.castle.test's TXT RRset comes back truncated and kdig retries over TCP.
    for name, rdtype, expected in zone_records(ZONE):
        output = kdig(castle_server, transport, "+norec", "+noall", "+answer", name, rdtype)
        found = {r for r in answer_records(output) if r[1] == rdtype and r[0] == name}
        assert found == expected, f"{name} {rdtype}"


def test_kdig_nxdomain_and_nodata_show_the_soa(castle_server: Endpoint) -> None:
    missing = kdig(castle_server, "nobody.castle.test", "A")
    assert "status: NXDOMAIN" in missing and "SOA" in missing.split("AUTHORITY SECTION")[1]
    empty = kdig(castle_server, "mail.castle.test", "MX")
    assert "status: NOERROR" in empty and "SOA" in empty.split("AUTHORITY SECTION")[1]


def test_kdig_recursion_outside_our_zones_is_refused(castle_server: Endpoint) -> None:
    assert "status: REFUSED" in kdig(castle_server, "+rec", "example.com", "A")


def test_kdig_axfr_needs_the_tsig_key(castle_server: Endpoint) -> None:
    refused = subprocess.run(
        ["kdig", f"@{castle_server.host}", "-p", str(castle_server.port), "castle.test", "AXFR"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,  # kdig exits non-zero on REFUSED: the outcome is the point
    )
    assert "REFUSED" in refused.stdout + refused.stderr
    transfer = kdig(castle_server, "-y", KDIG_KEY, "+noall", "+answer", "castle.test", "AXFR")
    expected = {r for _name, _type, records in zone_records(ZONE) for r in records}
    received = answer_records(transfer)
    assert expected <= received


def test_knsupdate_with_tsig_changes_what_kdig_sees(castle_server: Endpoint) -> None:
    if shutil.which("knsupdate") is None:
        pytest.skip("knsupdate not installed (Debian: knot-dnsutils)")
    script = (
        f"server {castle_server.host} {castle_server.port}\nzone castle.test.\n"
        "update add knot.castle.test. 300 A 127.0.0.53\nsend\nquit\n"
    )
    subprocess.run(["knsupdate", "-y", KDIG_KEY], input=script, text=True, timeout=20, check=True)
    output = kdig(castle_server, "+noall", "+answer", "knot.castle.test", "A")
    assert answer_records(output) == {("knot.castle.test.", "A", "127.0.0.53")}
