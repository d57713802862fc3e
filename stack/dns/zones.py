"""The zones a primary serves: a :class:`ZoneSet` in memory, a :class:`ZoneDirectory` on disk.

A zone directory holds one master file per zone, named after the zone's origin
(``castle.test.zone`` or just ``castle.test``), so it can live in git the way dns-primary-git
keeps zones.  Zones are treated as values: a dynamic update builds a new zone, writes it to a
temporary file, fsyncs it and renames it over the old one, and only then swaps it into the set.
A crash at any point leaves either the old file or the new one, never half of each.  The new
file is dnspython's canonical master-file form, sorted by name: comments and hand layout of
the old one are not kept, so a zone that takes dynamic updates is best left to them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.name
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

from stack.dns.errors import ZoneFileError

#: Decides that a query gets no answer at all (the SPF suite's ``TIMEOUT``).
Silence = Callable[[dns.name.Name, dns.rdatatype.RdataType], bool]

ZONE_SUFFIX = ".zone"


def _never_silent(name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> bool:
    return False


@dataclass(frozen=True)
class ZoneSet:
    """Zones by origin, and the choice of which zone is authoritative for a name."""

    zones: Mapping[dns.name.Name, dns.zone.Zone] = field(default_factory=dict)
    silence: Silence = _never_silent
    #: Every name that has names below it, per zone: found once, so telling an empty
    #: non-terminal from a missing name costs a set look-up, not a walk of the zone.
    _parents: Mapping[dns.name.Name, frozenset[dns.name.Name]] = field(
        init=False, repr=False, compare=False
    )
    #: The SOA each zone puts in negative answers, built once (building one hashes names).
    _negative_soas: Mapping[dns.name.Name, dns.rrset.RRset] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        parents = {origin: _parent_names(zone) for origin, zone in self.zones.items()}
        object.__setattr__(self, "_parents", parents)
        soas = {origin: _negative_soa(zone) for origin, zone in self.zones.items()}
        object.__setattr__(self, "_negative_soas", soas)

    def negative_soa(self, zone: dns.zone.Zone) -> dns.rrset.RRset:
        """The zone's SOA for NXDOMAIN and NODATA: TTL the lesser of its own and MINIMUM
        (RFC 2308 section 3).  Shared by every response: render it, never change it."""
        assert zone.origin is not None
        return self._negative_soas[zone.origin]

    def has_names_below(self, zone: dns.zone.Zone, name: dns.name.Name) -> bool:
        """True when ``zone`` holds names below ``name`` (an empty non-terminal if it owns none)."""
        assert zone.origin is not None
        return name in self._parents.get(zone.origin, frozenset())

    def find(self, qname: dns.name.Name) -> dns.zone.Zone | None:
        """The zone with the longest origin that contains ``qname`` (the closest enclosing)."""
        name = qname
        while True:
            zone = self.zones.get(name)
            if zone is not None:
                return zone
            if name == dns.name.root:
                return None
            name = name.parent()

    def replace(self, zone: dns.zone.Zone) -> ZoneSet:
        """A new set in which ``zone`` stands for the zone with the same origin."""
        assert zone.origin is not None
        return ZoneSet({**self.zones, zone.origin: zone}, self.silence)

    def __iter__(self) -> Iterator[dns.zone.Zone]:
        return iter(self.zones.values())

    def __len__(self) -> int:
        return len(self.zones)


def rrset_of(name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    """The RRset a zone's rdataset at ``name`` stands for (what a message section holds)."""
    return dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))


def _negative_soa(zone: dns.zone.Zone) -> dns.rrset.RRset:
    assert zone.origin is not None
    soa = zone.find_rdataset(zone.origin, dns.rdatatype.SOA)
    return dns.rrset.from_rdata_list(zone.origin, min(soa.ttl, soa[0].minimum), list(soa))


def _parent_names(zone: dns.zone.Zone) -> frozenset[dns.name.Name]:
    assert zone.origin is not None
    parents: set[dns.name.Name] = set()
    for owner in zone.nodes:
        name = owner
        while name != zone.origin:
            name = name.parent()
            if name in parents:
                break  # and so are all of its ancestors
            parents.add(name)
    return frozenset(parents)


def zone_from_text(text: str, origin: dns.name.Name | str, source: str = "<text>") -> dns.zone.Zone:
    """Parse a master file with absolute names, so answers never need an origin to render.

    A malformed file raises :class:`ZoneFileError` naming ``source``.
    """
    try:
        return dns.zone.from_text(text, origin, relativize=False, filename=source)
    except (dns.exception.DNSException, ValueError) as exc:
        reason = str(exc)
        # dnspython's syntax errors already begin "source:line:"; its other errors do not.
        if not reason.startswith(f"{source}:"):
            reason = f"{source}: {reason}"
        raise ZoneFileError(reason) from None


def zone_to_text(zone: dns.zone.Zone) -> str:
    """The master-file form that :func:`zone_from_text` reads back to an equal zone."""
    return str(zone.to_text(sorted=True, relativize=True, want_origin=True))


def clone_zone(zone: dns.zone.Zone) -> dns.zone.Zone:
    """An independent copy, so an update can be built without touching the served zone."""
    assert zone.origin is not None
    return zone_from_text(zone_to_text(zone), zone.origin)


#: The file name of the root zone: a file named ``.zone`` would be hidden, and ``.`` is not
#: a file name.  There is no top-level domain ``root`` to mistake it for.
ROOT_ZONE_STEM = "root"


def origin_of(path: Path) -> dns.name.Name:
    """The zone origin a file name stands for: ``castle.test.zone`` -> ``castle.test.``,
    and ``root.zone`` -> ``.``, the root zone (as a simulated internet's root server has)."""
    stem = path.name.removesuffix(ZONE_SUFFIX)
    if stem.rstrip(".") == ROOT_ZONE_STEM:
        return dns.name.root
    try:
        return dns.name.from_text(stem)
    except dns.exception.DNSException as exc:
        raise ZoneFileError(f"{path}: the file name is not a zone name: {exc}") from None


def _zone_files(directory: Path) -> Iterable[Path]:
    # Editors and our own atomic writes leave dot-files and backups beside the zones.
    for path in sorted(directory.iterdir()):
        if path.is_file() and not path.name.startswith(".") and not path.name.endswith("~"):
            yield path


@dataclass
class ZoneDirectory:
    """A directory of master files, loaded as a :class:`ZoneSet` and written back per zone."""

    directory: Path
    paths: dict[dns.name.Name, Path] = field(default_factory=dict)

    def load(self) -> ZoneSet:
        """Read every zone file; any error aborts the whole load, so a reload is all or nothing."""
        if not self.directory.is_dir():
            raise ZoneFileError(f"{self.directory}: not a directory of zone files")
        zones: dict[dns.name.Name, dns.zone.Zone] = {}
        paths: dict[dns.name.Name, Path] = {}
        for path in _zone_files(self.directory):
            origin = origin_of(path)
            if origin in zones:
                raise ZoneFileError(f"{path}: zone {origin} is also in {paths[origin]}")
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ZoneFileError(f"{path}: {exc}") from None
            zones[origin] = zone_from_text(text, origin, str(path))
            paths[origin] = path
        if not zones:
            raise ZoneFileError(f"{self.directory}: no zone files (expected NAME.zone)")
        self.paths = paths
        return ZoneSet(zones)

    def write(self, zone: dns.zone.Zone) -> None:
        """Replace the zone's file atomically: temporary file, fsync, rename, fsync the folder."""
        assert zone.origin is not None
        target = self.paths.get(zone.origin)
        if target is None:
            target = self.directory / f"{zone.origin.to_text(omit_final_dot=True)}{ZONE_SUFFIX}"
        write_atomically(target, zone_to_text(zone))
        self.paths[zone.origin] = target


def write_atomically(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` so that a reader or a crash sees the old or the new file."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        # mkstemp makes the file private; keep the old file's mode (a zone is public data).
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
