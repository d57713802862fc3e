"""What the authentication tests share: castle.test's primary with a TSIG key, and keys.

Generating RSA keys is slow, so one RSA-2048 and one Ed25519 key are made per session.
"""

from __future__ import annotations

from functools import cache

import dns.tsig
from dns_testbed import KEY_LINE, ServerThread, castle_zone

from stack.auth import keys
from stack.auth.dkim import DkimResult
from stack.auth.keys import SigningKey
from stack.auth.lookup import StaticLookup
from stack.auth.spf import SpfResult
from stack.dns.addresses import Endpoint
from stack.dns.keys import parse_keys
from stack.dns.primary import Primary

DOMAIN = "castle.test"
MESSAGE = (
    b"From: Ophelia <ophelia@castle.test>\r\n"
    b"To: hamlet@castle.test\r\n"
    b"Subject: remembrances\r\n"
    b"Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <rosemary@castle.test>\r\n"
    b"\r\n"
    b"There's rosemary, that's for remembrance.\r\n"
)


# DMARC's inputs, for tests/auth/test_auth_dmarc.py and test_dmarc_contract.py: the message
# from a subdomain, an SPF and a DKIM result for a domain, and a policy record.
FROM_SUB = MESSAGE.replace(b"<ophelia@castle.test>", b"<ophelia@mail.castle.test>")


def spf(result: str = "pass", domain: str = "castle.test") -> SpfResult:
    return SpfResult(result, "mailfrom", "192.0.2.1", f"a@{domain}", "mx", domain)  # type: ignore[arg-type]


def dkim(result: str = "pass", domain: str = "castle.test") -> DkimResult:
    return DkimResult(result, domain, "s1", "ed25519-sha256", f"@{domain}")  # type: ignore[arg-type]


def policy(text: str, at: str = "castle.test") -> StaticLookup:
    return StaticLookup({(f"_dmarc.{at}", "TXT"): [f'"{text}"']})


@cache
def signing_key(algorithm: keys.Algorithm) -> SigningKey:
    return keys.generate(algorithm)


def tsig_key() -> dns.tsig.Key:
    (key,) = parse_keys(KEY_LINE).values()
    return key


def serve_castle(servers: ServerThread, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
    """castle.test served by a primary that accepts updates signed with the test key."""
    return servers.serve(Primary(castle_zone(), parse_keys(KEY_LINE)).respond, host, port)
