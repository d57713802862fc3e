"""The RFC 7208 SPF test suite (openspf.org, release 2014.04): scenarios, tests and zone data.

The suite is a YAML stream of scenarios.  Each has ``tests`` (a HELO, client address, MAIL
FROM and the expected result) and ``zonedata``: DNS records by name, in a small vocabulary
that :func:`scenario_zones` turns into a :class:`~stack.dns.zones.ZoneSet` our primary serves.
The vocabulary follows pyspf's reference driver (``testspf.py``):

- ``TYPE: value``: one record.  TXT and SPF values are a string or a list of strings, sent as
  UTF-8 and cut into 255-octet strings; an empty list is one empty string (a TXT record needs
  at least one).  ``NONE`` means no record of that type.
- SPF records are also served as TXT, unless the name lists any TXT entry of its own
  (``TXT: NONE`` included): the suite predates RFC 7208 dropping type SPF.
- ``TIMEOUT``: a query for the name gets no answer at all, except for the types listed before
  the ``TIMEOUT`` (those are answered), so a client sees a DNS timeout.

Everything is served from one root zone per scenario, so one server answers every name of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.SPF
import dns.rdtypes.ANY.TXT
import dns.zone
import yaml

from harness.shared import conformance_dir
from stack.dns.zones import ZoneSet

TIMEOUT = "TIMEOUT"
NONE = "NONE"
_TXT_LIMIT = 255
_SUITE_SOA = "ns.spf-suite.invalid. hostmaster.spf-suite.invalid. 1 3600 600 86400 300"


def default_suite_path() -> Path:
    """Where the suite is looked for: ``$ELSINORE_CONFORMANCE/spf/rfc7208-tests.yml``."""
    return conformance_dir() / "spf" / "rfc7208-tests.yml"


@dataclass(frozen=True)
class SpfTest:
    """One check: evaluating ``mailfrom``/``helo`` for ``host`` must give ``results``."""

    name: str
    helo: str
    host: str
    mailfrom: str
    results: tuple[str, ...]
    explanation: str | None = None
    spec: str = ""
    description: str = ""


@dataclass(frozen=True)
class Record:
    """One zonedata entry: its type and value as the YAML gives them (``TIMEOUT`` has none)."""

    rdtype: str
    value: Any = None


@dataclass(frozen=True)
class Scenario:
    """A YAML document of the suite: its tests and the DNS data they run against."""

    description: str
    tests: tuple[SpfTest, ...]
    zonedata: Mapping[str, tuple[Record, ...]] = field(default_factory=dict)

    def names(self) -> list[dns.name.Name]:
        return [dns.name.from_text(name) for name in self.zonedata]

    def served(self, name: str) -> dict[str, list[dns.rdata.Rdata]]:
        """The records a query for ``name`` returns, by type (SPF copied to TXT as needed)."""
        return _served(self.zonedata[name])

    def times_out(self, name: str, rdtype: str) -> bool:
        """True when a query for ``name``/``rdtype`` must go unanswered (``TIMEOUT``)."""
        return _times_out(self.zonedata.get(name, ()), rdtype)


def load_suite(path: Path | None = None) -> list[Scenario]:
    """Every scenario of the suite file, in file order."""
    source = default_suite_path() if path is None else path
    with source.open(encoding="utf-8") as handle:
        return [_scenario(document) for document in yaml.safe_load_all(handle) if document]


def _scenario(document: Mapping[str, Any]) -> Scenario:
    tests = tuple(_test(name, fields) for name, fields in (document.get("tests") or {}).items())
    zonedata = {
        str(name).lower(): tuple(_record(entry) for entry in entries or ())
        for name, entries in (document.get("zonedata") or {}).items()
    }
    return Scenario(str(document.get("description", "")), tests, zonedata)


def _test(name: str, fields: Mapping[str, Any]) -> SpfTest:
    result = fields.get("result", ())
    return SpfTest(
        name=name,
        helo=str(fields.get("helo", "")),
        host=str(fields.get("host", "")),
        mailfrom=str(fields.get("mailfrom", "")),
        results=(result,) if isinstance(result, str) else tuple(result),
        explanation=fields.get("explanation"),
        spec=str(fields.get("spec", "")),
        description=str(fields.get("description", "")),
    )


def _record(entry: Any) -> Record:
    if entry == TIMEOUT:
        return Record(TIMEOUT)
    if isinstance(entry, Mapping) and len(entry) == 1:
        ((rdtype, value),) = entry.items()
        return Record(str(rdtype).upper(), value)
    raise ValueError(f"unknown zonedata entry {entry!r}")


def _answered_types(records: Iterable[Record]) -> set[str]:
    """The types a ``TIMEOUT`` spares: those listed before it (pyspf's driver's rule)."""
    spared = set()
    for record in records:
        if record.rdtype == TIMEOUT:
            break
        if record.value != NONE:
            spared.add(record.rdtype)
    return spared


def _times_out(records: tuple[Record, ...], rdtype: str) -> bool:
    if not any(record.rdtype == TIMEOUT for record in records):
        return False
    return rdtype.upper() not in _answered_types(records)


def _served(records: tuple[Record, ...]) -> dict[str, list[dns.rdata.Rdata]]:
    served: dict[str, list[dns.rdata.Rdata]] = {}
    for record in records:
        if record.rdtype == TIMEOUT or record.value == NONE:
            continue
        served.setdefault(record.rdtype, []).append(_rdata(record))
    if not any(record.rdtype == "TXT" for record in records):
        for spf in served.get("SPF", []):
            assert isinstance(spf, dns.rdtypes.ANY.SPF.SPF)
            copy = dns.rdtypes.ANY.TXT.TXT(spf.rdclass, dns.rdatatype.TXT, spf.strings)
            served.setdefault("TXT", []).append(copy)
    return served


def _strings(value: Any) -> tuple[bytes, ...]:
    parts = [value] if isinstance(value, str) else [str(part) for part in value]
    strings = []
    for part in parts:
        encoded = part.encode("utf-8")
        strings += [encoded[i : i + _TXT_LIMIT] for i in range(0, len(encoded), _TXT_LIMIT)]
        if not encoded:
            strings.append(b"")
    return tuple(strings) or (b"",)


def _rdata(record: Record) -> dns.rdata.Rdata:
    rdclass = dns.rdataclass.IN
    if record.rdtype == "TXT":
        return dns.rdtypes.ANY.TXT.TXT(rdclass, dns.rdatatype.TXT, _strings(record.value))
    if record.rdtype == "SPF":
        return dns.rdtypes.ANY.SPF.SPF(rdclass, dns.rdatatype.SPF, _strings(record.value))
    if record.rdtype == "MX":
        preference, exchange = record.value
        text = f"{preference} {_absolute(str(exchange))}"
    elif record.rdtype in ("CNAME", "PTR"):
        text = _absolute(str(record.value))
    else:
        text = str(record.value)
    return dns.rdata.from_text(rdclass, record.rdtype, text, dns.name.root, relativize=False)


def _absolute(name: str) -> str:
    return name if name.endswith(".") else f"{name}."


@dataclass(frozen=True)
class _Timeouts:
    """The silence a :class:`ZoneSet` applies: the scenario's ``TIMEOUT`` names."""

    scenario: Scenario
    names: frozenset[dns.name.Name]

    def __call__(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> bool:
        if name not in self.names:
            return False
        key = name.to_text(omit_final_dot=True).lower()
        return self.scenario.times_out(key, dns.rdatatype.to_text(rdtype))


def scenario_zones(scenario: Scenario) -> ZoneSet:
    """One root zone holding every name of the scenario, with its ``TIMEOUT`` names silent."""
    zone = dns.zone.Zone(dns.name.root, relativize=False)
    with zone.writer() as txn:
        txn.add(dns.name.root, 300, dns.rdata.from_text("IN", "SOA", _SUITE_SOA))
        txn.add(dns.name.root, 300, dns.rdata.from_text("IN", "NS", "ns.spf-suite.invalid."))
        for text in scenario.zonedata:
            name = dns.name.from_text(text)
            for rdatas in scenario.served(text).values():
                txn.add(name, dns.rdataset.from_rdata_list(300, rdatas))
    silent = frozenset(
        dns.name.from_text(text)
        for text, records in scenario.zonedata.items()
        if any(record.rdtype == TIMEOUT for record in records)
    )
    return ZoneSet({dns.name.root: zone}, _Timeouts(scenario, silent))


def iter_tests(scenarios: Iterable[Scenario]) -> Iterator[tuple[Scenario, SpfTest]]:
    """Every (scenario, test) pair: what a parametrized SPF test runs over."""
    for scenario in scenarios:
        for test in scenario.tests:
            yield scenario, test


__all__ = [
    "Record",
    "Scenario",
    "SpfTest",
    "default_suite_path",
    "iter_tests",
    "load_suite",
    "scenario_zones",
]
