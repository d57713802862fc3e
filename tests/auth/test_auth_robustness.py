"""Whatever bytes arrive, verification gives results, never an exception: a verifier that
crashes on hostile input is a verifier an attacker can switch off."""

from __future__ import annotations

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
