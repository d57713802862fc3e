"""Authentication-Results (RFC 8601) and Received-SPF (RFC 7208 §9.1) fields."""

from __future__ import annotations

import authres
import pytest

from stack.auth.dkim import DkimResult
from stack.auth.results import (
    DmarcVerdict,
    authentication_results,
    dkim_result,
    dmarc_result,
    received_spf,
    remove_forged,
    spf_result,
)
from stack.auth.spf import SpfResult
from stack.mime import parse

pytestmark = pytest.mark.timeout(10)

SPF = SpfResult(
    "pass", "mailfrom", "192.0.2.1", "ophelia@castle.test", "mx.castle.test", "castle.test"
)
DKIM = DkimResult("pass", "castle.test", "s1", "ed25519-sha256", "@castle.test", "", "AbCd1234")


def test_authentication_results_carries_our_id_and_every_result_and_parses_back() -> None:
    value = authentication_results(
        "mx.castle.test",
        [spf_result(SPF), dkim_result(DKIM), dmarc_result(DmarcVerdict("pass", "castle.test"))],
    )
    parsed = authres.AuthenticationResultsHeader.parse_value(value.replace("\n\t", " "))
    assert parsed.authserv_id == "mx.castle.test"
    assert [r.method for r in parsed.results] == ["spf", "dkim", "dmarc"]
    assert "header.b=AbCd1234" in value
    assert all(len(line) < 100 for line in value.splitlines())


def test_a_field_claiming_our_authserv_id_is_removed_and_others_stay() -> None:
    message = parse(
        b"Authentication-Results: mx.castle.test; dkim=pass header.d=evil.test\r\n"
        b"Authentication-Results: other.test; spf=fail\r\n"
        b"authentication-results: MX.CASTLE.TEST;\r\n spf=pass\r\n"
        b"From: a@evil.test\r\n\r\nbody\r\n"
    )
    assert remove_forged(message, "mx.castle.test") == 2
    assert bytes(message) == (
        b"Authentication-Results: other.test; spf=fail\r\nFrom: a@evil.test\r\n\r\nbody\r\n"
    )


def test_received_spf_has_the_result_comment_and_key_value_pairs() -> None:
    value = received_spf(SPF, "mx.castle.test")
    assert value.startswith("pass (mx.castle.test: domain of ophelia@castle.test designates")
    unfolded = value.replace("\n\t", " ")
    for pair in (
        "client-ip=192.0.2.1;",
        'envelope-from="ophelia@castle.test";',  # §9.1: a quoted-string
        "helo=mx.castle.test;",
        "receiver=mx.castle.test;",
        "identity=mailfrom;",
    ):
        assert pair in unfolded
    parse(b"X: y\r\n\r\n").prepend("Received-SPF", value)  # a valid, injection-free field


def test_received_spf_quotes_values_and_escapes_the_comment() -> None:
    odd = SpfResult("permerror", "helo", "192.0.2.1", "", "we(ird", "", 'bad "record"')
    value = received_spf(odd, "mx")
    assert "(mx: permanent error in processing helo we\\(ird)" in value
    assert 'problem="bad \\"record\\""' in value
