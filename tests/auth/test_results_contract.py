"""What stack.auth.results promises beyond the main tests: RFC 8601 §5's removal of forged
Authentication-Results reads the authserv-id even from a field authres cannot parse."""

from __future__ import annotations

import pytest

from stack.auth.results import authserv_id_of, remove_forged
from stack.mime import parse

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(
    "value",
    ["mx.castle.test; spf", "mx.castle.test;spf=pass (((", "mx.castle.test 1; dkim=pass (("],
)
def test_an_unparsable_field_still_names_the_authserv_id_it_claims(value: str) -> None:
    # RFC 8601 §2.2: the authserv-id is everything before the first ";" (and an optional
    # version after white space); the rest being unreadable does not hide whose it claims.
    assert authserv_id_of(value) == "mx.castle.test"


@pytest.mark.parametrize("value", ["", " ; spf=pass"])
def test_a_field_without_an_authserv_id_claims_none(value: str) -> None:
    assert authserv_id_of(value) is None


def test_a_forged_field_authres_cannot_parse_is_removed_all_the_same() -> None:
    # §5: a field claiming our authserv-id that arrives from outside is forged, readable or not.
    message = parse(
        b"Authentication-Results: mx.castle.test; dkim=pass (((\r\n"
        b"From: a@evil.test\r\n\r\nbody\r\n"
    )
    assert remove_forged(message, "mx.castle.test") == 1
    assert bytes(message) == b"From: a@evil.test\r\n\r\nbody\r\n"
