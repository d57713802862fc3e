"""The signer's output against independent verifiers: OpenDKIM and Mail::DKIM check the
signatures with the keys the signer published in our DNS, and a From added after signing
breaks them there too.

Mail::DKIM is the one that checks the signer's oversigning: it takes ``h=`` as written, so a
From inserted above the signed one passes there unless ``h=`` names From twice (tried: it
does pass with a signature that is not oversigned).  dkimpy counts one From more than ``h=``
by itself, and opendkim-testmsg refuses a message with two From fields outright.
"""

from __future__ import annotations

import asyncio
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from auth_testbed import DOMAIN, MESSAGE, tsig_key
from dns_testbed import KEY_LINE, ServerThread, castle_zone
from interop_tools import (
    mail_dkim,
    require,
    require_mail_dkim,
    require_namespaces,
    resolv_conf,
    run_with_resolver,
    serve_on_port_53,
)

from stack.dns.addresses import Endpoint
from stack.dns.keys import parse_keys
from stack.dns.primary import Primary
from stack.mime import parse
from stack.services.signer import DkimSigning, KeyPublisher, signing_keys
from stack.smtp.received import Arrival
from stack.smtp.server import Transaction

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

SEED = bytes(range(7, 39))


def signed_by_the_signer(servers: ServerThread) -> tuple[Endpoint, bytes]:
    """Our primary on port 53, the seeded keys published by the signer's starter, and
    MESSAGE through the signer's transform; the server's address and the signed bytes."""
    server = serve_on_port_53(servers, Primary(castle_zone(), parse_keys(KEY_LINE)).respond)
    keys = signing_keys(seed=SEED)
    selectors = keys.selectors("rsa1", "ed1")
    arrival = Arrival(
        "submission", "127.0.0.1", None, "signer", "4Q1", ("a@b.test",), datetime(2026, 12, 3)
    )

    async def sign() -> bytes:
        await KeyPublisher(server, tsig_key(), [DOMAIN], selectors)()
        transform = DkimSigning([DOMAIN], selectors)
        result = await transform(parse(MESSAGE), Transaction("", arrival.recipients, arrival))
        return bytes(result)

    return server, asyncio.run(sign())


def second_from(signed: bytes) -> bytes:
    """A From inserted above the signed one, as a forger would (below the signatures)."""
    at = signed.index(b"From: Ophelia")
    return signed[:at] + b"From: Claudius <king@castle.test>\r\n" + signed[at:]


def test_opendkim_verifies_both_signatures_of_the_signer(
    servers: ServerThread, tmp_path: Path
) -> None:
    testmsg = require("opendkim-testmsg")
    require_namespaces()
    server, signed = signed_by_the_signer(servers)
    conf = resolv_conf(tmp_path, server)
    verified = run_with_resolver(conf, [testmsg], signed)
    assert verified.returncode == 0, verified.stderr
    forged = run_with_resolver(conf, [testmsg], second_from(signed))
    assert forged.returncode != 0


def test_mail_dkim_verifies_both_signatures_of_the_signer(servers: ServerThread) -> None:
    perl = require_mail_dkim()
    server, signed = signed_by_the_signer(servers)
    [(rsa, _), (ed25519, _)] = mail_dkim(perl, server, signed)
    assert rsa == "pass"
    # Mail::DKIM checks Ed25519 only with CryptX (libcryptx-perl); without it the signature
    # is "invalid (unsupported algorithm)", which is why the RSA one comes first.
    assert ed25519 in ("pass", "invalid")
    assert mail_dkim(perl, server, second_from(signed))[0][0] == "fail"


@pytest.mark.parametrize("bits", [2048, 3072])
def test_openssl_checks_a_seeded_rsa_key(bits: int, tmp_path: Path) -> None:
    openssl = require("openssl")
    key_file = tmp_path / "seeded.key"
    key_file.write_bytes(signing_keys(seed=SEED, rsa_bits=bits).rsa.pem)
    # Primality of p and q, d * e = 1 mod lcm(p-1, q-1), and the CRT values: OpenSSL's own.
    checked = subprocess.run(
        [openssl, "rsa", "-check", "-noout", "-in", str(key_file)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == b"RSA key ok"
