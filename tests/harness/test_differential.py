"""Differential property: what our encoder writes, CPython's ``email`` (policy.default) reads
as the same addresses, decoded subjects, parameters and bodies.

Every disagreement is explained by exactly one entry of :data:`KNOWN`: a CPython bug (with its
issue number and the RFC clause it breaks) or one of ours (with the clause we break and why it
stays).  A disagreement no entry explains fails the test with its example.  Each entry carries a
minimal witness that is asserted to still disagree, so the list cannot outlive the bugs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given

from harness.adapters import compare, get, view_of_mail
from harness.strategies import messages
from stack.mime import Mail, Text, decode, encode

STDLIB = get("stdlib-default")
# A surrogate escape (an undecoded 8-bit byte) as ``compare`` prints it.
_ESCAPED = re.compile(r"\\udc[89a-f][0-9a-f]")
# Two encoded-words separated by white space (and perhaps a fold).
_ADJACENT_WORDS = re.compile(rb"\?=(?:\r\n)?[ \t]+=\?")
# An unquoted parameter value (a token) holding an apostrophe, an asterisk or a percent sign.
_RFC2231_CHAR_IN_TOKEN = re.compile(
    rb"(?im)^content-(?:type|disposition):(?:[^\r]|\r\n[ \t])*?=[^\"\s;]*['*%]"
)


@dataclass(frozen=True)
class Known:
    """One explained disagreement: whose bug it is, the clause, and how to recognise it."""

    key: str
    whose: str  # "CPython" or "ours"
    clause: str
    what: str
    explains: Callable[[Mail, bytes, str, str], bool]
    witness: bytes
    witness_category: str


def _rfc6532(mail: Mail, wire: bytes, category: str, detail: str) -> bool:
    return category in ("addresses", "encoded-words") and bool(_ESCAPED.search(detail))


def _spaced_encoded_words(mail: Mail, wire: bytes, category: str, detail: str) -> bool:
    if category not in ("addresses", "encoded-words") or not _ADJACENT_WORDS.search(wire):
        return False
    # Compared without any white space: the inserted space may come with gh-128110's
    # neighbour below (a TAB read as a space) in the same name.
    want, _, have = detail.partition(" read as ")
    return _no_space(want.split(": ", 1)[-1]) == _no_space(have)


def _no_space(text: str) -> str:
    return re.sub(r"(?:\\t| )+", "", text)


def _white_space_in_encoded_name(mail: Mail, wire: bytes, category: str, detail: str) -> bool:
    want, _, have = detail.partition(" read as ")
    return category == "addresses" and _one_space(want.split(": ", 1)[-1]) == _one_space(have)


def _one_space(text: str) -> str:
    return re.sub(r"(?:\\t| )+", " ", text)


def _apostrophe(mail: Mail, wire: bytes, category: str, detail: str) -> bool:
    return category in ("parameters", "structure", "bodies", "crash") and bool(
        _RFC2231_CHAR_IN_TOKEN.search(wire)
    )


def _unknown_type(mail: Mail, wire: bytes, category: str, detail: str) -> bool:
    return category == "crash" and detail.startswith("KeyError: 'binary/")


def _ascii_label(mail: Mail, wire: bytes, category: str, detail: str) -> bool:
    return category == "bodies" and any(
        isinstance(node.body, Text)
        and node.content_type.charset == "us-ascii"
        and not node.body.text.isascii()
        for node in mail.walk()
    )


KNOWN: tuple[Known, ...] = (
    Known(
        "gh-99927",
        "CPython",
        "RFC 6532 3.2",
        "message_from_bytes reads UTF-8 in header fields (SMTPUTF8 addresses, raw UTF-8 "
        "text) as surrogate escapes of its bytes, not as UTF-8",
        _rfc6532,
        "From: J\u00f6rg <j\u00f6rg@example.org>\r\n\r\nx\r\n".encode(),
        "addresses",
    ),
    Known(
        "gh-128110",
        "CPython",
        "RFC 2047 6.2 (white space between adjacent encoded-words is ignored)",
        "policy.default keeps the white space between two adjacent encoded-words in a "
        "display name, splitting a name where the encoder split the words",
        _spaced_encoded_words,
        b"From: =?utf-8?q?Ab?= =?utf-8?q?cd?= <a@example.org>\r\n\r\nx\r\n",
        "addresses",
    ),
    Known(
        "unfiled-white-space-in-encoded-phrase",
        "CPython",
        "RFC 2047 5(3) and 6.2 (an encoded-word's text is the decoded characters)",
        "policy.default collapses a run of white space decoded from an encoded-word in a "
        "display name into one space, and a TAB into a space (quoted ones, and encoded ones "
        "in Subject, are kept); no CPython issue is known to us yet",
        _white_space_in_encoded_name,
        b"From: =?utf-8?q?a=09b?= <a@example.org>\r\n\r\nx\r\n",
        "addresses",
    ),
    Known(
        "gh-153823",
        "CPython",
        "RFC 2045 5.1 (an apostrophe is not a tspecial)",
        "policy.default ends an unquoted parameter value at an apostrophe (and, by the same "
        "ASPECIALS set, at '*' and '%'): the parameter is lost, and a multipart whose "
        "boundary holds one is not split",
        _apostrophe,
        b"Content-Type: text/plain; name=O'Brien\r\n\r\nx\r\n",
        "parameters",
    ),
    Known(
        "gh-86220",
        "CPython",
        "RFC 2049 2 (an unrecognised type is treated as application/octet-stream)",
        "get_content() raises KeyError for a media type it has no handler for, such as "
        "binary/octet-stream",
        _unknown_type,
        b"Content-Type: binary/octet-stream\r\n\r\nx\r\n",
        "crash",
    ),
    Known(
        "elsinore-us-ascii-8bit",
        "ours",
        "RFC 2046 4.1.2 (the charset parameter must describe the text)",
        "a Text body under charset=us-ascii that holds non-ASCII is written as UTF-8 under "
        "the us-ascii label; the model reads mislabelled 8-bit bodies as UTF-8 (real mail "
        "is full of them) and decode(encode(m)) must hold, so the encoder keeps the label",
        _ascii_label,
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9\r\n",
        "bodies",
    ),
)


def disagreements(mail: Mail, wire: bytes) -> list[tuple[str, str]]:
    """How policy.default's reading of ``wire`` differs from ``mail`` (crashes included)."""
    try:
        got = STDLIB.view(wire)
    except Exception as error:
        return [("crash", f"{type(error).__name__}: {error}")]
    return compare(view_of_mail(mail), got)


def unexplained(mail: Mail, wire: bytes) -> list[tuple[str, str]]:
    return [
        (category, detail)
        for category, detail in disagreements(mail, wire)
        if not any(known.explains(mail, wire, category, detail) for known in KNOWN)
    ]


@given(messages())
def test_stdlib_reads_what_our_encoder_writes_except_for_known_bugs(mail: Mail) -> None:
    wire = encode(mail)
    found = unexplained(mail, wire)
    assert not found, f"unexplained disagreement with policy.default: {found}\nbytes: {wire!r}"


@pytest.mark.parametrize("known", KNOWN, ids=lambda known: known.key)
def test_every_known_disagreement_still_happens(known: Known) -> None:
    mail = decode(known.witness)
    found = disagreements(mail, known.witness)
    assert any(category == known.witness_category for category, _ in found), found
    assert all(known.explains(mail, known.witness, c, d) for c, d in found), found


def test_every_known_entry_names_its_owner_and_clause() -> None:
    for known in KNOWN:
        assert known.whose in ("CPython", "ours")
        assert known.clause.startswith("RFC ")
        if known.whose == "CPython":
            assert known.key.startswith(("gh-", "unfiled-"))
