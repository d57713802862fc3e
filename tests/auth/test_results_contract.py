"""What stack.auth.results promises beyond the main tests: RFC 8601 §5's removal of forged
Authentication-Results reads the authserv-id even from a field authres cannot parse."""

from __future__ import annotations

import re
from dataclasses import replace
from itertools import pairwise

import authres
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.auth.dkim import DkimResult
from stack.auth.results import (
    DmarcVerdict,
    _fold,
    arc_result,
    authentication_results,
    authserv_id_of,
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


@pytest.mark.parametrize(
    "value",
    [
        "mx.castle.test; spf",
        "mx.castle.test;spf=pass (((; dkim",
        "mx.castle.test 1; dkim=pass ((; spf=",
    ],
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


IP = "192.0.2.1"
SENDER = "ophelia@castle.test"


def spf(result: str, identity: str = "mailfrom", explanation: str = "") -> SpfResult:
    return SpfResult(
        result,  # type: ignore[arg-type]
        identity,  # type: ignore[arg-type]
        IP,
        SENDER if identity == "mailfrom" else "postmaster@mx.castle.test",
        "mx.castle.test",
        "castle.test",
        explanation,
        f"ip4:{IP}" if result == "pass" else None,
    )


def comment(value: str) -> str:
    """The comment after the result, unfolded, without its parentheses."""
    head = " ".join(value.split("\n\t", maxsplit=1)[0].split("\n "))
    found = re.fullmatch(r"\w+ \((.*)\)", head)
    assert found is not None, value
    return found.group(1)


# RFC 7208 §9.1's examples of the comment, one per result, for the MAIL FROM identity.
SUMMARIES = {
    "pass": f"domain of {SENDER} designates {IP} as permitted sender",
    "fail": f"domain of {SENDER} does not designate {IP} as permitted sender",
    "softfail": f"transitioning domain of {SENDER} does not designate {IP} as permitted sender",
    "neutral": f"{IP} is neither permitted nor denied by domain of {SENDER}",
    "none": f"domain of {SENDER} does not designate permitted sender hosts",
    "temperror": f"error in processing during lookup of {SENDER}",
    "permerror": f"permanent error in processing domain of {SENDER}",
}


@pytest.mark.parametrize("result", sorted(SUMMARIES))
def test_received_spf_says_the_result_in_rfc_7208s_words(result: str) -> None:
    value = received_spf(spf(result), "mx.castle.test")
    assert value.startswith(f"{result} (")
    assert comment(value) == f"mx.castle.test: {SUMMARIES[result]}"


def test_the_helo_identity_is_named_as_the_helo_in_the_comment() -> None:
    value = received_spf(spf("fail", "helo"), "mx.castle.test")
    assert comment(value) == (
        f"mx.castle.test: helo mx.castle.test does not designate {IP} as permitted sender"
    )
    assert "identity=helo;" in value


def written(identity: str) -> str:
    """The header.i a dkim= result is written with, for a signature whose i= is ``identity``."""
    result = DkimResult("pass", "castle.test", "s1", "rsa-sha256", identity)
    value = authentication_results("mx.castle.test", [dkim_result(result)])
    found = re.search(r"header\.i=(\S+)", value)
    assert found is not None, value
    return found.group(1)


@pytest.mark.parametrize(
    ("identity", "pvalue"),
    [
        ("@castle.test", "@castle.test"),  # §2.2: the local-part is optional
        ("ophelia@castle.test", "ophelia@castle.test"),
        ('"a@b"@castle.test', '"a@b"@castle.test'),  # the domain follows the last "@"
        ("a(b@castle.test", '"a(b"@castle.test'),  # a local-part that is no dot-atom: quoted
        ("x@not_a_domain", '"x@not_a_domain"'),  # no domain-name after the "@": all quoted
    ],
)
def test_an_identity_is_written_as_rfc_8601s_pvalue(identity: str, pvalue: str) -> None:
    # RFC 8601 §2.2: pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]
    assert written(identity) == pvalue


def test_no_results_is_written_as_none() -> None:
    # RFC 8601 §2.2: "none" when no authentication method was applied.
    value = authentication_results("mx.castle.test", [])
    parsed = authres.AuthenticationResultsHeader.parse_value(value)
    assert (parsed.authserv_id, parsed.results) == ("mx.castle.test", [])
    assert value.endswith("; none")


def test_a_method_version_reason_and_property_comment_are_written_and_read_back() -> None:
    # RFC 8601 §2.2: methodspec = method [ "/" version ] "=" result; reasonspec; propspec
    # with an optional comment, whose parentheses are escaped (RFC 5322 §3.2.2).
    prop = authres.AuthenticationResultProperty("header", "d", "castle.test", comment="a (b)")
    result = authres.AuthenticationResult(
        method="dkim", version="1", result="pass", reason="good key", properties=[prop]
    )
    value = authentication_results("mx.castle.test", [result])
    assert "dkim/1=pass " in value
    assert 'reason="good key"' in value
    assert "header.d=castle.test (a \\(b\\))" in value
    parsed = authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
    (read,) = parsed.results
    assert (read.method, read.version, read.result, read.reason) == (
        "dkim",
        "1",
        "pass",
        "good key",
    )


@pytest.mark.parametrize(
    ("place", "result"),
    [
        ("method", authres.AuthenticationResult(method="dk\nim", result="pass")),
        (
            "method version",
            authres.AuthenticationResult(method="dkim", version="1\r", result="pass"),
        ),
        ("result", authres.AuthenticationResult(method="dkim", result="pa\0ss")),
        (
            "property",
            authres.AuthenticationResult(
                method="dkim",
                result="pass",
                properties=[authres.AuthenticationResultProperty("head\ner", "d", "x")],
            ),
        ),
    ],
)
def test_our_own_words_with_a_control_character_are_refused_naming_the_place(
    place: str, result: authres.AuthenticationResult
) -> None:
    # The module's contract: what we write ourselves is checked, never escaped.
    with pytest.raises(UnsafeTextError, match=rf"^{place}: "):
        authentication_results("mx.castle.test", [result])


def test_a_property_without_a_value_is_written_as_an_empty_quoted_string() -> None:
    prop = authres.AuthenticationResultProperty("header", "d", None)
    result = authres.AuthenticationResult(method="dkim", result="none", properties=[prop])
    assert 'header.d=""' in authentication_results("mx.castle.test", [result])


WORDS = st.lists(st.text(st.sampled_from("abé("), min_size=1, max_size=12), min_size=1)


@given(WORDS, st.integers(1, 80))
def test_folding_breaks_only_where_a_line_would_pass_the_width(
    words: list[str], width: int
) -> None:
    # §2.2.3 folding, greedily: a line (without the space the fold starts it with) passes the
    # width only when it is a single word, and it is broken only when the next word would
    # not fit on it.
    first, *rest = _fold(" ".join(words), width).split("\n")
    lines = [first, *(line.removeprefix(" ") for line in rest)]
    for line in lines:
        assert len(line) <= width or " " not in line, lines
    for before, after in pairwise(lines):
        assert len(before) + 1 + len(after.split(" ")[0]) > width, lines


def test_a_word_of_unicode_white_space_is_text_not_a_place_to_fold() -> None:
    # RFC 5322 §2.2.3 folds at WSP, which is SP and HTAB only: a line holding U+3000 is not
    # a line of white space, so a fold may follow it.
    text = "x" * 72 + " \u3000 " + "y" * 71
    assert _fold(text, 72) == "x" * 72 + "\n \u3000\n " + "y" * 71


def read_back(
    *results: authres.core.AuthenticationResult,
) -> list[authres.core.AuthenticationResult]:
    value = authentication_results("mx.castle.test", list(results))
    return list(authres.AuthenticationResultsHeader.parse_value(" ".join(value.split())).results)


def properties(result: authres.core.AuthenticationResult) -> dict[str, str]:
    return {f"{p.type}.{p.name}": str(p.value) for p in result.properties}


def test_spf_reports_the_identity_it_checked() -> None:
    # RFC 8601 §2.7.2: smtp.mailfrom for the MAIL FROM identity, smtp.helo for HELO's.
    (mailfrom, helo) = read_back(spf_result(spf("fail")), spf_result(spf("pass", "helo")))
    assert properties(mailfrom) == {"smtp.mailfrom": SENDER}
    assert properties(helo) == {"smtp.helo": "mx.castle.test"}
    assert [(r.method, r.result) for r in (mailfrom, helo)] == [("spf", "fail"), ("spf", "pass")]


def test_dkim_reports_the_signatures_tags_and_its_b_only_when_known() -> None:
    # RFC 8601 §2.7.1 (header.d, header.i), RFC 6008 (header.b), RFC 8616/IANA (header.s,
    # header.a); a result for a signature with no b= has no header.b to tell it apart.
    known = DkimResult("fail", "castle.test", "s1", "rsa-sha256", "@castle.test", "bad", "AbCd1234")
    (with_b, without_b) = read_back(
        dkim_result(known),
        dkim_result(DkimResult("permerror", "castle.test", "s1", "", "@castle.test")),
    )
    assert (with_b.result, with_b.reason) == ("fail", "bad")
    assert properties(with_b) == {
        "header.d": "castle.test",
        "header.i": "@castle.test",
        "header.s": "s1",
        "header.a": "rsa-sha256",
        "header.b": "AbCd1234",
    }
    assert "header.b" not in properties(without_b)


def test_dmarc_and_arc_report_their_result_reason_and_properties() -> None:
    # RFC 7489 §11.2: dmarc= with header.from and the policy; RFC 8617 §10.2: arc= with
    # smtp.remote-ip.
    verdict = DmarcVerdict("fail", "castle.test", "reject", "no aligned pass")
    (dmarc, arc) = read_back(dmarc_result(verdict), arc_result("pass", "192.0.2.1"))
    assert (dmarc.method, dmarc.result, dmarc.reason) == ("dmarc", "fail", "no aligned pass")
    assert properties(dmarc) == {"header.from": "castle.test", "policy.dmarc": "reject"}
    assert (arc.method, arc.result) == ("arc", "pass")
    assert properties(arc) == {"smtp.remote-ip": "192.0.2.1"}


def pairs(value: str) -> dict[str, str]:
    """Received-SPF's key-value pairs (RFC 7208 §9.1), each ended by ";" after FWS."""
    _, sep, rest = value.partition("\n\t")
    assert sep, value
    found = re.fullmatch(r'(?:[\w-]+=(?:"(?:[^"\\]|\\.)*"|[^\s;"]+);(?:\n\t|$))+', rest)
    assert found is not None, rest
    return {
        key: value.removeprefix('"').removesuffix('"')
        for key, value in re.findall(r'([\w-]+)=("(?:[^"\\]|\\.)*"|[^\s;"]+);', rest)
    }


def test_received_spf_names_a_mechanism_only_when_one_matched_and_a_problem_on_error() -> None:
    # RFC 7208 §9.1: mechanism= is the mechanism that matched; problem= is for an error.
    passed = pairs(received_spf(spf("pass"), "mx.castle.test"))
    assert set(passed) == {
        "client-ip",
        "envelope-from",
        "helo",
        "receiver",
        "identity",
        "mechanism",
    }  # §9.1's key names, as written there
    assert passed["mechanism"] == f"ip4:{IP}" and "problem" not in passed
    told = replace(spf("fail"), mechanism="-all", explanation="not from here")
    failed = pairs(received_spf(told, "mx.castle.test"))
    assert failed["mechanism"] == "-all" and "problem" not in failed
    for error in ("temperror", "permerror"):
        broken = replace(spf(error), mechanism="mx", explanation="bad record")
        written = pairs(received_spf(broken, "mx.castle.test"))
        assert written["problem"] == "bad record" and "mechanism" not in written


def test_a_hostile_mechanism_is_escaped_like_every_value_someone_else_chose() -> None:
    hostile = replace(spf("pass"), mechanism="a:x\r\nX-Injected: yes")
    written = pairs(received_spf(hostile, "mx.castle.test"))
    assert "\r" not in written["mechanism"] and "\\x0d" in written["mechanism"]
