"""What stack.auth.dkim promises beyond the main tests: the reasons a result or a refusal
gives (RFC 6376 §6.1.2, §5.4.1), and the h= list's first field."""

from __future__ import annotations

import re

import dkim as dkimpy
import pytest
from auth_testbed import DOMAIN, MESSAGE, signing_key
from dkim.util import parse_tag_value

from stack.auth import dkim, keys
from stack.auth.errors import AuthError, MessageError
from stack.auth.lookup import StaticLookup
from stack.auth.publish import txt_rdata
from stack.mime import parse

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("record", ["v=DKIM1; k=ed25519; p=AAAA", "v=DKIM1; k=rsa; p=AAAA"])
def test_a_key_record_that_holds_no_key_fails_and_the_reason_says_so(record: str) -> None:
    # §6.1.2: a key that is not suitable for the algorithm is no verification; the verifier's
    # own words are what a postmaster reads in Authentication-Results.
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", signing_key("ed25519"))
    lookup = StaticLookup({(f"s1._domainkey.{DOMAIN}", "TXT"): [f'"{record}"']})
    (result,) = dkim.verify_all(signed, lookup)
    assert result.result != "pass"
    assert "public key" in result.reason


@pytest.mark.parametrize("field", ["received", "return-path"])
def test_a_configured_field_rfc_6376_says_not_to_sign_is_refused_by_name(field: str) -> None:
    # §5.4.1: trace fields SHOULD NOT be signed (they change on the way); dkimpy refuses them,
    # and the refusal names the field and what kind of error it was.
    signer = dkim.Signer(DOMAIN, "s1", signing_key("ed25519"), headers=("from", field))
    with pytest.raises(AuthError) as error:
        signer.sign(f"{field.title()}: x\r\n".encode() + MESSAGE)
    reason = str(error.value)
    assert field in reason and "SHOULD NOT be signed" in reason
    assert reason.startswith("cannot sign: ParameterError: ")


def test_from_is_signed_first_even_when_the_configured_list_leaves_it_out() -> None:
    # §5.4: From MUST be signed; verifiers read h= in order, and From leads it.
    chosen = dkim.signed_headers(["Subject", "From"], headers=["subject"], oversign=[])
    assert chosen == ["from", "subject"]


def lookup_for(key: keys.SigningKey, selector: str = "s1") -> StaticLookup:
    return StaticLookup(
        {(f"{selector}._domainkey.{DOMAIN}", "TXT"): [txt_rdata(key.record()).to_text()]}
    )


def signed_by_dkimpy(key: keys.SigningKey, **options: bytes) -> bytes:
    """MESSAGE with a signature dkimpy writes with ``options`` we never write ourselves."""
    line = dkimpy.sign(
        MESSAGE,
        b"s1",
        DOMAIN.encode(),
        key.dkimpy_key,
        include_headers=[b"from", b"subject"],
        **{"signature_algorithm": key.signature_algorithm, **options},
    )
    return bytes(line) + MESSAGE


def test_the_identity_is_the_signatures_i_tag_or_else_at_the_signing_domain() -> None:
    # RFC 6376 §3.5: i= defaults to an empty local-part followed by "@" and d=.
    key = signing_key("ed25519")
    (own,) = dkim.verify_all(dkim.sign(MESSAGE, DOMAIN, "s1", key), lookup_for(key))
    assert own.identity == f"@{DOMAIN}"
    given = signed_by_dkimpy(key, identity=f"ophelia@{DOMAIN}".encode())
    (result,) = dkim.verify_all(given, lookup_for(key))
    assert (result.result, result.identity) == ("pass", f"ophelia@{DOMAIN}")


def test_signature_b_is_the_first_eight_characters_of_b_without_folding() -> None:
    # RFC 6008 §4: header.b carries at least the first 8 characters of b=, enough to tell
    # two signatures of one domain apart; white space inside b= is folding, not value (§3.5).
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", signing_key("rsa"))
    b_tag = dict(parse_tag_value(parse(signed).fields[0].raw_value))[b"b"]
    (result,) = dkim.verify_all(signed, lookup_for(signing_key("rsa")))
    assert result.signature_b == "".join(b_tag.decode().split())[:8]
    assert len(result.signature_b) == 8


def test_a_tag_that_is_not_ascii_is_reported_with_replacement_characters() -> None:
    # Tags are ASCII (§3.2); a hostile one is reported, readably, never an exception.
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", signing_key("ed25519"))
    hostile = signed.replace(b"s=s1;", "s=sé;".encode(), 1)
    (result,) = dkim.verify_all(hostile, StaticLookup({}))
    assert result.result == "permerror"
    assert result.selector == "s\ufffd\ufffd"


def test_a_passing_signature_has_no_reason() -> None:
    # RFC 8601 §2.7.1: a reason explains a result other than pass.
    key = signing_key("ed25519")
    (result,) = dkim.verify_all(dkim.sign(MESSAGE, DOMAIN, "s1", key), lookup_for(key))
    assert (result.result, result.reason) == ("pass", "")


def test_each_failure_reason_says_what_failed() -> None:
    key = signing_key("rsa")
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", key)
    (body,) = dkim.verify_all(signed.replace(b"rosemary,", b"rue,"), lookup_for(key))
    assert re.search(r"\bbody hash\b", body.reason)
    header = signed.replace(b"Subject: remembrances", b"Subject: rue")
    (changed,) = dkim.verify_all(header, lookup_for(key))
    assert changed.result == "fail"
    assert re.search(r"\bsignature did not verify\b", changed.reason)
    sha1 = signed.replace(b"a=rsa-sha256", b"a=rsa-sha1", 1)
    (refused,) = dkim.verify_all(sha1, lookup_for(key))
    assert re.search(r"\brsa-sha1\b", refused.reason) and "RFC 8301" in refused.reason


def test_allow_sha1_checks_an_rsa_sha1_signature_on_its_merits() -> None:
    key = signing_key("rsa")
    signed = signed_by_dkimpy(key, signature_algorithm=b"rsa-sha1")
    (result,) = dkim.verify_all(signed, lookup_for(key), allow_sha1=True)
    assert (result.result, result.algorithm) == ("pass", "rsa-sha1")


def test_an_empty_message_cannot_be_signed_and_the_error_says_so_at_byte_0() -> None:
    with pytest.raises(MessageError) as error:
        dkim.sign(b"", DOMAIN, "s1", signing_key("ed25519"))
    assert error.value.offset == 0
    assert re.search(r"\bempty message\b", error.value.reason)


def test_a_message_without_from_or_with_two_cannot_be_signed_and_the_error_says_which() -> None:
    # RFC 6376 §5.4: From MUST be signed; RFC 5322 §3.6: exactly one From field.
    key = signing_key("ed25519")
    without = MESSAGE.replace(b"From: Ophelia <ophelia@castle.test>\r\n", b"")
    with pytest.raises(MessageError) as error:
        dkim.sign(without, DOMAIN, "s1", key)
    assert error.value.offset == 0
    assert re.search(r"\bno From field\b", error.value.reason)
    second = b"From: claudius@castle.test\r\n"
    twice = MESSAGE.replace(b"Subject:", second + b"Subject:")
    with pytest.raises(MessageError) as error:
        dkim.sign(twice, DOMAIN, "s1", key)
    assert error.value.offset == twice.index(second)
    assert re.search(r"\bsecond From field\b", error.value.reason)


@pytest.mark.parametrize("ending", [b"\r\n", b""])
def test_an_unreadable_header_line_is_quoted_without_its_line_break(ending: bytes) -> None:
    # The error quotes the line that is neither a field nor a fold, at its offset; the CR
    # of a CRLF (or the end of the message) ends the line and is not part of the quote.
    message = b"From: a@castle.test\r\nnot a field" + ending
    problem = dkim.unreadable(message)
    assert problem is not None
    assert problem.offset == message.index(b"not a field")
    assert problem.reason.endswith(": 'not a field'")


def test_a_field_name_refusal_cites_the_rfc_section_last() -> None:
    with pytest.raises(AuthError) as error:
        dkim.field_names(["to:"])
    assert str(error.value).endswith("RFC 5322 §3.6.8)")


def test_an_unreadable_signature_gives_the_libraries_reason_not_only_its_kind() -> None:
    # A t= past CPython's 4,300-digit limit: dkimpy's int() raises; the reason says why.
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", signing_key("ed25519"))
    hostile = re.sub(rb"([;\s])t=", rb"\1t=" + b"9" * 5000, signed, count=1)
    (result,) = dkim.verify_all(hostile, lookup_for(signing_key("ed25519")))
    assert result.result == "permerror"
    assert result.reason.startswith("unreadable signature: ") and "limit" in result.reason


def test_a_signature_whose_tags_cannot_be_read_reports_no_tag_it_lacks() -> None:
    # Nothing is invented for a tag the signature does not carry: empty, and i= defaults to
    # "@" and the (empty) domain (§3.5).
    broken = b"DKIM-Signature: this is no tag list\r\n" + MESSAGE
    (result,) = dkim.verify_all(broken, StaticLookup({}))
    assert result.result == "permerror"
    assert (result.domain, result.selector, result.algorithm, result.signature_b) == (
        "",
        "",
        "",
        "",
    )
    assert result.identity == "@"


def test_signature_b_skips_folding_white_space_inside_b() -> None:
    # §3.5: FWS inside b= is not part of the value; it may come anywhere, even at its start.
    key = signing_key("ed25519")
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", key)
    b_value = dict(parse_tag_value(parse(signed).fields[0].raw_value))[b"b"].decode()
    first = "".join(b_value.split())
    folded = signed.replace(f"b={first[:3]}".encode(), f"b={first[:3]}\r\n\t".encode(), 1)
    (result,) = dkim.verify_all(folded, lookup_for(key))
    assert (result.result, result.signature_b) == ("pass", first[:8])


def test_a_selector_of_several_labels_is_written_as_one_name() -> None:
    # RFC 6376 §3.1: a selector may have periods ("sub-domain *("." sub-domain)").
    key = signing_key("ed25519")
    signed = dkim.sign(MESSAGE, DOMAIN, "mail.2026", key)
    assert b"s=mail.2026;" in signed
    (result,) = dkim.verify_all(signed, lookup_for(key, "mail.2026"))
    assert (result.result, result.selector) == ("pass", "mail.2026")


class _BrokenLookup:
    """A fault injected on purpose: a lookup that raises an error with no message."""

    def records(self, name: str, rdtype: str) -> list[object]:
        raise KeyError


def test_an_unreadable_signature_with_a_silent_error_is_named_by_the_error() -> None:
    signed = dkim.sign(MESSAGE, DOMAIN, "s1", signing_key("ed25519"))
    (result,) = dkim.verify_all(signed, _BrokenLookup())  # type: ignore[arg-type]
    assert result.result == "permerror"
    assert result.reason == "unreadable signature: KeyError"
