"""What stack.auth.dkim promises beyond the main tests: the reasons a result or a refusal
gives (RFC 6376 §6.1.2, §5.4.1), and the h= list's first field."""

from __future__ import annotations

import pytest
from auth_testbed import DOMAIN, MESSAGE, signing_key

from stack.auth import dkim
from stack.auth.errors import AuthError
from stack.auth.lookup import StaticLookup

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
