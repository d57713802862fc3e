"""The verifying hop end to end, through our DNS server: a message signed by castle.test and
sent from its MX passes SPF, DKIM and DMARC; forged fields claiming our id are removed."""

from __future__ import annotations

from pathlib import Path

import dns.name
import pytest
from auth_testbed import DOMAIN, MESSAGE, serve_castle, signing_key, tsig_key
from dns_testbed import ServerThread

from stack.auth import dkim, inbound, publish
from stack.auth.lookup import resolver_lookup
from stack.cli import cli, run
from stack.dns.addresses import Endpoint
from stack.mime import parse

pytestmark = pytest.mark.timeout(60)

MX_IP = "127.0.0.25"  # mail.castle.test, the domain's MX: "v=spf1 mx -all" lets it send
FORGED = b"Authentication-Results: mx.elsinore.test; dkim=pass header.d=castle.test\r\n"


def castle_with_policy(servers: ServerThread, policy: str) -> Endpoint:
    server = serve_castle(servers)
    key = signing_key("ed25519")
    publish.publish(server, DOMAIN, "s1", DOMAIN, key.record(), tsig_key())
    name = dns.name.from_text(f"_dmarc.{DOMAIN}.")
    publish.publish_txt(server, DOMAIN, name, policy, tsig_key())
    return server


def test_signed_mail_from_the_mx_passes_everything_and_is_stamped(servers: ServerThread) -> None:
    server = castle_with_policy(servers, "v=DMARC1; p=reject")
    signed = FORGED + dkim.sign(MESSAGE, DOMAIN, "s1", signing_key("ed25519"))
    with resolver_lookup(server) as lookup:
        verdict = inbound.authenticate(
            signed, MX_IP, f"ophelia@{DOMAIN}", "mail.castle.test", lookup
        )
    assert verdict.spf.result == "pass"
    assert [r.result for r in verdict.dkim] == ["pass"]
    assert (verdict.dmarc.result, verdict.dmarc.disposition) == ("pass", "none")
    stamped = inbound.stamp(signed, verdict, "mx.elsinore.test")
    tree = parse(stamped)
    assert [f.name for f in tree.fields[:2]] == ["Authentication-Results", "Received-SPF"]
    (ours,) = tree.get_all("Authentication-Results")
    assert "spf=pass" in ours.unfolded() and "dmarc=pass" in ours.unfolded()
    assert stamped.endswith(signed[len(FORGED) :])  # nothing else changed


def test_dmarc_check_rejects_a_forged_sender_from_another_address(
    servers: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = castle_with_policy(servers, "v=DMARC1; p=reject")
    message = tmp_path / "m.eml"
    message.write_bytes(MESSAGE)
    argv = ["dmarc", "check", "--sender", f"ophelia@{DOMAIN}", "--helo", "evil.test"]
    argv += ["--server", str(server), "--authserv-id", "mx.elsinore.test", str(message)]
    assert run(cli(), [*argv, "--ip", "192.0.2.66"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "fail from=castle.test p=reject disposition=reject (no aligned pass)"
    assert lines[1].startswith("Authentication-Results: mx.elsinore.test;")
    assert run(cli(), [*argv, "--ip", MX_IP]) == 0
    assert capsys.readouterr().out.startswith("pass from=castle.test p=reject disposition=none")
