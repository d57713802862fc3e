"""RFC 2136 update semantics of :func:`stack.dns.update.apply_update`, sans-IO: the prescan's
FORMERRs (3.4.1), what deletes at the apex spare (3.4.2.3, 3.4.2.4), and the SOA serial's
RFC 1982 arithmetic (3.4.2.2)."""

from __future__ import annotations

from collections.abc import Callable

import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.update
import dns.zone
import pytest

from stack.dns.update import UpdateOutcome, apply_update
from stack.dns.zones import zone_from_text

ORIGIN = dns.name.from_text("moat.test.")

#: Two apex NS records (so "keep at least one" can be seen), apex data an update may delete,
#: a delegation, and a name with two A records beside an AAAA.
MOAT = """\
@      300 SOA  ns1 hostmaster 1000 3600 600 86400 60
@      300 NS   ns1
@      300 NS   ns2
@      300 MX   10 mail
@      300 TXT  "v=spf1 -all"
ns1    300 A    127.0.0.53
ns2    300 A    127.0.0.54
mail   300 A    127.0.0.25
mail   300 A    127.0.0.26
mail   300 AAAA ::1
sub    300 NS   ns.sub
ns.sub 300 A    127.0.0.14
"""


def moat(serial: int = 1000) -> dns.zone.Zone:
    return zone_from_text(MOAT.replace("1000", str(serial), 1), ORIGIN)


def apply(
    build: Callable[[dns.update.UpdateMessage], object], serial: int = 1000, wire: bool = True
) -> UpdateOutcome:
    update = dns.update.UpdateMessage(ORIGIN)
    build(update)
    if not wire:
        return apply_update(update, moat(serial))
    # As the primary gets it: from the wire, with every name absolute.
    received = dns.message.from_wire(update.to_wire())
    assert isinstance(received, dns.update.UpdateMessage)
    return apply_update(received, moat(serial))


def texts(zone: dns.zone.Zone | None, name: str, rdtype: str) -> list[str]:
    assert zone is not None
    rdataset = zone.get_rdataset(dns.name.from_text(name, ORIGIN), rdtype)
    return sorted(rdata.to_text() for rdata in rdataset or ())


def _generic(rdtype: dns.rdatatype.RdataType) -> dns.rdata.Rdata:
    return dns.rdata.GenericRdata(dns.rdataclass.IN, rdtype, b"")


def _add_in_another_class(update: dns.update.UpdateMessage) -> None:
    name = dns.name.from_text("chaos", ORIGIN)
    rrset = update.find_rrset(
        update.update, name, dns.rdataclass.CH, dns.rdatatype.TXT, create=True
    )
    rrset.add(dns.rdata.from_text(dns.rdataclass.CH, dns.rdatatype.TXT, '"x"'), 300)


@pytest.mark.parametrize(
    "malformed",
    [
        _add_in_another_class,
        lambda u: u.add("meta", 300, _generic(dns.rdatatype.AXFR)),
        lambda u: u.delete("mail", _generic(dns.rdatatype.ANY)),
        lambda u: u.delete("mail", "AXFR"),
        lambda u: u.delete("mail", "MAILB"),
    ],
    ids=[
        "add-in-class-CH",
        "add-an-AXFR-record",
        "delete-one-ANY-record",
        "delete-the-AXFR-rrset",
        "delete-the-MAILB-rrset",
    ],
)
def test_a_malformed_update_is_formerr_and_changes_nothing(
    malformed: Callable[[dns.update.UpdateMessage], None],
) -> None:
    # RFC 2136 3.4.1: the prescan rejects the whole update, the good part with it.
    def build(update: dns.update.UpdateMessage) -> None:
        update.add("flag", 60, "TXT", '"applied"')
        malformed(update)

    assert apply(build) == UpdateOutcome(dns.rcode.FORMERR)


def _prerequisite(
    rdclass: dns.rdataclass.RdataClass, ttl: int
) -> Callable[[dns.update.UpdateMessage], None]:
    def build(update: dns.update.UpdateMessage) -> None:
        rrset = update.find_rrset(
            update.prerequisite, ORIGIN, rdclass, dns.rdatatype.TXT, create=True
        )
        rrset.add(dns.rdata.from_text(rdclass, dns.rdatatype.TXT, '"v=spf1 -all"'), ttl)
        update.add("flag", 60, "TXT", '"applied"')

    return build


@pytest.mark.parametrize(
    ("rdclass", "ttl"),
    [(dns.rdataclass.IN, 300), (dns.rdataclass.CH, 0)],
    ids=["ttl-not-zero", "class-not-the-zones"],
)
def test_a_malformed_prerequisite_is_formerr(rdclass: dns.rdataclass.RdataClass, ttl: int) -> None:
    # RFC 2136 3.2.1: a prerequisite's TTL is zero, and a value-dependent one has the zone's class.
    assert apply(_prerequisite(rdclass, ttl)) == UpdateOutcome(dns.rcode.FORMERR)


def test_a_well_formed_value_prerequisite_that_holds_lets_the_update_apply() -> None:
    outcome = apply(_prerequisite(dns.rdataclass.IN, 0))
    assert outcome.rcode == dns.rcode.NOERROR
    assert texts(outcome.zone, "flag", "TXT") == ['"applied"']


def test_a_prerequisite_on_a_meta_type_value_is_formerr() -> None:
    # Only "RRset exists" and "RRset does not exist" may name a type; a value of AXFR is no data.
    def build(update: dns.update.UpdateMessage) -> None:
        rrset = update.find_rrset(
            update.prerequisite, ORIGIN, dns.rdataclass.IN, dns.rdatatype.AXFR, create=True
        )
        rrset.add(_generic(dns.rdatatype.AXFR), 0)
        update.add("flag", 60, "TXT", '"applied"')

    assert apply(build) == UpdateOutcome(dns.rcode.FORMERR)


def test_deleting_every_rrset_of_a_name_is_allowed_to_name_any() -> None:
    # Class ANY with type ANY is the one meta type an update may carry: "delete all RRsets".
    outcome = apply(lambda u: u.delete("mail"))
    assert outcome.rcode == dns.rcode.NOERROR
    assert texts(outcome.zone, "mail", "A") == [] and texts(outcome.zone, "mail", "AAAA") == []


def test_an_apex_rrset_other_than_soa_and_ns_can_be_deleted_whole() -> None:
    outcome = apply(lambda u: u.delete("@", "MX"))
    assert outcome.rcode == dns.rcode.NOERROR
    assert texts(outcome.zone, "@", "MX") == []
    assert texts(outcome.zone, "@", "NS") == ["ns1.moat.test.", "ns2.moat.test."]


def test_a_delegation_below_the_apex_can_be_deleted_whole() -> None:
    # Only the apex's NS RRset is protected (RFC 2136 3.4.2.3); a zone cut's is ordinary data.
    outcome = apply(lambda u: u.delete("sub", "NS"))
    assert outcome.rcode == dns.rcode.NOERROR
    assert texts(outcome.zone, "sub", "NS") == []


def test_one_record_at_the_apex_can_be_deleted() -> None:
    outcome = apply(lambda u: u.delete("@", "TXT", '"v=spf1 -all"'))
    assert outcome.rcode == dns.rcode.NOERROR
    assert texts(outcome.zone, "@", "TXT") == []


def test_deleting_one_record_keeps_the_rest_of_the_name() -> None:
    outcome = apply(lambda u: u.delete("mail", "A", "127.0.0.25"))
    assert texts(outcome.zone, "mail", "A") == ["127.0.0.26"]
    assert texts(outcome.zone, "mail", "AAAA") == ["::1"]


def _delete_both_apex_ns(update: dns.update.UpdateMessage, *, grouped: bool) -> None:
    names = ["ns1.moat.test.", "ns2.moat.test."]
    if not grouped:
        update.delete(ORIGIN, "NS", *names)  # one RRset per record, as from the wire
        return
    rrset = update.find_rrset(
        update.update,
        ORIGIN,
        dns.rdataclass.IN,
        dns.rdatatype.NS,
        deleting=dns.rdataclass.NONE,
        create=True,
    )
    for name in names:
        rrset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.NS, name), 0)


@pytest.mark.parametrize("grouped", [False, True], ids=["record-by-record", "one-rrset"])
def test_deleting_every_apex_ns_record_keeps_one(grouped: bool) -> None:
    # RFC 2136 3.4.2.4.  dnspython reads and builds one RRset per update record; a message put
    # together in process may hold both records in one RRset.  Either way one NS stays.
    outcome = apply(lambda u: _delete_both_apex_ns(u, grouped=grouped), wire=not grouped)
    assert len(texts(outcome.zone, "@", "NS")) == 1


def test_deleting_some_apex_ns_records_deletes_them() -> None:
    outcome = apply(lambda u: u.delete("@", "NS", "ns2"))
    assert texts(outcome.zone, "@", "NS") == ["ns1.moat.test."]


SERIAL_SPACE = 2**32
HALF = 2**31


@pytest.mark.parametrize(
    ("current", "offered", "newer"),
    [
        (1000, 1001, True),
        (1000, 1002, True),
        (1000, 1000 + HALF - 1, True),  # the farthest serial still ahead (RFC 1982 3.2)
        (SERIAL_SPACE - 6, 5, True),  # wraps past 2**32 - 1 to small numbers again
        (1000, 1000, False),
        (1000, 999, False),
        (1000, 1000 + HALF, False),  # exactly half the space away: undefined, not newer
        (5, SERIAL_SPACE - 6, False),
    ],
)
def test_an_soa_in_the_update_replaces_the_zones_only_when_its_serial_is_newer(
    current: int, offered: int, newer: bool
) -> None:
    # RFC 2136 3.4.2.2 with RFC 1982 serial arithmetic; the SOA offered also changes MINIMUM,
    # so an SOA that was taken shows even when the serials compare equal as numbers.
    outcome = apply(
        lambda u: u.add("@", 300, "SOA", f"ns1 hostmaster {offered} 3600 600 86400 30"), current
    )
    assert outcome.rcode == dns.rcode.NOERROR
    if newer:
        assert outcome.zone is not None
        soa = outcome.zone.find_rdataset(ORIGIN, "SOA")[0]
        assert (soa.serial, soa.minimum) == (offered, 30)
    else:
        assert outcome.zone is None  # nothing changed, nothing to write
