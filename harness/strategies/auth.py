"""Hostile authentication input: whole DKIM signatures, whole ARC sets, and the DNS records a
verifier reads, as an attacker would write them.

A verifier must give a result (``pass``, ``fail``, ``permerror``, ``temperror``...) for any
message, never an exception: one that crashes on a crafted signature is one an attacker can
switch off.  Random bytes rarely get past the first tag; these strategies write *plausible*
tag lists (RFC 6376 §3.5, RFC 8617 §4.1) whose values are sometimes right and sometimes
hostile, so a verifier is driven deep into key lookup, canonicalisation and chain validation:

- :func:`dkim_signatures`: a ``DKIM-Signature`` field (bytes, with its CRLF): tags missing,
  repeated, unknown or out of order; non-ASCII and over-long selectors, bad base64, ``i=``
  outside ``d=``, ``l=`` past any integer CPython reads, unknown algorithms and
  canonicalisations, empty or colon-only ``h=``;
- :func:`arc_sets`: one ARC set (``ARC-Seal``, ``ARC-Message-Signature``,
  ``ARC-Authentication-Results``) with such values, instances out of range, missing or
  repeated members, ``cv=`` of any kind;
- :func:`hostile_messages`: a message with signatures and sets on top; given a ``base`` that
  really is signed and sealed, also that message with one tag of one of its fields rewritten,
  which keeps every other part valid;
- :func:`spf_records` and :func:`dmarc_records`: TXT records for a verifier to look up.

Values are bytes: a header can hold any byte, valid UTF-8 or not.  :func:`check_verification`
is the contract the property tests and the fuzz targets hold every verifier to, and
:func:`fixed_key` / :func:`castle_lookup` the castle.test they verify against.
"""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import strategies as st

from harness.strategies.hostile import hostile_text
from stack.auth import arc, dkim, dmarc, inbound, keys, spf
from stack.auth.lookup import DnsLookup, StaticLookup
from stack.auth.publish import txt_rdata
from stack.mime import parse

__all__ = [
    "arc_sets",
    "castle_lookup",
    "check_verification",
    "dkim_signatures",
    "dmarc_records",
    "fixed_key",
    "hostile_bytes",
    "hostile_messages",
    "spf_records",
    "tag_lists",
]

DOMAIN = b"castle.test"

#: Bytes an attacker chooses: hostile text written as UTF-8 (lone surrogates as the invalid
#: bytes they stand for), and arbitrary bytes.
_hostile_bytes = st.one_of(
    hostile_text(max_pieces=4).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
)


def hostile_bytes() -> st.SearchStrategy[bytes]:
    """:func:`~harness.strategies.hostile.hostile_text` as bytes, or arbitrary bytes."""
    return _hostile_bytes


def _b64(min_size: int, max_size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=min_size, max_size=max_size).map(base64.b64encode)


_BAD_BASE64 = st.sampled_from([b"", b"!!!!", b"a", b"abc=d", b"====", b"YQ", b"\xff\xfe", b"a b"])
_NUMBERS = st.one_of(
    st.integers(0, 2**64).map(lambda n: str(n).encode()),
    st.sampled_from([b"-1", b"0", b"+5", b"1e9", b"0x10", b"", b"\xd9\xa3", b"9" * 5000]),
)


def _either(*good: bytes) -> st.SearchStrategy[bytes]:
    """Mostly one of the ``good`` values, sometimes hostile bytes."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), _hostile_bytes)


_SELECTORS = st.one_of(
    st.sampled_from([b"s1", b"arc", b"s\xc3\xa9l", b"s\xff", b"a..b", b"x" * 70, b"", b"-s"]),
    _hostile_bytes,
)
_DOMAINS = st.one_of(
    st.sampled_from([DOMAIN, b"CASTLE.TEST", b"evil.test", b"test", b"ch\xc3\xa2teau.test"]),
    st.sampled_from([b"a" * 64 + b".test", b".castle.test", b"castle.test.", b""]),
    _hostile_bytes,
)
_HEADERS = _either(b"from", b"from:to:subject", b"from:from:from:to", b":", b"", b"from:\xff")

DKIM_TAGS: dict[bytes, st.SearchStrategy[bytes]] = {
    b"v": _either(b"1", b"2", b""),
    b"a": _either(b"rsa-sha256", b"ed25519-sha256", b"rsa-sha1", b"hmac-md5", b"RSA-SHA256"),
    b"c": _either(b"relaxed/relaxed", b"simple", b"relaxed", b"simple/foo", b"/"),
    b"d": _DOMAINS,
    b"s": _SELECTORS,
    b"h": _HEADERS,
    b"i": _either(b"@castle.test", b"a@castle.test", b"@sub.castle.test", b"@evil.test", b"@"),
    b"l": _NUMBERS,
    b"q": _either(b"dns/txt", b"dns", b"http/get"),
    b"t": _NUMBERS,
    b"x": _NUMBERS,
    b"z": _either(b"From:a@castle.test|To:b", b"|||"),
    b"bh": st.one_of(_b64(32, 32), _b64(0, 80), _BAD_BASE64),
    b"b": st.one_of(_b64(64, 64), _b64(256, 256), _b64(0, 300), _BAD_BASE64),
}
DKIM_REQUIRED = (b"v", b"a", b"b", b"bh", b"d", b"h", b"s")

_INSTANCES = st.one_of(st.integers(1, 3).map(lambda n: str(n).encode()), _NUMBERS)

#: ``i=`` is written first by :func:`arc_sets`, the same in all three fields of a set.
ARC_SEAL_TAGS: dict[bytes, st.SearchStrategy[bytes]] = {
    b"a": _either(b"rsa-sha256", b"ed25519-sha256", b"rsa-sha1"),
    b"cv": _either(b"none", b"pass", b"fail", b"PASS", b""),
    b"d": _DOMAINS,
    b"s": _SELECTORS,
    b"t": _NUMBERS,
    b"b": DKIM_TAGS[b"b"],
}
ARC_MESSAGE_SIGNATURE_TAGS = {name: v for name, v in DKIM_TAGS.items() if name != b"i"}
ARC_SEAL_REQUIRED = (b"a", b"cv", b"d", b"s", b"b")
_SEPARATORS = st.sampled_from([b"; ", b";", b";\r\n\t", b" ; ", b";\r\n "])


@st.composite
def tag_lists(
    draw: st.DrawFn,
    tags: dict[bytes, st.SearchStrategy[bytes]],
    required: tuple[bytes, ...] = (),
) -> bytes:
    """A tag-list (RFC 6376 §3.2): the ``required`` tags mostly present, the others sometimes;
    now and then a tag repeated, an unknown one, or the order shuffled."""
    names = [
        name
        for name in tags
        if draw(st.integers(0, 9)) < (9 if name in required else 4)  # 90%, 40%
    ]
    if names and draw(st.integers(0, 9)) == 0:
        names.append(draw(st.sampled_from(names)))  # a duplicate tag: a permerror
    if draw(st.integers(0, 9)) == 0:
        names = draw(st.permutations(names))
    pairs = [name + b"=" + draw(tags[name]) for name in names]
    if draw(st.integers(0, 9)) == 0:
        pairs.append(draw(st.sampled_from([b"foo=bar", b"=", b"x", b"v1=\xff", b""])))
    return draw(_SEPARATORS).join(pairs) + draw(st.sampled_from([b"", b";", b"; "]))


def dkim_signatures() -> st.SearchStrategy[bytes]:
    """One whole ``DKIM-Signature`` field, name to CRLF."""
    return tag_lists(DKIM_TAGS, DKIM_REQUIRED).map(
        lambda tags: b"DKIM-Signature: " + tags + b"\r\n"
    )


@st.composite
def arc_sets(draw: st.DrawFn) -> bytes:
    """One ARC set: its three fields (sometimes one missing or repeated), ARC-Seal on top."""
    instance = draw(_INSTANCES)
    seal = tag_lists(ARC_SEAL_TAGS, ARC_SEAL_REQUIRED)
    signature = tag_lists(ARC_MESSAGE_SIGNATURE_TAGS, DKIM_REQUIRED)
    results = draw(
        _either(b"castle.test; arc=none", b"relay.test; spf=pass smtp.mailfrom=a@castle.test")
    )
    fields = [
        b"ARC-Seal: i=" + instance + b"; " + draw(seal) + b"\r\n",
        b"ARC-Message-Signature: i=" + instance + b"; " + draw(signature) + b"\r\n",
        b"ARC-Authentication-Results: i=" + instance + b"; " + results + b"\r\n",
    ]
    choice = draw(st.integers(0, 9))
    if choice == 0:
        del fields[draw(st.integers(0, 2))]
    elif choice == 1:
        fields.append(fields[draw(st.integers(0, 2))])
    return b"".join(fields)


MESSAGE = (
    b"From: Ophelia <ophelia@castle.test>\r\n"
    b"To: hamlet@castle.test\r\n"
    b"Subject: remembrances\r\n"
    b"\r\n"
    b"There's rosemary, that's for remembrance.\r\n"
)


_TAG = re.compile(rb"(^|;)\s*[A-Za-z][A-Za-z0-9_]*=([^;]*)")


@st.composite
def _retagged(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with the value of one tag of one of its DKIM or ARC fields replaced."""
    head, sep, body = base.partition(b"\r\n\r\n")
    fields = re.split(rb"\r\n(?![ \t])", head)
    signed = [
        index
        for index, field in enumerate(fields)
        if field.lower().startswith((b"dkim-signature:", b"arc-"))
    ]
    if not signed:
        return base
    index = draw(st.sampled_from(signed))
    spans = [
        m.span(2) for m in re.finditer(rb"(^|;)\s*[A-Za-z][A-Za-z0-9_]*=([^;]*)", fields[index])
    ]
    if not spans:
        return base
    start, end = draw(st.sampled_from(spans))
    name = re.findall(rb"([A-Za-z][A-Za-z0-9_]*)=$", fields[index][:start].rstrip())
    values = DKIM_TAGS.get(name[-1] if name else b"", _hostile_bytes)
    fields[index] = fields[index][:start] + draw(values) + fields[index][end:]
    return b"\r\n".join(fields) + sep + body


@st.composite
def hostile_messages(draw: st.DrawFn, base: bytes = MESSAGE) -> bytes:
    """A message carrying hostile signatures and ARC sets: ``base`` with one of its own
    signature tags rewritten, or with up to three signatures and three ARC sets on top."""
    if base is not MESSAGE and draw(st.booleans()):
        return draw(_retagged(base))
    on_top = draw(st.lists(st.one_of(dkim_signatures(), arc_sets()), max_size=4))
    return b"".join(on_top) + base


def spf_records() -> st.SearchStrategy[bytes]:
    """SPF TXT records (RFC 7208 §4.5): plausible terms with hostile ones among them."""
    terms = st.one_of(
        st.sampled_from(
            [b"ip4:192.0.2.0/24", b"ip6:2001:db8::/32", b"a", b"mx", b"-all", b"~all", b"?all"]
        ),
        st.sampled_from([b"include:castle.test", b"exists:%{i}.castle.test", b"redirect=x"]),
        st.sampled_from([b"ip4:999.1.1.1", b"ip4:1.2.3.4/99", b"a:%{", b"exp=%{l1r+-}", b"ptr"]),
        st.sampled_from([b"include:" + b"a." * 130 + b"test", b"a:\xc3\xa9.test", b"all:x"]),
        _hostile_bytes,
    )
    return st.lists(terms, max_size=12).map(lambda ts: b" ".join([b"v=spf1", *ts]))


def dmarc_records() -> st.SearchStrategy[bytes]:
    """DMARC TXT records (RFC 7489 §6.3) with hostile tags and values."""
    tags = {
        b"v": _either(b"DMARC1", b"dmarc1", b""),
        b"p": _either(b"none", b"quarantine", b"reject", b"REJECT", b""),
        b"sp": _either(b"none", b"reject", b"bogus"),
        b"pct": _NUMBERS,
        b"adkim": _either(b"r", b"s", b"x"),
        b"aspf": _either(b"r", b"s", b""),
        b"rua": _either(b"mailto:d@castle.test", b"mailto:", b"http://x", b"mailto:a@b!10m"),
        b"ri": _NUMBERS,
        b"fo": _either(b"0", b"1:d:s", b"x"),
    }
    return tag_lists(tags, (b"v", b"p"))


def fixed_key(seed: bytes = b"elsinore fuzz") -> keys.SigningKey:
    """An Ed25519 key made from ``seed``, the same on every machine, so committed seeds
    signed with it verify in the fuzz targets.  A test key: never publish it."""
    private = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return keys.from_pem(pem, "fixed test key")


def castle_lookup(signing: keys.SigningKey, sealing: keys.SigningKey | None = None) -> StaticLookup:
    """castle.test as a verifier sees it: the ``s1`` key, the ``arc`` key when given, an SPF
    policy for its MX (127.0.0.25) and a DMARC policy of reject."""
    table = {
        (f"s1._domainkey.{DOMAIN.decode()}", "TXT"): [txt_rdata(signing.record()).to_text()],
        (DOMAIN.decode(), "TXT"): ['"v=spf1 ip4:127.0.0.25 -all"'],
        (f"_dmarc.{DOMAIN.decode()}", "TXT"): ['"v=DMARC1; p=reject"'],
    }
    if sealing is not None:
        table[(f"arc._domainkey.{DOMAIN.decode()}", "TXT")] = [
            txt_rdata(sealing.record()).to_text()
        ]
    return StaticLookup(table)


DKIM_RESULTS = frozenset(("pass", "fail", "neutral", "temperror", "permerror"))
DMARC_RESULTS = frozenset(("pass", "fail", "none", "temperror", "permerror"))
ARC_RESULTS = frozenset(("none", "pass", "fail"))


def check_verification(message: bytes, lookup: DnsLookup, *, sender: str = "a@castle.test") -> None:
    """Every verifier gives a result from its documented set for ``message``, and the
    verifier's stamp adds its two fields and changes nothing else; raises on a finding."""
    results = dkim.verify_all(message, lookup)
    assert {result.result for result in results} <= DKIM_RESULTS, results
    assert arc.verify_chain(message, lookup).result in ARC_RESULTS
    outcome = dmarc.evaluate(message, None, results, lookup)
    assert outcome.result in DMARC_RESULTS, outcome
    verdict = inbound.authenticate(message, "127.0.0.25", sender, "mail.castle.test", lookup)
    assert verdict.spf.result in spf.RESULTS and verdict.dmarc.result in DMARC_RESULTS
    stamped = inbound.stamp(message, verdict, "mx.castle.test")
    before = [f.name for f in parse(message).fields if f.is_field]
    after = [f.name for f in parse(stamped).fields if f.is_field]
    ours = ["Authentication-Results", "Received-SPF"]
    forged = [name for name in before if name.lower() == "authentication-results"]
    assert after[:2] == ours and len(after) - 2 <= len(before), (before, after)
    assert len(after) - 2 >= len(before) - len(forged), (before, after)
