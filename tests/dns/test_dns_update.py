"""RFC 2136 dynamic updates signed with TSIG: prerequisites, serial, persistence."""

from __future__ import annotations

from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import pytest
from dns_testbed import ServerThread, castle_zone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stack.dns.addresses import Endpoint
from stack.dns.keys import Keyring, parse_key
from stack.dns.primary import Primary
from stack.dns.zones import ZoneDirectory

ZONE = "castle.test."


def signed(keyring: Keyring) -> dns.update.UpdateMessage:
    return dns.update.UpdateMessage(ZONE, keyring=keyring)


def send(primary: Primary, message: dns.message.Message) -> dns.message.Message:
    (wire,) = primary.respond(message.to_wire(), tcp=True)
    return dns.message.from_wire(wire, keyring=message.keyring, request_mac=message.mac)


def records(primary: Primary, name: str, rdtype: str) -> list[str]:
    zone = primary.zones.zones[dns.name.from_text(ZONE)]
    rdataset = zone.get_rdataset(f"{name}.{ZONE}" if name != "@" else ZONE, rdtype)
    return sorted(rdata.to_text() for rdata in rdataset or ())


def serial(primary: Primary) -> int:
    zone = primary.zones.zones[dns.name.from_text(ZONE)]
    return int(zone.find_rdataset(ZONE, "SOA")[0].serial)


def test_signed_update_adds_a_record_and_bumps_the_serial(
    primary: Primary, keyring: Keyring
) -> None:
    before = serial(primary)
    update = signed(keyring)
    update.add("sel._domainkey", 300, "TXT", '"v=DKIM1; k=ed25519; p=abc"')
    response = send(primary, update)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.had_tsig  # the reply is signed with the same key
    assert records(primary, "sel._domainkey", "TXT") == ['"v=DKIM1; k=ed25519; p=abc"']
    assert serial(primary) == before + 1


def test_unsigned_update_is_refused_and_changes_nothing(primary: Primary) -> None:
    update = dns.update.UpdateMessage(ZONE)
    update.add("intruder", 300, "A", "192.0.2.66")
    assert send(primary, update).rcode() == dns.rcode.REFUSED
    assert records(primary, "intruder", "A") == []


@pytest.mark.parametrize(
    ("line", "peer_error", "tsig_error"),
    [
        ("stranger:hmac-sha256:c3RyYW5nZXItc2VjcmV0", dns.tsig.PeerBadKey, dns.rcode.BADKEY),
        (
            "signer:hmac-sha256:d3Jvbmctc2VjcmV0LWZvci10aGUtc2lnbmVyLWtleQ==",
            dns.tsig.PeerBadSignature,
            dns.rcode.BADSIG,
        ),
    ],
    ids=["unknown-key", "wrong-secret"],
)
def test_update_with_an_unknown_or_wrong_key_is_notauth_with_the_tsig_error(
    primary: Primary, line: str, peer_error: type[Exception], tsig_error: dns.rcode.Rcode
) -> None:
    key = parse_key(line)
    update = dns.update.UpdateMessage(ZONE, keyring={key.name: key})
    update.add("intruder", 300, "A", "192.0.2.66")
    (wire,) = primary.respond(update.to_wire(), tcp=True)
    unchecked = dns.message.from_wire(wire, keyring=False)
    assert unchecked.rcode() == dns.rcode.NOTAUTH
    assert unchecked.tsig is not None and unchecked.tsig[0].error == tsig_error
    with pytest.raises(peer_error):  # what a dnspython client sees
        dns.message.from_wire(wire, keyring={key.name: key}, request_mac=update.mac)
    assert records(primary, "intruder", "A") == []


def test_update_for_a_zone_we_do_not_serve_is_notauth(keyring: Keyring, primary: Primary) -> None:
    update = dns.update.UpdateMessage("example.com.", keyring=keyring)
    update.add("www", 300, "A", "192.0.2.1")
    assert send(primary, update).rcode() == dns.rcode.NOTAUTH


@pytest.mark.parametrize(
    ("prerequisite", "rcode"),
    [
        (lambda u: u.present("mail"), dns.rcode.NOERROR),
        (lambda u: u.present("nobody"), dns.rcode.NXDOMAIN),
        (lambda u: u.present("mail", "A"), dns.rcode.NOERROR),
        (lambda u: u.present("mail", "MX"), dns.rcode.NXRRSET),
        (lambda u: u.absent("nobody"), dns.rcode.NOERROR),
        (lambda u: u.absent("mail"), dns.rcode.YXDOMAIN),
        (lambda u: u.absent("mail", "MX"), dns.rcode.NOERROR),
        (lambda u: u.absent("mail", "A"), dns.rcode.YXRRSET),
        (lambda u: u.present("mail", "A", "127.0.0.25"), dns.rcode.NOERROR),
        (lambda u: u.present("mail", "A", "192.0.2.9"), dns.rcode.NXRRSET),
    ],
    ids=[
        "name-in-use",
        "name-not-in-use",
        "rrset-exists",
        "rrset-missing",
        "name-absent",
        "name-present",
        "rrset-absent",
        "rrset-present",
        "value-matches",
        "value-differs",
    ],
)
def test_prerequisites_decide_whether_the_update_applies(
    primary: Primary, keyring: Keyring, prerequisite: object, rcode: dns.rcode.Rcode
) -> None:
    update = signed(keyring)
    prerequisite(update)  # type: ignore[operator]
    update.add("flag", 60, "TXT", '"applied"')
    assert send(primary, update).rcode() == rcode
    applied = records(primary, "flag", "TXT") == ['"applied"']
    assert applied == (rcode == dns.rcode.NOERROR)


def test_prerequisite_outside_the_zone_is_notzone(primary: Primary, keyring: Keyring) -> None:
    update = signed(keyring)
    update.present("www.example.com.")
    assert send(primary, update).rcode() == dns.rcode.NOTZONE


def test_deletes_spare_the_apex_soa_and_last_ns(primary: Primary, keyring: Keyring) -> None:
    update = signed(keyring)
    update.delete("@")  # every RRset at the apex...
    update.delete("@", "NS", "ns1")  # ...and the only NS
    update.delete("mail", "A", "127.0.0.25")
    update.delete("www")
    assert send(primary, update).rcode() == dns.rcode.NOERROR
    assert records(primary, "@", "NS") == ["ns1.castle.test."]
    assert len(records(primary, "@", "SOA")) == 1
    assert records(primary, "@", "MX") == []
    assert records(primary, "mail", "A") == []
    assert records(primary, "www", "CNAME") == []


def test_cname_and_other_data_never_share_a_name(primary: Primary, keyring: Keyring) -> None:
    update = signed(keyring)
    update.add("www", 300, "A", "192.0.2.80")  # www is a CNAME: ignored
    update.add("mail", 300, "CNAME", "elsewhere")  # mail has data: ignored
    assert send(primary, update).rcode() == dns.rcode.NOERROR
    assert records(primary, "www", "A") == []
    assert records(primary, "mail", "CNAME") == []


def test_an_update_that_changes_nothing_keeps_the_serial(
    primary: Primary, keyring: Keyring
) -> None:
    before = serial(primary)
    update = signed(keyring)
    update.delete("nobody", "A")
    assert send(primary, update).rcode() == dns.rcode.NOERROR
    assert serial(primary) == before


def test_a_newer_soa_in_the_update_sets_the_serial(primary: Primary, keyring: Keyring) -> None:
    update = signed(keyring)
    update.replace("@", 300, "SOA", "ns1 hostmaster 2030010100 3600 600 86400 60")
    assert send(primary, update).rcode() == dns.rcode.NOERROR
    assert serial(primary) == 2030010100


def test_update_is_written_back_and_survives_a_restart(
    primary: Primary, keyring: Keyring, zones_dir: Path
) -> None:
    update = signed(keyring)
    update.add("new", 300, "A", "127.0.0.77")
    assert send(primary, update).rcode() == dns.rcode.NOERROR
    assert sorted(p.name for p in zones_dir.iterdir()) == ["castle.test.zone"]  # no temp left
    restarted = Primary.from_directory(ZoneDirectory(zones_dir), keyring)
    assert records(restarted, "new", "A") == ["127.0.0.77"]
    assert serial(restarted) == serial(primary)


@pytest.mark.timeout(20)
def test_signed_update_over_tcp_then_query_over_udp(
    castle_server: Endpoint, keyring: Keyring, servers: ServerThread
) -> None:
    update = signed(keyring)
    update.replace("mx2", 300, "A", "127.0.0.26")
    response = dns.query.tcp(update, castle_server.host, port=castle_server.port, timeout=5)
    assert response.rcode() == dns.rcode.NOERROR
    query = dns.message.make_query("mx2.castle.test.", "A")
    answer = dns.query.udp(query, castle_server.host, port=castle_server.port, timeout=5)
    assert [r.to_text() for r in answer.answer] == ["mx2.castle.test. 300 IN A 127.0.0.26"]


def test_an_update_voids_replies_rendered_before_it(primary: Primary, keyring: Keyring) -> None:
    query = dns.message.make_query("mail.castle.test.", "A")
    for _ in range(2):  # the second is answered from the reply cache
        (wire,) = primary.respond(query.to_wire())
    assert len(primary.replies) == 1
    update = signed(keyring)
    update.replace("mail", 300, "A", "127.0.0.99")
    assert send(primary, update).rcode() == dns.rcode.NOERROR
    (wire,) = primary.respond(query.to_wire())
    answer = dns.message.from_wire(wire).answer
    assert [r.to_text() for r in answer] == ["mail.castle.test. 300 IN A 127.0.0.99"]


def test_a_cached_reply_carries_the_new_query_id(primary: Primary) -> None:
    first = dns.message.make_query("castle.test.", "MX")
    second = dns.message.make_query("castle.test.", "MX")
    second.id = (first.id + 1) % 65536
    replies = [dns.message.from_wire(primary.respond(q.to_wire())[0]) for q in (first, second)]
    assert [r.id for r in replies] == [first.id, second.id]
    assert replies[0].answer == replies[1].answer


def test_write_back_keeps_the_zone_file_mode(
    primary: Primary, keyring: Keyring, zones_dir: Path
) -> None:
    zone_file = zones_dir / "castle.test.zone"
    zone_file.chmod(0o640)
    update = signed(keyring)
    update.add("moded", 300, "A", "127.0.0.78")
    assert send(primary, update).rcode() == dns.rcode.NOERROR
    assert zone_file.stat().st_mode & 0o777 == 0o640


def test_a_query_whose_tsig_carries_an_error_is_notauth_not_a_crash(
    primary: Primary, keyring: Keyring
) -> None:
    query = dns.message.make_query("castle.test.", "SOA")
    query.use_tsig(keyring, tsig_error=dns.rcode.BADSIG)  # only a confused peer sends this
    (wire,) = primary.respond(query.to_wire())
    assert dns.message.from_wire(wire, keyring=False).rcode() == dns.rcode.NOTAUTH
    assert primary.internal_errors == 0


_NAMES = ["@", "mail", "www", "new", "a.deep", "deep", "sub", "ns.sub", "x.y"]
_RECORDS = [
    ("A", "127.0.0.9"),
    ("AAAA", "::9"),
    ("TXT", '"t"'),
    ("MX", "5 mail"),
    ("CNAME", "mail"),
    ("NS", "ns1"),
    ("SOA", "ns1 hostmaster 1 3600 600 86400 60"),
]
_OPERATIONS = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(_NAMES), st.sampled_from(_RECORDS)),
    st.tuples(st.just("replace"), st.sampled_from(_NAMES), st.sampled_from(_RECORDS)),
    st.tuples(st.just("delete"), st.sampled_from(_NAMES), st.sampled_from(_RECORDS)),
    st.tuples(st.just("delete-rrset"), st.sampled_from(_NAMES), st.sampled_from(_RECORDS)),
    st.tuples(st.just("delete-name"), st.sampled_from(_NAMES), st.just(("A", ""))),
    st.tuples(st.just("present"), st.sampled_from(_NAMES), st.sampled_from(_RECORDS)),
    st.tuples(st.just("absent"), st.sampled_from(_NAMES), st.sampled_from(_RECORDS)),
)


def _apply(update: dns.update.UpdateMessage, operation: tuple[str, str, tuple[str, str]]) -> None:
    verb, name, (rdtype, data) = operation
    if verb == "add":
        update.add(name, 300, rdtype, data)
    elif verb == "replace":
        update.replace(name, 300, rdtype, data)
    elif verb == "delete":
        update.delete(name, rdtype, data)
    elif verb == "delete-rrset":
        update.delete(name, rdtype)
    elif verb == "delete-name":
        update.delete(name)
    elif verb == "present":
        update.present(name, rdtype)
    else:
        update.absent(name, rdtype)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_OPERATIONS, min_size=1, max_size=5), min_size=1, max_size=4))
def test_any_sequence_of_signed_updates_keeps_a_servable_zone(
    keyring: Keyring, batches: list[list[tuple[str, str, tuple[str, str]]]]
) -> None:
    primary = Primary(castle_zone(), keyring)
    for batch in batches:
        before = serial(primary)
        update = signed(keyring)
        for operation in batch:
            _apply(update, operation)
        rcode = send(primary, update).rcode()
        assert primary.internal_errors == 0
        assert len(records(primary, "@", "SOA")) == 1 and records(primary, "@", "NS")
        if rcode == dns.rcode.NOERROR:
            assert serial(primary) >= before  # bumped when changed (or set by a newer SOA)
        else:
            assert serial(primary) == before
    query = dns.message.make_query("mail.castle.test.", "A")
    (wire,) = primary.respond(query.to_wire())
    assert dns.message.from_wire(wire).rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
