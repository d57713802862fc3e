"""Whatever bytes arrive, verification gives results, never an exception: a verifier that
crashes on hostile input is a verifier an attacker can switch off."""

from __future__ import annotations

import re

import pytest
from auth_testbed import DOMAIN, MESSAGE, serve_castle, signing_key
from dns_testbed import ServerThread
from hypothesis import given, settings
from hypothesis import strategies as st

from stack.auth import arc, dkim, dmarc
from stack.auth.lookup import StaticLookup, resolver_lookup

pytestmark = pytest.mark.timeout(60)

NOTHING = StaticLookup({})
DKIM_RESULTS = {"pass", "fail", "neutral", "temperror", "permerror"}

hostile = st.one_of(
    st.binary(max_size=400),
    st.builds(
        lambda tags, body: b"DKIM-Signature: " + tags + b"\r\nFrom: a@castle.test\r\n\r\n" + body,
        st.binary(max_size=120),
        st.binary(max_size=40),
    ),
    st.builds(
        lambda tags: b"ARC-Seal: " + tags + b"\r\nFrom: a@castle.test\r\n\r\n",
        st.binary(max_size=120),
    ),
)


@settings(max_examples=300)
@given(hostile)
def test_any_bytes_give_results_not_exceptions(data: bytes) -> None:
    assert {r.result for r in dkim.verify_all(data, NOTHING)} <= DKIM_RESULTS
    assert arc.verify_chain(data, NOTHING).result in ("none", "pass", "fail")
    assert dmarc.evaluate(data, None, [], NOTHING).result in ("none", "permerror")


def test_a_header_dkimpy_cannot_read_still_reports_its_signature() -> None:
    data = b"\tfolded first line\r\nDKIM-Signature: v=1; d=castle.test; s=s1\r\n\r\nbody\r\n"
    (result,) = dkim.verify_all(data, NOTHING)
    assert (result.result, result.domain, result.selector) == ("permerror", "castle.test", "s1")


@pytest.mark.parametrize("selector", ["sél".encode(), b"s\xff", b"a..b", b"x" * 70, b"a b"])
def test_a_signature_whose_key_name_is_not_a_dns_name_is_a_permerror(
    selector: bytes, servers: ServerThread
) -> None:
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", signing_key("ed25519"))
    hostile = signed.replace(b"s=s1;", b"s=" + selector + b";", 1)
    with resolver_lookup(serve_castle(servers), timeout=0.5) as lookup:
        (result,) = dkim.verify_all(hostile, lookup)
    assert result.result == "permerror", result
    assert "not a DNS name" in result.reason


def _signed_lookup() -> tuple[bytes, StaticLookup]:
    key = signing_key("ed25519")
    record = f"v=DKIM1; k=ed25519; p={key.record().split('p=')[1]}"
    lookup = StaticLookup({(f"s1._domainkey.{DOMAIN}", "TXT"): [f'"{record}"']})
    return dkim.sign(MESSAGE, DOMAIN, "s1", key), lookup


def test_a_signature_time_past_cpythons_digit_limit_is_a_permerror() -> None:
    signed, lookup = _signed_lookup()
    hostile = re.sub(rb"t=[0-9]+", b"t=" + b"9" * 5000, signed, count=1)
    (result,) = dkim.verify_all(hostile, lookup)
    assert result.result == "permerror"


def test_an_ed25519_signature_of_the_wrong_length_fails() -> None:
    signed, lookup = _signed_lookup()
    start = signed.index(b"b=", signed.index(b"bh=") + 3)  # b= is the last tag
    hostile = signed[:start] + b"b=" + b"A" * 400 + signed[signed.index(b"\r\nFrom:") :]
    (result,) = dkim.verify_all(hostile, lookup)
    assert result.result in ("fail", "permerror")


def test_an_arc_seal_time_past_cpythons_digit_limit_fails_the_chain(
    capfd: pytest.CaptureFixture[str],
) -> None:
    hostile = b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=castle.test; s=arc; t=" + b"9" * 5000
    hostile += b"; b=AAAA\r\nARC-Message-Signature: i=1; a=rsa-sha256; d=castle.test; s=arc;"
    hostile += b" h=from; bh=AAAA; b=AAAA\r\nARC-Authentication-Results: i=1; x; arc=none\r\n"
    assert arc.verify_chain(hostile + MESSAGE, NOTHING).result == "fail"
    # dkimpy logs why; nothing of that (text the attacker chose) reaches our stderr.
    assert capfd.readouterr().err == ""
