"""Our DKIM and SPF against independent implementations, all asking our DNS server:
OpenDKIM and Mail::DKIM verify what we sign, we verify what OpenDKIM signs, and libspf2's
spfquery is compared with us on every test of the RFC 7208 suite."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from auth_testbed import DOMAIN, MESSAGE, signing_key, tsig_key
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

from harness.suites.spf import load_suite, scenario_zones
from stack.auth import dkim, keys, publish
from stack.auth.lookup import resolver_lookup
from stack.auth.spf import check_host
from stack.dns.addresses import Endpoint
from stack.dns.keys import parse_keys
from stack.dns.primary import Primary

pytestmark = pytest.mark.interop


def castle_on_port_53(servers: ServerThread) -> Endpoint:
    return serve_on_port_53(servers, Primary(castle_zone(), parse_keys(KEY_LINE)).respond)


def published(server: Endpoint, selector: str, key: keys.SigningKey) -> None:
    publish.publish(server, DOMAIN, selector, DOMAIN, key.record(), tsig_key())


@pytest.mark.timeout(60)
@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_opendkim_verifies_our_signatures_with_keys_from_our_dns(
    algorithm: keys.Algorithm, servers: ServerThread, tmp_path: Path
) -> None:
    testmsg = require("opendkim-testmsg")
    require_namespaces()
    server = castle_on_port_53(servers)
    conf = resolv_conf(tmp_path, server)
    key = signing_key(algorithm)
    published(server, "s1", key)
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", key)
    verified = run_with_resolver(conf, [testmsg], signed)
    assert verified.returncode == 0, verified.stderr
    tampered = run_with_resolver(conf, [testmsg], signed.replace(b"rosemary,", b"rue,"))
    assert tampered.returncode != 0
    assert b"Bad signature" in tampered.stderr
    # The key only exists in our server: a selector it does not have cannot verify.
    unknown = dkim.sign(MESSAGE, DOMAIN, "nowhere", key)
    assert run_with_resolver(conf, [testmsg], unknown).returncode != 0


@pytest.mark.timeout(60)
def test_mail_dkim_verifies_our_rsa_signatures(servers: ServerThread) -> None:
    perl = require_mail_dkim()
    server = castle_on_port_53(servers)
    key = signing_key("rsa")
    published(server, "s1", key)
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", key)
    assert mail_dkim(perl, server, signed) == [("pass", "pass")]
    [(result, _)] = mail_dkim(perl, server, signed.replace(b"rosemary,", b"rue,"))
    assert result == "fail"


@pytest.mark.timeout(60)
def test_we_verify_what_opendkim_signs(servers: ServerThread, tmp_path: Path) -> None:
    testmsg = require("opendkim-testmsg")
    server = castle_on_port_53(servers)
    key = signing_key("rsa")
    published(server, "od", key)
    key_file = tmp_path / "od.key"
    key_file.write_bytes(key.pem)  # PKCS#1 PEM, as opendkim-genkey writes
    # -C: CRLF line ends (without it, 2.11's testmsg garbles the folded b= tag).
    done = subprocess.run(
        [testmsg, "-C", "-d", DOMAIN, "-s", "od", "-k", str(key_file)],
        input=MESSAGE,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with resolver_lookup(server) as lookup:
        # opendkim-testmsg can only sign rsa-sha1, which RFC 8301 forbids us to accept...
        (refused,) = dkim.verify_all(done.stdout, lookup)
        # ...so the arithmetic is checked with that rule lifted.
        (checked,) = dkim.verify_all(done.stdout, lookup, allow_sha1=True)
    assert (refused.result, refused.algorithm) == ("permerror", "rsa-sha1")
    assert (checked.result, checked.domain, checked.selector) == ("pass", DOMAIN, "od")


def _spfquery_result(output: str) -> str:
    """spfquery's result, its error block read the way RFC 7208 names outcomes: libspf2
    prints ``(invalid)`` after a record that does not compile (§4.6: permerror) and after a
    failed DNS query (§4.4, §5: temperror)."""
    errors = re.findall(r"StartError\n(.*?)EndError\n", output, re.S)
    rest = re.sub(r"StartError\n.*?EndError\n", "", output, flags=re.S)
    lines = rest.split("\n")
    result = lines[0].strip() if lines else ""
    if result == "(invalid)":
        text = "".join(errors)
        return "temperror" if "Temporary DNS failure" in text else "permerror"
    return result


@pytest.mark.timeout(240)
def test_spfquery_agrees_with_us_wherever_the_suite_accepts_its_answer(
    spf_suite: Path, servers: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spfquery = require("spfquery")
    require_namespaces()
    agree, libspf2_wrong, both_accepted = 0, [], []
    wrong_ours = []
    for scenario in load_suite(spf_suite):
        server = serve_on_port_53(servers, Primary(scenario_zones(scenario)).respond)
        conf = resolv_conf(tmp_path, server)
        with resolver_lookup(server, timeout=0.5, retries=1) as lookup:
            for test in scenario.tests:
                ours = check_host(test.host, test.mailfrom, test.helo, lookup).result
                sender = test.mailfrom or f"postmaster@{test.helo}"
                argv = [spfquery, "-ip", test.host, "-sender", sender, "-helo", test.helo]
                done = run_with_resolver(conf, argv)
                theirs = _spfquery_result(done.stdout.decode("utf-8", "replace"))
                if theirs == ours:
                    agree += 1
                elif ours not in test.results:
                    wrong_ours.append(f"{test.name}: ours {ours}, libspf2 {theirs}")
                elif theirs in test.results:
                    both_accepted.append(f"{test.name}: ours {ours}, libspf2 {theirs}")
                else:
                    libspf2_wrong.append(f"{test.name} ({test.spec}): libspf2 {theirs}")
    with capsys.disabled():
        print(
            f"\nspfquery (libspf2) vs us on the RFC 7208 suite: {agree} agree,"
            f" {len(both_accepted)} differ within the accepted set,"
            f" {len(libspf2_wrong)} where libspf2 is outside the suite's accepted set"
        )
        for line in libspf2_wrong:
            print(f"  libspf2 deviates: {line}")
    assert not wrong_ours, "\n".join(wrong_ours)
    assert agree + len(both_accepted) + len(libspf2_wrong) == sum(
        len(s.tests) for s in load_suite(spf_suite)
    )
    assert agree > len(libspf2_wrong)  # the comparison really ran against the same data
