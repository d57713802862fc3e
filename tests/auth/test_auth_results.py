"""Authentication-Results (RFC 8601) and Received-SPF (RFC 7208 §9.1) fields."""

from __future__ import annotations

import authres
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.auth.dkim import DkimResult
from stack.auth.results import (
    DmarcVerdict,
    _fold,
    authentication_results,
    dkim_result,
    dmarc_result,
    received_spf,
    remove_forged,
    spf_result,
)
from stack.auth.spf import SpfResult
from stack.mime import parse
from stack.mime.safe import UnsafeTextError

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


INJECTED = "a@castle.test\r\nX-Injected: yes"


def _one_field(name: str, value: str) -> bytes:
    """The field as a hop writes it, checked to parse back as exactly that one field."""
    message = parse(b"From: a@castle.test\r\n\r\nbody\r\n")
    message.prepend(name, value)
    data = bytes(message)
    assert [f.name for f in parse(data).fields if f.is_field] == [name, "From"], data
    return data


def test_a_hostile_sender_or_helo_stays_inside_received_spf() -> None:
    hostile = SpfResult("fail", "mailfrom", "192.0.2.1", INJECTED, "h\rX-H: 1\n", "castle.test")
    data = _one_field("Received-SPF", received_spf(hostile, "mx.castle.test"))
    assert rb"a@castle.test\\x0d\\x0aX-Injected: yes" in data  # \\ is one \ in a quoted-string


def test_a_hostile_value_stays_inside_authentication_results() -> None:
    spf = SpfResult("pass", "mailfrom", "192.0.2.1", INJECTED, "mx\0", "castle.test")
    dkim = DkimResult("fail", "evil.test\n", "s\u2028", "rsa-sha256", INJECTED, "bad\r\n", "b\n")
    entries = [spf_result(spf), dkim_result(dkim), dmarc_result(DmarcVerdict("fail", INJECTED))]
    _one_field("Authentication-Results", authentication_results("mx.castle.test", entries))


def test_a_hostile_address_cannot_add_a_result_to_ours() -> None:
    # authres writes any value holding an "@" unquoted: a MAIL FROM that carries a ";" and a
    # method of its own would be read as a second, passing result.
    sender = "x@evil.test; dkim=pass header.d=paypal.test"
    spf = SpfResult("fail", "mailfrom", "192.0.2.1", sender, "mx.evil.test", "evil.test")
    value = authentication_results("mx.castle.test", [spf_result(spf)])
    parsed = authres.AuthenticationResultsHeader.parse_value(value.replace("\n\t", " "))
    assert [(r.method, r.result) for r in parsed.results] == [("spf", "fail")]
    assert parsed.results[0].smtp_mailfrom == sender


def test_a_hostile_reason_with_an_at_sign_is_quoted() -> None:
    dkim = DkimResult("fail", "castle.test", "s1", "rsa-sha256", "@castle.test", "a@b; x=y")
    value = authentication_results("mx.castle.test", [dkim_result(dkim)])
    parsed = authres.AuthenticationResultsHeader.parse_value(value.replace("\n\t", " "))
    assert parsed.results[0].reason == "a@b; x=y"


def test_a_configured_authserv_id_or_receiver_with_a_line_break_is_refused() -> None:
    with pytest.raises(UnsafeTextError, match=r"^authserv-id: CR"):
        authentication_results("mx.castle.test\r\nX-Injected: yes", [spf_result(SPF)])
    with pytest.raises(UnsafeTextError, match=r"^receiver: LF"):
        received_spf(SPF, "mx\nX-Injected: yes")


def test_folding_a_long_quoted_value_keeps_it_exact() -> None:
    # A fold is a line break before white space that is already there (RFC 5322 §2.2.3):
    # unfolding must give back the quoted local-part exactly, spaces and all.
    sender = '"' + " ".join(["hamlet"] * 20) + '"@castle.test'
    spf = SpfResult("fail", "mailfrom", "192.0.2.1", sender, "mx.evil.test", "castle.test")
    value = authentication_results("mx.castle.test", [spf_result(spf)])
    assert any(len(line) < 80 for line in value.splitlines()[1:])
    unfolded = parse(_one_field("Authentication-Results", value)).fields[0].unfolded()
    parsed = authres.AuthenticationResultsHeader.parse_value(unfolded)
    assert parsed.results[0].smtp_mailfrom == sender


@given(st.text(st.sampled_from('ab "\\()é'), max_size=300), st.integers(1, 80))
def test_folding_is_undone_by_unfolding(text: str, width: int) -> None:
    folded = _fold(text, width)
    lines = folded.split("\n")
    assert all(line.strip(" ") for line in lines[1:]), folded  # no line of white space only
    assert folded.replace("\n", "") == text
