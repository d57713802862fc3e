"""The signer over real sockets: it publishes its seeded keys through our DNS primary (a TSIG
key in the seed's ``--dns-key`` form), takes mail over SMTP with STARTTLS, and spools it with
an RSA and an Ed25519 signature that verify through our resolver."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TypeVar

import aiosmtplib
import dns.name
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.strategies import hostile_text, local_part_wire, phrase_wire, wire_messages
from harness.strategies.grammar.mime import Entity
from stack.auth import dkim, keys
from stack.auth.errors import AuthError, KeyNameError, SigningKeyError
from stack.auth.lookup import DnsLookup, StaticLookup
from stack.auth.publish import selector_name, txt_rdata
from stack.dns.addresses import Endpoint
from stack.dns.blocking import BlockingResolver
from stack.dns.keys import parse_keys
from stack.dns.primary import Primary
from stack.dns.resolver import Resolver
from stack.dns.server import DnsServer
from stack.dns.zones import ZoneSet, zone_from_text
from stack.mime import parse
from stack.services.signer import DkimSigning, KeyPublisher, SigningKeys, signing_keys
from stack.smtp.received import Arrival
from stack.smtp.server import Inbound, InboundConfig, InboundServer, Transaction, stamp_received
from stack.smtp.spool import AsyncSpool, Spool
from stack.smtp.tls import LocalAuthority, client_context

pytestmark = pytest.mark.timeout(120)

DOMAIN = "castle.test"
SIGNER = "signer.castle.test"
HOST = "127.0.0.1"
SEED = bytes(range(100, 132))
#: The TSIG key as the seed deployment writes ``--dns-key``.
DNS_KEY = "personal._update.castle.test:SHA256:cGVyc29uYWwtdXBkYXRlLWtleS1mb3ItdGhlLXNpZ25lcg=="
RSA_SELECTOR, ED_SELECTOR = "rsa202612", "ed202612"

CASTLE = """$TTL 300
@ SOA ns hostmaster 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.53
"""

T = TypeVar("T")


@cache
def seeded() -> SigningKeys:
    return signing_keys(seed=SEED)


def selectors() -> list[tuple[str, keys.SigningKey]]:
    return seeded().selectors(RSA_SELECTOR, ED_SELECTOR)


def message(author: str = f"Ophelia <ophelia@{DOMAIN}>") -> bytes:
    return (
        f"From: {author}\r\n"
        "To: hamlet@elsewhere.test\r\n"
        "Subject: remembrances\r\n"
        "Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
        "Message-ID: <rosemary@castle.test>\r\n"
        "\r\n"
        "There's rosemary, that's for remembrance.\r\n"
        ".. a dot-stuffed line, and trailing space \r\n"
    ).encode()


# -- the test bed --------------------------------------------------------------------------


@dataclass
class Hop:
    port: int
    spool: Spool
    authority: LocalAuthority
    primary: Primary
    lookup: BlockingResolver
    dns_endpoint: Endpoint

    def stored(self) -> list[bytes]:
        found = [self.spool.data(queued.queue_id) for queued in self.spool.due(float("inf"))]
        return [data for data in found if data is not None]

    async def verify(self, data: bytes) -> list[dkim.DkimResult]:
        """Every signature of ``data``, checked through our resolver (in a worker thread: the
        resolver answers from this event loop's DNS server)."""
        return await asyncio.to_thread(dkim.verify_all, data, self.lookup)

    def published(self, selector: str) -> list[str]:
        zone = self.primary.zones.zones[dns.name.from_text(DOMAIN)]
        rdataset = zone.get_rdataset(selector_name(selector, DOMAIN), "TXT")
        return [b"".join(rdata.strings).decode() for rdata in rdataset or ()]


@contextlib.asynccontextmanager
async def running_signer(tmp_path: Path) -> AsyncIterator[Hop]:
    """Our primary for castle.test (no DKIM key in it yet) on 127.0.0.1, the signer's keys
    published by its starter, then the signer hop with STARTTLS in front of a real spool."""
    zone = zone_from_text(CASTLE, f"{DOMAIN}.")
    primary = Primary(ZoneSet({dns.name.from_text(DOMAIN): zone}), parse_keys(DNS_KEY))
    dns_server = DnsServer(primary.respond, Endpoint(HOST, 0))
    dns_endpoint = await dns_server.start()
    (tsig_key,) = primary.keyring.values()
    await KeyPublisher(dns_endpoint, tsig_key, [DOMAIN], selectors())()
    authority = LocalAuthority()
    config = InboundConfig(
        hostname=SIGNER, transforms=(stamp_received, DkimSigning([DOMAIN], selectors()))
    )
    spool = Spool(tmp_path / "spool")
    server = InboundServer(
        Inbound(config, AsyncSpool(spool)),
        HOST,
        0,
        tls_context=authority.issue([SIGNER]).server_context(),
    )
    _, port = await server.start()
    lookup = BlockingResolver(Resolver(forwarders=[dns_endpoint], timeout=2.0))
    try:
        yield Hop(port, spool, authority, primary, lookup, dns_endpoint)
    finally:
        await server.stop(grace=1)
        lookup.close()
        await dns_server.close()


async def send(hop: Hop, data: bytes, sender: str = f"ophelia@{DOMAIN}") -> int:
    """One transaction over STARTTLS; the reply code to the end of data."""
    client = aiosmtplib.SMTP(hostname=HOST, port=hop.port, start_tls=False, timeout=30)
    await client.connect()
    try:
        await client.ehlo()
        context = client_context(ca_pem=hop.authority.certificate_pem)
        await client.starttls(server_hostname=SIGNER, tls_context=context)
        await client.ehlo()
        await client.mail(sender)
        await client.rcpt("hamlet@elsewhere.test")
        return (await client.data(data)).code
    finally:
        client.close()


def with_signer(tmp_path: Path, scenario: Callable[[Hop], Awaitable[T]]) -> T:
    async def run() -> T:
        async with running_signer(tmp_path) as hop:
            return await scenario(hop)

    return asyncio.run(run())


def field_names(data: bytes) -> list[str]:
    return [field.name for field in parse(data).fields]


def signature_tags(data: bytes) -> list[dict[str, str]]:
    tags = []
    for found in parse(data).get_all("DKIM-Signature"):
        pairs = (part.split("=", 1) for part in re.sub(r"\s", "", found.unfolded()).split(";"))
        tags.append(dict(pairs))
    return tags


# -- over SMTP -----------------------------------------------------------------------------


def test_mail_from_our_domain_is_spooled_with_two_signatures_that_verify(
    tmp_path: Path,
) -> None:
    original = message()

    async def scenario(hop: Hop) -> tuple[int, bytes, list[dkim.DkimResult], list[str]]:
        code = await send(hop, original)
        (stored,) = hop.stored()
        published = hop.published(RSA_SELECTOR) + hop.published(ED_SELECTOR)
        return code, stored, await hop.verify(stored), published

    code, stored, results, published = with_signer(tmp_path, scenario)
    assert code == 250
    assert published == [seeded().rsa.record(), seeded().ed25519.record()]
    # Principle 1: the two signatures and the Received field prepended, nothing else touched.
    assert stored.endswith(original)
    assert field_names(stored)[:3] == ["DKIM-Signature", "DKIM-Signature", "Received"]
    assert [(r.result, r.algorithm, r.selector, r.domain) for r in results] == [
        ("pass", "rsa-sha256", RSA_SELECTOR, DOMAIN),  # the RSA one outermost
        ("pass", "ed25519-sha256", ED_SELECTOR, DOMAIN),
    ]
    for tags in signature_tags(stored):
        assert tags["c"] == "relaxed/relaxed"
        # Oversigned (RFC 6376 §8.15), pinned here in h=: dkimpy's verifier counts one From
        # more than h= names by itself (its bug#644046), so the tests below would pass without
        # it, where OpenDKIM or Gmail would let a second From through.
        assert tags["h"].lower().split(":").count("from") == 2


def test_a_tampered_body_fails_both_signatures(tmp_path: Path) -> None:
    async def scenario(hop: Hop) -> list[dkim.DkimResult]:
        await send(hop, message())
        (stored,) = hop.stored()
        return await hop.verify(stored.replace(b"rosemary,", b"rue,"))

    assert [r.result for r in with_signer(tmp_path, scenario)] == ["fail", "fail"]


def test_a_from_added_after_signing_breaks_both_signatures(tmp_path: Path) -> None:
    async def scenario(hop: Hop) -> tuple[list[dkim.DkimResult], list[dkim.DkimResult]]:
        await send(hop, message())
        (stored,) = hop.stored()
        tree = parse(stored)
        tree.prepend("From", "Claudius <king@castle.test>")  # above the signed From
        on_top = await hop.verify(bytes(tree))
        # Below the signatures too: oversigning is what catches the one a reader may see.
        at = stored.index(b"From: Ophelia")
        inserted = stored[:at] + b"From: Claudius <king@castle.test>\r\n" + stored[at:]
        return on_top, await hop.verify(inserted)

    on_top, inserted = with_signer(tmp_path, scenario)
    assert [r.result for r in on_top] == ["fail", "fail"]
    assert [r.result for r in inserted] == ["fail", "fail"]


@pytest.mark.parametrize(
    "author",
    [
        "Laertes <laertes@elsewhere.test>",
        "fortinbras@sub.castle.test",  # a subdomain is not one of ours
        "undisclosed-recipients:;",
    ],
)
def test_mail_whose_author_is_not_ours_passes_unsigned(tmp_path: Path, author: str) -> None:
    original = message(author)

    async def scenario(hop: Hop) -> tuple[int, bytes]:
        code = await send(hop, original, sender="")
        (stored,) = hop.stored()
        return code, stored

    code, stored = with_signer(tmp_path, scenario)
    assert code == 250
    assert stored.endswith(original)
    assert field_names(stored)[:2] == ["Received", "From"]


@pytest.mark.parametrize(
    "original",
    [
        message().replace(b"To:", b"From: Claudius <king@castle.test>\r\nTo:"),  # two From
        message().replace(b"From: Ophelia <ophelia@castle.test>\r\n", b""),  # no From
    ],
    ids=["two-from-fields", "no-from-field"],
)
def test_mail_the_signer_cannot_sign_passes_unsigned_as_opendkim_does(
    tmp_path: Path, original: bytes
) -> None:
    async def scenario(hop: Hop) -> tuple[int, bytes]:
        code = await send(hop, original)
        (stored,) = hop.stored()
        return code, stored

    code, stored = with_signer(tmp_path, scenario)
    assert code == 250
    assert stored.endswith(original)
    assert "DKIM-Signature" not in field_names(stored)


def test_a_restarted_signer_publishes_nothing_twice(tmp_path: Path) -> None:
    async def scenario(hop: Hop) -> list[str]:
        (tsig_key,) = hop.primary.keyring.values()
        await KeyPublisher(hop.dns_endpoint, tsig_key, [DOMAIN], selectors())()
        return hop.published(RSA_SELECTOR) + hop.published(ED_SELECTOR)

    assert with_signer(tmp_path, scenario) == [seeded().rsa.record(), seeded().ed25519.record()]


# -- the transform without sockets ---------------------------------------------------------


def transaction() -> Transaction:
    arrival = Arrival(
        helo="submission.castle.test",
        address="127.0.0.1",
        rdns=None,
        hostname=SIGNER,
        queue_id="4Q1",
        recipients=("hamlet@elsewhere.test",),
        date=datetime(2026, 12, 3, tzinfo=UTC),
    )
    return Transaction("ophelia@castle.test", arrival.recipients, arrival)


def static_lookup() -> DnsLookup:
    return StaticLookup(
        {
            (f"{selector}._domainkey.{DOMAIN}", "TXT"): [txt_rdata(key.record()).to_text()]
            for selector, key in selectors()
        }
    )


@cache
def transform() -> DkimSigning:
    return DkimSigning([DOMAIN.upper()], selectors())


def signed(data: bytes) -> bytes:
    return bytes(asyncio.run(transform()(parse(data), transaction())))


def without_from(entity: Entity) -> bytes:
    """The generated message with each From field renamed, so ours is the only one."""
    data = entity.data
    for found in reversed(parse(data).get_all("From")):
        data = data[: found.offset] + b"X-Was-" + data[found.offset :]
    return data


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    wire_messages(),
    phrase_wire(),
    local_part_wire(),
    st.sampled_from(["castle.test", "CASTLE.Test"]),
)
def test_any_message_from_one_of_our_authors_gets_two_signatures_that_verify(
    entity: Entity, phrase: tuple[str, object], local: tuple[str, object], domain: str
) -> None:
    original = f"From: {phrase[0]} <{local[0]}@{domain}>\r\n".encode() + without_from(entity)
    result = signed(original)
    assert result.endswith(original)
    results = dkim.verify_all(result, static_lookup())
    assert [(r.result, r.domain) for r in results] == [("pass", DOMAIN), ("pass", DOMAIN)], [
        r.reason for r in results
    ]


@given(wire_messages())
def test_any_message_passes_the_transform_with_its_bytes_kept(entity: Entity) -> None:
    result = signed(entity.data)
    assert result.endswith(entity.data)
    added = field_names(result)[: len(field_names(result)) - len(field_names(entity.data))]
    assert set(added) <= {"DKIM-Signature"}


@given(
    hostile_text(),
    st.binary(max_size=300),
    st.sampled_from([b"\r\n", b"\n", b"\r"]),
    st.booleans(),
)
def test_any_bytes_pass_the_transform_kept_never_an_exception(
    text: str, tail: bytes, eol: bytes, ours_first: bool
) -> None:
    hostile = text.encode("utf-8", "surrogatepass")
    ours = b"From: a@castle.test" + eol
    original = ours + hostile + eol + tail if ours_first else hostile + eol + ours + tail
    assert signed(original).endswith(original)


def test_from_must_be_oversigned() -> None:
    with pytest.raises(AuthError, match="From must be oversigned"):
        DkimSigning([DOMAIN], selectors(), oversign=("to", "subject"))


@pytest.mark.parametrize(
    ("domain", "selector"), [("castle.test", "bad selector"), ("castle.test", "a\r\nX: y")]
)
def test_a_selector_no_key_record_could_live_at_is_refused_at_start(
    domain: str, selector: str
) -> None:
    with pytest.raises(KeyNameError):
        DkimSigning([domain], [(selector, seeded().ed25519)])


# -- the keys ------------------------------------------------------------------------------


def test_keys_from_files_are_the_files_keys(tmp_path: Path) -> None:
    for name, key in (("rsa", seeded().rsa), ("ed", seeded().ed25519)):
        (tmp_path / f"{name}.key").write_bytes(key.pem)
    loaded = signing_keys(rsa_key=tmp_path / "rsa.key", ed25519_key=tmp_path / "ed.key")
    assert loaded == seeded()


def test_key_files_of_the_wrong_algorithm_are_refused(tmp_path: Path) -> None:
    (tmp_path / "rsa.key").write_bytes(seeded().rsa.pem)
    (tmp_path / "ed.key").write_bytes(seeded().ed25519.pem)
    with pytest.raises(SigningKeyError, match=r"ed\.key: an ed25519 key, not an RSA one"):
        signing_keys(rsa_key=tmp_path / "ed.key", ed25519_key=tmp_path / "rsa.key")


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"seed": SEED, "rsa_key": Path("rsa.key")}, "not both"),
        ({}, "needs a key seed"),
        ({"rsa_key": Path("rsa.key")}, "needs a key seed"),
        ({"seed": b"short"}, "32 bytes, not 5"),
    ],
)
def test_the_signer_needs_a_seed_or_both_files(options: dict[str, object], complaint: str) -> None:
    with pytest.raises(SigningKeyError, match=complaint):
        signing_keys(**options)  # type: ignore[arg-type]
