"""Publishing the signer's keys at start: the primary is asked, only the missing records are
added, in one TSIG-signed update that a second signer racing it cannot make twice."""

from __future__ import annotations

import asyncio

import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.tsig
import pytest
from auth_testbed import DOMAIN, signing_key, tsig_key
from dns_testbed import KEY_LINE, ServerThread, castle_zone

from stack.auth import publish
from stack.auth.errors import PublishError, RecordTextError, UpdateRefusedError
from stack.dns.addresses import Endpoint
from stack.dns.keys import parse_keys
from stack.dns.primary import Primary

pytestmark = pytest.mark.timeout(60)


def primary() -> Primary:
    return Primary(castle_zone(), parse_keys(KEY_LINE))


def txt_at(server: Primary, selector: str) -> list[str]:
    """The TXT records the primary holds for ``selector``, each one's strings joined."""
    zone = server.zones.zones[dns.name.from_text(DOMAIN)]
    rdataset = zone.get_rdataset(publish.selector_name(selector, DOMAIN), "TXT")
    return sorted(b"".join(rdata.strings).decode() for rdata in rdataset or ())


def serial(server: Primary) -> int:
    zone = server.zones.zones[dns.name.from_text(DOMAIN)]
    return int(zone.find_rdataset(zone.origin, "SOA")[0].serial)


def records() -> list[tuple[str, str]]:
    return [("rsa1", signing_key("rsa").record()), ("ed1", signing_key("ed25519").record())]


def publish_missing(
    endpoint: Endpoint,
    wanted: list[tuple[str, str]],
    key: dns.tsig.Key | None = None,
    domain: str = DOMAIN,
) -> list[str]:
    names = asyncio.run(
        publish.publish_missing(endpoint, key or tsig_key(), domain, wanted, timeout=5.0)
    )
    return [name.to_text(omit_final_dot=True) for name in names]


def test_missing_keys_are_published_in_one_update(servers: ServerThread) -> None:
    server = primary()
    before = serial(server)
    endpoint = servers.serve(server.respond)
    published = publish_missing(endpoint, records())
    assert published == ["rsa1._domainkey.castle.test", "ed1._domainkey.castle.test"]
    assert txt_at(server, "rsa1") == [signing_key("rsa").record()]
    assert txt_at(server, "ed1") == [signing_key("ed25519").record()]
    assert serial(server) == before + 1  # one update for both


def test_keys_already_published_are_left_alone(servers: ServerThread) -> None:
    server = primary()
    endpoint = servers.serve(server.respond)
    publish_missing(endpoint, records())
    after_first = serial(server)
    assert publish_missing(endpoint, records()) == []
    assert serial(server) == after_first  # no update sent at all
    assert txt_at(server, "rsa1") == [signing_key("rsa").record()]


def test_only_the_missing_key_is_added(servers: ServerThread) -> None:
    server = primary()
    endpoint = servers.serve(server.respond)
    ed_record = signing_key("ed25519").record()
    # Published by hand, spaced and ordered differently: still our key.
    key_text = ed_record.split("p=")[1]
    publish.publish(endpoint, DOMAIN, "ed1", DOMAIN, f"v=DKIM1;p={key_text} ;k=ed25519", tsig_key())
    assert publish_missing(endpoint, records()) == ["rsa1._domainkey.castle.test"]
    assert txt_at(server, "ed1") == [f"v=DKIM1;p={key_text} ;k=ed25519"]  # not duplicated


def test_a_selector_holding_another_key_is_an_error_and_nothing_changes(
    servers: ServerThread,
) -> None:
    server = primary()
    endpoint = servers.serve(server.respond)
    old = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    publish.publish(endpoint, DOMAIN, "ed1", DOMAIN, old, tsig_key())
    before = serial(server)
    with pytest.raises(PublishError, match=r"ed1\._domainkey\.castle\.test holds another key"):
        publish_missing(endpoint, records())
    assert serial(server) == before
    assert txt_at(server, "ed1") == [old]
    assert txt_at(server, "rsa1") == []


def test_an_unknown_tsig_key_is_refused_with_notauth(servers: ServerThread) -> None:
    server = primary()
    endpoint = servers.serve(server.respond)
    stranger = dns.tsig.Key("stranger.", b"x" * 32, dns.tsig.HMAC_SHA256)
    with pytest.raises(UpdateRefusedError, match="NOTAUTH") as refused:
        publish_missing(endpoint, records(), stranger)
    assert refused.value.rcode == dns.rcode.NOTAUTH
    assert txt_at(server, "rsa1") == []


def test_a_domain_the_primary_does_not_serve_is_refused_with_its_rcode(
    servers: ServerThread,
) -> None:
    endpoint = servers.serve(primary().respond)
    with pytest.raises(UpdateRefusedError) as refused:
        publish_missing(endpoint, records(), domain="elsewhere.test")
    assert refused.value.rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH)
    assert dns.rcode.to_text(refused.value.rcode) in str(refused.value)


def test_a_record_that_is_not_ascii_is_refused_before_anything_is_sent(
    servers: ServerThread,
) -> None:
    server = primary()
    endpoint = servers.serve(server.respond)
    before = serial(server)
    with pytest.raises(RecordTextError):
        publish_missing(endpoint, [("rsa1", "v=DKIM1; p=caf\u00e9")])
    assert serial(server) == before


def test_a_silent_primary_is_a_publish_error_within_the_timeout() -> None:
    import socket

    with socket.socket() as listener:  # accepts TCP connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        endpoint = Endpoint("127.0.0.1", listener.getsockname()[1])
        with pytest.raises(PublishError, match=r"via 127\.0\.0\.1"):
            asyncio.run(
                publish.publish_missing(endpoint, tsig_key(), DOMAIN, records(), timeout=0.5)
            )


class Racing:
    """A real primary in front of which another signer's update lands first: the first
    update we send is preceded by the same record published by someone else."""

    def __init__(self, server: Primary, competitor: list[tuple[str, str]]) -> None:
        self.server = server
        self.competitor = competitor
        self.raced = False

    def respond(self, wire: bytes, tcp: bool = False) -> list[bytes]:
        if not self.raced and dns.opcode.from_flags(int.from_bytes(wire[2:4], "big")) == (
            dns.opcode.UPDATE
        ):
            self.raced = True
            names = [(publish.selector_name(s, DOMAIN), r) for s, r in self.competitor]
            theirs = publish.missing_update(DOMAIN, names, tsig_key())
            (reply,) = self.server.respond(theirs.to_wire(), tcp=True)
            assert dns.message.from_wire(reply, keyring=False).rcode() == dns.rcode.NOERROR
        return self.server.respond(wire, tcp)


def test_a_signer_racing_another_with_the_same_key_adds_nothing_twice(
    servers: ServerThread,
) -> None:
    server = primary()
    racing = Racing(server, records())
    endpoint = servers.serve(racing.respond)
    assert publish_missing(endpoint, records()) == []  # the other signer published them
    assert racing.raced
    assert txt_at(server, "rsa1") == [signing_key("rsa").record()]
    assert txt_at(server, "ed1") == [signing_key("ed25519").record()]


def test_a_signer_racing_another_with_another_key_fails_without_a_second_record(
    servers: ServerThread,
) -> None:
    server = primary()
    other = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    racing = Racing(server, [("ed1", other)])
    endpoint = servers.serve(racing.respond)
    with pytest.raises(PublishError, match="holds another key"):
        publish_missing(endpoint, records())
    assert txt_at(server, "ed1") == [other]
    assert txt_at(server, "rsa1") == []  # the update that failed its prerequisite added nothing


def test_an_update_for_a_name_with_a_txt_already_fails_its_prerequisite() -> None:
    server = primary()
    name = publish.selector_name("ed1", DOMAIN)
    first = publish.missing_update(DOMAIN, [(name, "v=DKIM1; p=a")], tsig_key())
    second = publish.missing_update(DOMAIN, [(name, "v=DKIM1; p=a")], tsig_key())
    for update, rcode in ((first, dns.rcode.NOERROR), (second, dns.rcode.YXRRSET)):
        (reply,) = server.respond(update.to_wire(), tcp=True)
        assert dns.message.from_wire(reply, keyring=False).rcode() == rcode
    assert txt_at(server, "ed1") == ["v=DKIM1; p=a"]
