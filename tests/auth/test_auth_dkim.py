"""DKIM signing and verification: keys published by TSIG update to our primary, read back
through our resolver; every signature gets its own result."""

from __future__ import annotations

import pytest
from auth_testbed import DOMAIN, MESSAGE, serve_castle, signing_key, tsig_key
from dns_testbed import ServerThread

from stack.auth import dkim, keys, publish
from stack.auth.errors import AuthError, KeyNameError, PublishError, SigningKeyError
from stack.auth.lookup import StaticLookup, resolver_lookup
from stack.auth.publish import txt_rdata
from stack.mime import parse

pytestmark = pytest.mark.timeout(60)

ALGORITHMS = ["rsa", "ed25519"]


def lookup_for(*published: tuple[str, keys.SigningKey]) -> StaticLookup:
    return StaticLookup(
        {
            (f"{selector}._domainkey.{DOMAIN}", "TXT"): [txt_rdata(key.record()).to_text()]
            for selector, key in published
        }
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_key_published_by_tsig_update_verifies_through_our_resolver(
    servers: ServerThread, algorithm: keys.Algorithm
) -> None:
    key = signing_key(algorithm)
    server = serve_castle(servers)
    publish.publish(server, DOMAIN, "s1", DOMAIN, key.record(), tsig_key())
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", key)
    with resolver_lookup(server) as lookup:
        (result,) = dkim.verify_all(signed, lookup)
    assert result.result == "pass"
    assert (result.domain, result.selector) == (DOMAIN, "s1")
    assert result.algorithm == ("rsa-sha256" if algorithm == "rsa" else "ed25519-sha256")


def test_publishing_with_an_unknown_tsig_key_is_refused(servers: ServerThread) -> None:
    import dns.tsig

    server = serve_castle(servers)
    stranger = dns.tsig.Key("stranger.", b"x" * 32, dns.tsig.HMAC_SHA256)
    with pytest.raises(PublishError):
        publish.publish(server, DOMAIN, "s1", DOMAIN, signing_key("ed25519").record(), stranger)


def test_a_2048_bit_rsa_record_is_cut_into_255_octet_strings() -> None:
    rdata = txt_rdata(signing_key("rsa").record())
    assert len(rdata.strings) > 1
    assert all(len(string) <= 255 for string in rdata.strings)
    assert b"".join(rdata.strings).decode() == signing_key("rsa").record()


def test_signing_prepends_one_field_and_keeps_every_other_byte() -> None:
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", signing_key("ed25519"))
    tree = parse(signed)
    assert tree.fields[0].name == "DKIM-Signature"
    assert signed.endswith(MESSAGE)
    assert b"c=relaxed/relaxed" in signed


def test_from_to_and_subject_are_oversigned() -> None:
    present = ["From", "To", "Subject", "Date", "Received", "X-Mailer"]
    assert dkim.signed_headers(present) == [
        "from", "from", "subject", "subject", "date", "to", "to"
    ]  # fmt: skip
    assert dkim.signed_headers(["From"], headers=["from", "x-a"], oversign=["x-a"]) == [
        "from",
        "x-a",
    ]


def test_an_added_from_field_breaks_the_oversigned_signature() -> None:
    key = signing_key("ed25519")
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", key)
    tree = parse(signed)
    tree.fields.insert(1, type(tree.fields[0]).build("From", "claudius@castle.test"))
    (result,) = dkim.verify_all(bytes(tree), lookup_for(("s1", key)))
    assert result.result == "fail"


def test_every_signature_gets_its_own_result() -> None:
    rsa, ed = signing_key("rsa"), signing_key("ed25519")
    once = dkim.sign(MESSAGE, DOMAIN, "rsa1", rsa)
    twice = dkim.sign(once, DOMAIN, "ed1", ed)
    thrice = dkim.sign(twice, DOMAIN, "gone", ed)  # no key published for this selector
    results = dkim.verify_all(thrice, lookup_for(("rsa1", rsa), ("ed1", ed)))
    assert [(r.selector, r.result) for r in results] == [
        ("gone", "permerror"),
        ("ed1", "pass"),
        ("rsa1", "pass"),
    ]
    assert len({r.signature_b for r in results}) == 3


def test_a_changed_body_fails_and_an_unreachable_key_is_a_temperror() -> None:
    key = signing_key("rsa")
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", key)
    (changed,) = dkim.verify_all(signed.replace(b"rosemary,", b"rue,"), lookup_for(("s1", key)))
    assert changed.result == "fail"
    assert "body hash" in changed.reason
    unreachable = StaticLookup({}, unreachable=[f"s1._domainkey.{DOMAIN}"])
    (lost,) = dkim.verify_all(signed, unreachable)
    assert lost.result == "temperror"


def test_a_message_without_signatures_has_no_results() -> None:
    assert dkim.verify_all(MESSAGE, StaticLookup({})) == []


def test_rsa_keys_below_rfc_8301s_floor_are_refused() -> None:
    with pytest.raises(SigningKeyError, match="1024 to 4096 bits, not 1023"):
        keys.generate("rsa", 1023)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_keys_survive_a_round_trip_through_their_pem_file(algorithm: keys.Algorithm) -> None:
    key = signing_key(algorithm)
    assert keys.from_pem(key.pem) == key


def test_a_non_key_file_is_a_user_error() -> None:
    with pytest.raises(SigningKeyError):
        keys.from_pem(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")


def test_rsa_sha1_signatures_are_not_valid() -> None:
    key = signing_key("rsa")
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", key).replace(b"a=rsa-sha256", b"a=rsa-sha1", 1)
    (result,) = dkim.verify_all(signed, lookup_for(("s1", key)))
    assert result.result == "permerror"
    assert "RFC 8301" in result.reason


@pytest.mark.parametrize(
    ("domain", "selector"),
    [
        (DOMAIN, "s1\r\nX-Injected: yes"),
        (f"{DOMAIN}\r\nX-Injected: yes", "s1"),
        (DOMAIN, "s 1"),
        (DOMAIN, "s1\0"),
        ("castle", "s1"),
    ],
)
def test_a_configured_name_that_is_not_a_dns_name_is_refused(domain: str, selector: str) -> None:
    with pytest.raises(KeyNameError):
        dkim.sign(MESSAGE, domain, selector, signing_key("ed25519"))


def test_a_unicode_selector_signs_as_its_a_label_as_keygen_publishes_it() -> None:
    key = signing_key("ed25519")
    signed = dkim.sign(MESSAGE, DOMAIN, "sél", key)
    assert b"s=xn--sl-bja;" in signed
    (result,) = dkim.verify_all(signed, lookup_for(("xn--sl-bja", key)))
    assert result.result == "pass"


@pytest.mark.parametrize("header", ["subject\r\nx-injected", "sübject", "to:", ""])
def test_a_configured_field_to_sign_that_is_not_a_field_name_is_refused(header: str) -> None:
    signer = dkim.Signer(DOMAIN, "s1", signing_key("ed25519"), headers=("from", header))
    with pytest.raises(AuthError, match="not a field name"):
        signer.sign(MESSAGE)
