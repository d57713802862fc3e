"""Every field the stack writes stays one field, whatever someone else put in its values.

For each builder (Received-SPF, Authentication-Results, the verifier's stamp, DKIM-Signature,
an ARC set, the spam filter's verdict) hostile values (``harness.strategies.hostile_text``:
injections, bare CRs, NULs, lone surrogates, runs over 998 octets) either come out escaped or,
for configuration, are refused with a typed error.  What is written parses back as exactly
the fields added, on lines of at most 998 octets, with no CR, LF or NUL but the folds.
"""

from __future__ import annotations

import re

import authres
import pytest
from auth_testbed import DOMAIN, MESSAGE, signing_key
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.strategies import hostile_text
from stack.auth import arc, dkim, dmarc, inbound, results
from stack.auth.dkim import DkimResult
from stack.auth.spf import RESULTS, SpfResult
from stack.errors import ElsinoreError
from stack.mime import parse
from stack.spam.mark import mark
from stack.spam.verdict import Score, Verdict

pytestmark = pytest.mark.timeout(120)

AUTHSERV_ID = "mx.castle.test"
_NON_ASCII = re.compile(r"[^\x00-\x7f]")

spf_results = st.builds(
    SpfResult,
    result=st.sampled_from(RESULTS),
    identity=st.sampled_from(("mailfrom", "helo")),
    ip=hostile_text(),
    sender=hostile_text(),
    helo=hostile_text(),
    domain=hostile_text(),
    explanation=hostile_text(),
    mechanism=st.none() | hostile_text(),
)
dkim_results = st.builds(
    DkimResult,
    result=st.sampled_from(("pass", "fail", "neutral", "temperror", "permerror")),
    domain=hostile_text(),
    selector=hostile_text(),
    algorithm=hostile_text(),
    identity=hostile_text(),
    reason=hostile_text(),
    signature_b=hostile_text(),
)
dmarc_verdicts = st.builds(
    results.DmarcVerdict,
    result=st.sampled_from(("pass", "fail", "none", "temperror", "permerror")),
    header_from=hostile_text(),
    policy=hostile_text(),
    reason=hostile_text(),
)


def written(data: bytes, added: list[str]) -> list[bytes]:
    """Check that ``data`` is MESSAGE with exactly the fields ``added`` on top, each on lines
    of at most 998 octets with no CR, LF or NUL but a fold's CRLF; their raw bytes."""
    fields = [field for field in parse(data).fields if field.is_field]
    names = [field.name for field in fields]
    original = [field.name for field in parse(MESSAGE).fields if field.is_field]
    assert names == [*added, *original], data[:2000]
    assert data.endswith(MESSAGE)
    raws = [field.raw for field in fields[: len(added)]]
    for raw in raws:
        assert raw.endswith(b"\r\n") and b"\0" not in raw, raw
        lines = raw[:-2].split(b"\r\n")
        assert all(b"\r" not in line and b"\n" not in line for line in lines), raw
        assert all(line[:1] in (b" ", b"\t") for line in lines[1:]), raw
        assert max(map(len, lines)) <= 998, max(map(len, lines))
    return raws


def results_of(raw: bytes) -> list[tuple[str, str]]:
    """The (method, result) pairs an RFC 8601 reader finds in an Authentication-Results."""
    value = parse(raw + b"\r\n").fields[0].unfolded()
    # authres reads ASCII only; every non-ASCII character we write is inside a quoted-string.
    header = authres.AuthenticationResultsHeader.parse_value(_NON_ASCII.sub("x", value))
    return [(result.method, result.result) for result in header.results]


@settings(max_examples=150, deadline=None)
@given(spf_results)
def test_received_spf_is_one_field(spf: SpfResult) -> None:
    tree = parse(MESSAGE)
    tree.prepend(results.RECEIVED_SPF, results.received_spf(spf, AUTHSERV_ID))
    written(bytes(tree), [results.RECEIVED_SPF])


@settings(max_examples=150, deadline=None)
@given(spf_results, st.lists(dkim_results, max_size=3), dmarc_verdicts, hostile_text())
def test_authentication_results_is_one_field_with_our_results_only(
    spf: SpfResult,
    dkims: list[DkimResult],
    verdict: results.DmarcVerdict,
    remote_ip: str,
) -> None:
    entries = [results.spf_result(spf), *map(results.dkim_result, dkims)]
    entries += [results.dmarc_result(verdict), results.arc_result("fail", remote_ip or None)]
    tree = parse(MESSAGE)
    tree.prepend(
        results.AUTHENTICATION_RESULTS, results.authentication_results(AUTHSERV_ID, entries)
    )
    (raw,) = written(bytes(tree), [results.AUTHENTICATION_RESULTS])
    expected = [(entry.method, entry.result) for entry in entries]
    assert results_of(raw) == expected


@settings(max_examples=100, deadline=None)
@given(spf_results, st.lists(dkim_results, max_size=2), hostile_text())
def test_the_verifiers_stamp_adds_exactly_two_fields(
    spf: SpfResult, dkims: list[DkimResult], from_domain: str
) -> None:
    outcome = dmarc.DmarcOutcome(result="fail", from_domain=from_domain, reason=from_domain)
    verdict = inbound.Verdict(spf, tuple(dkims), outcome, arc.ArcChain("fail", 1, from_domain))
    stamped = inbound.stamp(MESSAGE, verdict, AUTHSERV_ID)
    written(stamped, [results.AUTHENTICATION_RESULTS, results.RECEIVED_SPF])


@settings(max_examples=60, deadline=None)
@given(st.one_of(hostile_text(), st.just(DOMAIN)), st.one_of(hostile_text(), st.just("s1")))
def test_a_dkim_signature_is_one_field_or_a_refused_name(domain: str, selector: str) -> None:
    try:
        signed = dkim.sign(MESSAGE, domain, selector, signing_key("ed25519"))
    except ElsinoreError:
        return
    written(signed, ["DKIM-Signature"])


@settings(max_examples=30, deadline=None)
@given(
    st.one_of(hostile_text(), st.just(DOMAIN)),
    st.one_of(hostile_text(), st.just("arc")),
    st.one_of(hostile_text(), st.just("relay.castle.test")),
)
def test_an_arc_set_is_three_fields_or_a_refused_name(
    domain: str, selector: str, authserv_id: str
) -> None:
    ours = results.authentication_results("relay.castle.test", [results.arc_result("none")])
    tree = parse(MESSAGE)
    tree.prepend(results.AUTHENTICATION_RESULTS, ours)
    try:
        sealed = arc.seal(bytes(tree), domain, selector, signing_key("rsa"), authserv_id)
    except ElsinoreError:
        return
    names = ["ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"]
    written(sealed, [*names, results.AUTHENTICATION_RESULTS])


@settings(max_examples=100, deadline=None)
@given(hostile_text(), st.lists(st.tuples(hostile_text(), st.floats(0, 1))), st.floats(0, 1))
def test_the_spam_verdict_is_two_fields_or_a_refused_classifier(
    classifier: str, evidence: list[tuple[str, float]], probability: float
) -> None:
    score = Score(Verdict.UNKNOWN, probability, tuple(evidence))
    try:
        marked = mark(MESSAGE, score, classifier)
    except ElsinoreError:
        return
    written(marked, ["X-Spamtacus", "X-Spamtacus-Score"])
