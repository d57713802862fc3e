"""Verification of anything returns a result from its documented set, never an exception.

The messages are ``harness.strategies.auth``'s: a message really signed (DKIM, ed25519) and
sealed twice (ARC, RSA) by castle.test with one tag rewritten, or hostile signatures and ARC
sets put on top.  The records are hostile SPF and DMARC policies, published by TSIG update
to castle.test's primary; every lookup goes through our resolver over loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.update
import pytest
from auth_testbed import DOMAIN, MESSAGE, serve_castle, signing_key, tsig_key
from dns_testbed import ServerThread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.strategies import hostile_text
from harness.strategies.auth import dmarc_records, hostile_messages, spf_records
from stack.auth import arc, dkim, dmarc, inbound, publish, spf
from stack.auth.lookup import resolver_lookup
from stack.dns.addresses import Endpoint
from stack.mime import parse

pytestmark = pytest.mark.timeout(300)

DKIM_RESULTS = {"pass", "fail", "neutral", "temperror", "permerror"}
DMARC_RESULTS = {"pass", "fail", "none", "temperror", "permerror"}
ARC_RESULTS = {"none", "pass", "fail"}
MX_IP = "127.0.0.25"
SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def castle() -> Iterator[Endpoint]:
    """castle.test's primary with the test keys published: s1 (ed25519) and arc (RSA)."""
    thread = ServerThread()
    try:
        server = serve_castle(thread)
        publish.publish(server, DOMAIN, "s1", DOMAIN, signing_key("ed25519").record(), tsig_key())
        publish.publish(server, DOMAIN, "arc", DOMAIN, signing_key("rsa").record(), tsig_key())
        yield server
    finally:
        thread.close()


def _forwarded(message: bytes, lookup: inbound.DnsLookup, relay: str) -> bytes:
    verdict = inbound.authenticate(message, MX_IP, f"ophelia@{DOMAIN}", "mail.castle.test", lookup)
    stamped = inbound.stamp(message, verdict, relay)
    return arc.seal(stamped, DOMAIN, "arc", signing_key("rsa"), relay)


@pytest.fixture(scope="module")
def sealed(castle: Endpoint) -> bytes:
    """MESSAGE signed by castle.test and sealed by two forwarders: every check passes."""
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", signing_key("ed25519"))
    with resolver_lookup(castle) as lookup:
        once = _forwarded(signed, lookup, "relay1.castle.test")
        twice = _forwarded(once, lookup, "relay2.castle.test")
        assert arc.verify_chain(twice, lookup).result == "pass"
        assert [r.result for r in dkim.verify_all(twice, lookup)] == ["pass"]
    return twice


def test_hostile_signatures_and_arc_sets_give_results(castle: Endpoint, sealed: bytes) -> None:
    with resolver_lookup(castle, timeout=0.5) as lookup:

        @SETTINGS
        @given(hostile_messages(sealed), hostile_text(), hostile_text())
        def check(message: bytes, sender: str, helo: str) -> None:
            assert {r.result for r in dkim.verify_all(message, lookup)} <= DKIM_RESULTS
            assert arc.verify_chain(message, lookup).result in ARC_RESULTS
            verdict = inbound.authenticate(message, MX_IP, sender, helo, lookup)
            assert verdict.dmarc.result in DMARC_RESULTS
            assert verdict.spf.result in spf.RESULTS
            stamped = inbound.stamp(message, verdict, "mx.castle.test")
            added = len(parse(stamped).fields) - len(parse(message).fields)
            assert added <= 2 and stamped.endswith(message.split(b"\r\n", 1)[-1])

        check()


def _publish_bytes(server: Endpoint, name: dns.name.Name, record: bytes) -> None:
    """Replace the TXT records at ``name`` with ``record``, any bytes, in 255-octet strings."""
    chunks = [record[at : at + 255] for at in range(0, len(record), 255)] or [b""]
    rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)
    update = dns.update.UpdateMessage(DOMAIN, keyring=tsig_key())
    update.replace(name, 300, rdata)
    response = dns.query.tcp(update, server.host, port=server.port, timeout=5)
    assert response.rcode() == dns.rcode.NOERROR


def test_hostile_spf_and_dmarc_records_give_results(castle: Endpoint, sealed: bytes) -> None:
    dmarc_name = dns.name.from_text(f"_dmarc.{DOMAIN}.")
    domain_name = dns.name.from_text(f"{DOMAIN}.")

    @settings(SETTINGS, max_examples=60)
    @given(spf_records(), dmarc_records(), st.sampled_from([f"ophelia@{DOMAIN}", ""]))
    def check(spf_record: bytes, dmarc_record: bytes, sender: str) -> None:
        for name, record in ((domain_name, spf_record), (dmarc_name, dmarc_record)):
            _publish_bytes(castle, name, record)
        # A new resolver each time: the last example's answers are not in its cache.
        with resolver_lookup(castle, timeout=0.5) as lookup:
            result = spf.check_host(MX_IP, sender, "mail.castle.test", lookup)
            assert result.result in spf.RESULTS
            outcome = dmarc.evaluate(sealed, result, dkim.verify_all(sealed, lookup), lookup)
            assert outcome.result in DMARC_RESULTS

    check()
