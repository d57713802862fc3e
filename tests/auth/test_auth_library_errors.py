"""Errors a user can act on, from Python: the signer, the sealer, the verifiers and the key
publisher give the same typed errors and short reasons as the command line, for code that
calls the library directly."""

from __future__ import annotations

import pytest
from auth_testbed import DOMAIN, MESSAGE, signing_key, tsig_key

from stack.auth import arc, dkim, publish
from stack.auth.errors import KeyNameError, MessageError, RecordTextError
from stack.auth.lookup import StaticLookup
from stack.dns.addresses import Endpoint
from stack.errors import excerpt
from stack.mime import ParseError

pytestmark = pytest.mark.timeout(60)

RSA = signing_key("rsa")
RELAY = "relay.castle.test"
NO_KEYS = StaticLookup({})
LONG_LINE = b"y" * 5_000_000
#: From is 27 bytes long: the line that is not a field starts at byte 27.
HOSTILE = b"From: ophelia@castle.test\r\n" + LONG_LINE + b"\r\n\r\nbody\r\n"
STAMP = f"Authentication-Results: {RELAY}; arc=none\r\n".encode()
FROM = b"From: Ophelia <ophelia@castle.test>\r\n"
#: What each hostile header is reported as, wherever it is reported.
LINE_NOT_A_FIELD = f"byte 27: line is not a field: {excerpt(LONG_LINE)}"


def test_verify_all_quotes_an_unreadable_header_in_a_short_excerpt() -> None:
    signature = b"DKIM-Signature: v=1; a=rsa-sha256; d=castle.test; s=s1; h=from; bh=x; b=y\r\n"
    (result,) = dkim.verify_all(signature + HOSTILE, NO_KEYS)
    assert result.result == "permerror"
    assert (
        result.reason
        == f"unreadable header: byte {27 + len(signature)}: line is not a field: "
        + excerpt(LONG_LINE)
    )


def test_verify_chain_quotes_an_unreadable_header_in_a_short_excerpt() -> None:
    seal = b"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=castle.test; s=arc; b=x\r\n"
    chain = arc.verify_chain(seal + HOSTILE, NO_KEYS)
    assert (chain.result, chain.instances) == ("fail", 1)
    assert (
        chain.reason
        == f"unreadable header: byte {27 + len(seal)}: line is not a field: " + excerpt(LONG_LINE)
    )


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"", "byte 0: empty message"),
        (HOSTILE, LINE_NOT_A_FIELD),
        (b" folded\r\n" + MESSAGE, "byte 0: header starts folded: ' folded'"),
    ],
    ids=["empty", "long-line", "folded"],
)
def test_signing_a_message_dkim_cannot_read_is_a_message_error(message: bytes, error: str) -> None:
    with pytest.raises(MessageError) as raised:
        dkim.sign(message, DOMAIN, "s1", RSA)
    assert str(raised.value) == error
    assert isinstance(raised.value, ParseError)  # with its offset, as the codec's errors


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"", "byte 0: empty message"),
        (STAMP + HOSTILE, f"byte {len(STAMP) + 27}: line is not a field: {excerpt(LONG_LINE)}"),
    ],
    ids=["empty", "long-line"],
)
def test_sealing_a_message_dkim_cannot_read_is_a_message_error(message: bytes, error: str) -> None:
    with pytest.raises(MessageError) as raised:
        arc.seal(message, DOMAIN, "arc", RSA, RELAY)
    assert str(raised.value) == error


def test_a_message_without_from_is_not_signed() -> None:
    with pytest.raises(MessageError) as raised:
        dkim.sign(MESSAGE.replace(FROM, b""), DOMAIN, "s1", RSA)
    assert str(raised.value) == "byte 0: no From field (RFC 6376 §5.4: From must be signed)"


def test_a_message_with_two_from_fields_is_not_signed() -> None:
    second = MESSAGE.index(b"Subject:")
    message = MESSAGE[:second] + FROM + MESSAGE[second:]
    with pytest.raises(MessageError) as raised:
        dkim.sign(message, DOMAIN, "s1", RSA)
    assert raised.value.offset == second
    assert str(raised.value) == (
        f"byte {second}: a second From field (RFC 5322 §3.6: a message has exactly one)"
    )


@pytest.mark.parametrize(
    "record",
    ["v=DKIM1; k=ed25519; p=é", "v=DKIM1; p=\ufffd" + "A" * 400],
    ids=["short", "replaced-by-read-record"],
)
def test_a_record_that_is_not_ascii_is_a_typed_error_naming_it(record: str) -> None:
    name = publish.selector_name("s1", DOMAIN)
    with pytest.raises(RecordTextError) as raised:
        # Refused before the update is sent: nothing listens on port 9.
        publish.publish_txt(Endpoint("127.0.0.1", 9), DOMAIN, name, record, tsig_key())
    position = record.index(next(c for c in record if not c.isascii()))
    assert str(raised.value) == (
        f"TXT record for {name}: character {position} is not ASCII (a DKIM key record is "
        f"ASCII, RFC 6376 §3.2): {excerpt(record)}"
    )
    with pytest.raises(RecordTextError):
        publish.txt_rdata(record)


@pytest.mark.parametrize(
    ("selector", "reason"),
    [
        ("x" * 1_000_000, "selector 'xxxxxxxxxx"),
        (".".join(["x" * 60] * 4), "longer than a DNS name's 255 octets"),
    ],
    ids=["megabyte-selector", "name-past-255-octets"],
)
def test_a_key_name_error_quotes_the_name_in_a_short_excerpt(selector: str, reason: str) -> None:
    with pytest.raises(KeyNameError) as raised:
        publish.selector_name(selector, DOMAIN)
    assert reason in str(raised.value)
    assert len(str(raised.value)) < 200


#: A tag value dkimpy quotes in its reason, whole.
HUGE_TAG = b"z" * 100_000


def test_a_dkim_reason_quoting_a_tag_value_is_an_excerpt() -> None:
    tags = b"; d=castle.test; s=s1; h=from; bh=x; b=y\r\n"
    signature = b"DKIM-Signature: v=1; a=" + HUGE_TAG + tags
    (result,) = dkim.verify_all(signature + MESSAGE, NO_KEYS)
    assert result.result == "permerror"
    assert result.reason == excerpt(f"unknown signature algorithm: {HUGE_TAG!r}")


@pytest.mark.parametrize(
    ("tag", "value"), [(b"a", HUGE_TAG), (b"cv", HUGE_TAG), (b"s", HUGE_TAG)], ids=["a", "cv", "s"]
)
def test_an_arc_reason_quoting_a_tag_value_is_an_excerpt(tag: bytes, value: bytes) -> None:
    tags = {b"i": b"1", b"cv": b"none", b"a": b"rsa-sha256", b"d": b"castle.test", b"s": b"arc"}
    tags |= {tag: value, b"b": b"AAAA"}
    seal = b"ARC-Seal: " + b"; ".join(name + b"=" + text for name, text in tags.items())
    rest = (
        b"ARC-Message-Signature: i=1; a=rsa-sha256; d=castle.test; s=arc; h=from; bh=AAAA;"
        b" b=AAAA\r\nARC-Authentication-Results: i=1; castle.test; arc=none\r\n"
    )
    chain = arc.verify_chain(seal + b"\r\n" + rest + MESSAGE, NO_KEYS)
    assert chain.result == "fail"
    assert chain.reason.endswith(" characters)")
    assert len(chain.reason) < 200
