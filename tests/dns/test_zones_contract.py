"""The zone directory's contract: which files are zones, what a write leaves, what a crash leaves.

The module promises (stack/dns/zones.py): one master file per zone, named after its origin;
editors' backups and our own temporary files beside the zones are not zones; a write replaces
the zone's own file and nothing else; a crash at any point leaves the old file or the new one.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import dns.message
import dns.name
import dns.zone
import pytest
from dns_testbed import castle_text

import stack
from stack.dns.authority import answer
from stack.dns.errors import ZoneFileError
from stack.dns.zones import (
    ZoneDirectory,
    ZoneSet,
    origin_of,
    write_atomically,
    zone_from_text,
    zone_to_text,
)

CASTLE = dns.name.from_text("castle.test.")
NEWER = castle_text().replace("2026112501", "2026112502")


def _serial(directory: Path) -> int:
    (zone,) = ZoneDirectory(directory).load()
    return int(zone.find_rdataset(zone.origin, "SOA")[0].serial)


@pytest.mark.parametrize("name", ["root.zone", "root", "root."])
def test_the_root_zone_file_may_be_written_with_or_without_the_final_dot(name: str) -> None:
    assert origin_of(Path(name)) == dns.name.root


@pytest.mark.parametrize("stem", ["roots", "rootX", "root-servers.net"])
def test_only_root_itself_names_the_root_zone(stem: str) -> None:
    # A name that merely looks like "root" is a zone of its own, never the root.
    assert origin_of(Path(f"{stem}.zone")) == dns.name.from_text(stem)


def test_a_file_name_that_is_no_domain_name_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "castle..test.zone").write_text(castle_text(), encoding="utf-8")
    with pytest.raises(ZoneFileError, match=r"castle\.\.test\.zone: .*not a zone name"):
        ZoneDirectory(tmp_path).load()


def test_a_missing_directory_is_refused_by_name(tmp_path: Path) -> None:
    missing = tmp_path / "zones"
    with pytest.raises(ZoneFileError, match=rf"{missing}: not a directory"):
        ZoneDirectory(missing).load()


def test_two_files_for_one_zone_are_refused_naming_both(tmp_path: Path) -> None:
    (tmp_path / "castle.test").write_text(castle_text(), encoding="utf-8")
    (tmp_path / "castle.test.zone").write_text(castle_text(), encoding="utf-8")
    with pytest.raises(ZoneFileError) as refused:
        ZoneDirectory(tmp_path).load()
    assert "castle.test.zone" in str(refused.value)
    assert f"also in {tmp_path / 'castle.test'}" in str(refused.value)


def test_a_zone_file_that_is_not_utf8_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "castle.test.zone").write_bytes(castle_text().encode() + b'x TXT "\xff"\n')
    with pytest.raises(ZoneFileError, match=r"castle\.test\.zone: .*utf-8"):
        ZoneDirectory(tmp_path).load()


def test_backups_temporary_files_and_folders_beside_the_zones_are_not_zones(
    tmp_path: Path,
) -> None:
    (tmp_path / "castle.test.zone").write_text(castle_text(), encoding="utf-8")
    # An editor's backup is a whole, valid zone file; an interrupted write is half of one.
    (tmp_path / "castle.test.zone~").write_text(castle_text(), encoding="utf-8")
    (tmp_path / "other.test.zone~").write_text(castle_text(), encoding="utf-8")
    (tmp_path / ".castle.test.zone.k2j4x9").write_text("@ 300 IN SOA ns1", encoding="utf-8")
    (tmp_path / "archive").mkdir()
    zones = ZoneDirectory(tmp_path).load()
    assert [zone.origin for zone in zones] == [CASTLE]


def test_a_write_replaces_the_file_the_zone_was_read_from(tmp_path: Path) -> None:
    # The docstring allows a file named just after the origin, without ".zone".
    (tmp_path / "castle.test").write_text(castle_text(), encoding="utf-8")
    directory = ZoneDirectory(tmp_path)
    directory.load()
    directory.write(zone_from_text(NEWER, CASTLE))
    directory.write(zone_from_text(NEWER.replace("2026112502", "2026112503"), CASTLE))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["castle.test"]
    assert _serial(tmp_path) == 2026112503


def test_a_new_zone_gets_a_file_named_after_its_origin_and_readable_by_all(
    tmp_path: Path,
) -> None:
    directory = ZoneDirectory(tmp_path)
    directory.write(zone_from_text(castle_text(), CASTLE))
    written = tmp_path / "castle.test.zone"
    assert sorted(path.name for path in tmp_path.iterdir()) == [written.name]
    # A zone is public data: owner read-write, everyone else read (mkstemp makes it 0600).
    assert stat.filemode(written.stat().st_mode) == "-rw-r--r--"
    assert [zone.origin for zone in ZoneDirectory(tmp_path).load()] == [CASTLE]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "castle.test.zone"
    target.write_text(castle_text(), encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "@ 300 IN TXT \udcff\n")  # a lone surrogate has no UTF-8
    assert sorted(path.name for path in tmp_path.iterdir()) == [target.name]
    assert target.read_text(encoding="utf-8") == castle_text()


def test_the_temporary_file_is_made_beside_the_target_not_in_the_system_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rename(2) is atomic only within one file system; a temporary file made in $TMPDIR on
    # another one could not be renamed over the zone at all.
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second file system at /dev/shm")
    elsewhere = Path(tempfile.mkdtemp(dir=shm))
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(elsewhere))
        target = tmp_path / "castle.test.zone"
        write_atomically(target, castle_text())
        assert target.read_text(encoding="utf-8") == castle_text()
        assert list(elsewhere.iterdir()) == []
    finally:
        for leftover in elsewhere.iterdir():
            leftover.unlink()
        elsewhere.rmdir()


#: A writer that dies the moment before its rename, as a crash or a kill -9 would leave it.
_CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from stack.dns.zones import ZoneDirectory, zone_from_text

    def die_before_rename(event, args):
        if event == "os.rename":
            os._exit(3)

    directory = ZoneDirectory(Path(sys.argv[1]))
    directory.load()
    sys.addaudithook(die_before_rename)
    directory.write(zone_from_text(sys.argv[2], "castle.test."))
    """
)


def test_a_crash_before_the_rename_leaves_the_old_zone_served(tmp_path: Path) -> None:
    directory = ZoneDirectory(tmp_path)
    directory.write(zone_from_text(castle_text(), CASTLE))
    before = (tmp_path / "castle.test.zone").read_text(encoding="utf-8")
    # The child imports the same stack package as this test (a mutation run's copy included).
    env = {**os.environ, "PYTHONPATH": str(Path(stack.__file__).parents[1])}
    child = subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER, str(tmp_path), NEWER],
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert child.returncode == 3, child.stderr.decode(errors="replace")
    assert len(list(tmp_path.iterdir())) == 2  # the zone, and the half-done new one
    assert (tmp_path / "castle.test.zone").read_text(encoding="utf-8") == before
    # The leftover is not taken for a zone: the directory still loads, as it was.
    assert _serial(tmp_path) == 2026112501


def test_a_written_zone_is_sorted_relative_and_names_its_origin() -> None:
    # The module's promise: dnspython's canonical master-file form, sorted by name.  Names are
    # written relative to an $ORIGIN line, as a person writes a zone, so the file reads back
    # even by a reader that is not told the origin.
    text = zone_to_text(zone_from_text(castle_text(), CASTLE))
    lines = text.splitlines()
    assert lines[0] == f"$ORIGIN {CASTLE}"
    owners = [dns.name.from_text(line.split()[0], CASTLE) for line in lines[1:]]
    assert owners == sorted(owners)
    assert all(not line.split()[0].endswith(".") for line in lines[1:])
    again = dns.zone.from_text(text, origin=None, relativize=False)
    assert again == zone_from_text(castle_text(), CASTLE)


def test_text_with_no_file_behind_it_is_named_as_text_in_errors() -> None:
    with pytest.raises(ZoneFileError, match=r"^<text>:"):
        zone_from_text("@ 300 IN A 127.0.0.1\n", CASTLE)


def test_replacing_a_zone_keeps_the_sets_silence() -> None:
    # A new set "in which zone stands for the zone with the same origin": nothing else changes,
    # the silenced names (the SPF suite's TIMEOUT) included.
    zone = zone_from_text(castle_text(), CASTLE)
    mail = dns.name.from_text("mail", CASTLE)
    zones = ZoneSet({CASTLE: zone}, silence=lambda name, rdtype: name == mail)
    replaced = zones.replace(zone_from_text(NEWER, CASTLE))
    assert answer(dns.message.make_query(mail, "A"), replaced) is None
