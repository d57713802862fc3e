"""Growing the committed seed corpora from what a fuzzing campaign learned.

A campaign leaves each target's new inputs in ``fuzz/work/<target>/corpus`` (not committed).
:func:`merge_family` keeps the few of them that reach code the seeds do not, in
``fuzz/corpora/<family>/campaign/``, so that CI's short runs start where the last campaign
ended, as ClusterFuzzLite's batch and prune jobs do:

- libFuzzer's ``-merge=1`` chooses them: it reads the inputs smallest first and keeps one only
  when it adds coverage to what is already kept, starting from the seeds written by
  ``fuzz/make_seeds.py`` (which never change here) and following every target of the family
  in turn, since the targets of one family share its corpus but not their coverage;
- the inputs of the previous campaign are candidates again, not kept blindly: the merge prunes
  what later inputs cover too, so the folder does not only grow;
- a cap bounds each family's ``campaign/`` folder (files and bytes), dropping the largest
  inputs first; the seeds have their own bound (tests/fuzz/test_fuzz_seeds.py keeps all the
  corpora under 1 MiB, 11 families of seeds and campaign inputs together);
- real mail is never committed (DESIGN.md): an input that shares a run of
  :data:`REAL_RUN` bytes with a real seed of the SpamAssassin corpus (which the campaign reads
  when ``ELSINORE_CORPORA`` has it) is not a candidate, nor, at some alignments, one that
  shares half as many.

libFuzzer reads a corpus folder recursively, so ``campaign/`` is read wherever the seeds are.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.fuzz import KIB, TARGETS, Layout, Limits, Target
from stack.errors import ElsinoreError

#: Where a family's campaign inputs live, inside its seed folder.
CAMPAIGN = "campaign"

#: An input sharing this many consecutive bytes with a real message is not committed.
REAL_RUN = 128


@dataclass(frozen=True, slots=True)
class Cap:
    """The most one family's ``campaign/`` folder may hold.  Field values are a few dozen
    bytes, so the file count bounds those families; messages run into the byte bound."""

    files: int = 250
    bytes: int = 48 * KIB


@dataclass(slots=True)
class Merged:
    """What one merge did to a family's folder."""

    family: str
    targets: list[str]
    candidates: int = 0  # campaign inputs offered (the previous ones included)
    real: int = 0  # candidates left out for sharing a run with real mail
    kept: int = 0  # campaign inputs in the folder now
    added: int = 0  # of those, new since the previous merge
    dropped: int = 0  # chosen by the merge but over the cap
    files: int = 0  # files in the folder now, seeds included
    bytes: int = 0
    error: str = ""  # why the merge failed (the folder is then as it was)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def campaign_dir(layout: Layout, family: str) -> Path:
    return layout.root / "corpora" / family / CAMPAIGN


def family_targets(family: str) -> list[Target]:
    return [target for target in TARGETS if target.family == family]


def merge_command(layout: Layout, target: Target, into: Path, inputs: Iterable[Path]) -> list[str]:
    """libFuzzer's merge of ``inputs`` into ``into`` under ``target``'s coverage, with the
    limits of a fuzzing run (an input that times out there is left out here)."""
    limits = Limits()
    return [
        sys.executable,
        str(layout.script(target)),
        "-merge=1",
        f"-max_len={target.max_len}",
        f"-timeout={limits.timeout_seconds or target.timeout_seconds}",
        f"-rss_limit_mb={limits.rss_limit_mb}",
        str(into),
        *(str(path) for path in inputs),
    ]


def merge_family(
    layout: Layout, family: str, cap: Cap = Cap(), targets: list[Target] | None = None
) -> Merged:
    """Replace ``corpora/<family>/campaign/`` with the inputs of the last campaign (and of the
    previous one) that add coverage to the seeds, within ``cap``.  Raises
    :class:`ElsinoreError` when libFuzzer's merge fails (its log is in ``work/``)."""
    targets = family_targets(family) if targets is None else targets
    seeds = layout.root / "corpora" / family
    learned = seeds / CAMPAIGN
    result = Merged(family, [target.name for target in targets])
    before = {path.name for path in _files(learned)}
    real = _RealMail(layout.root / "work" / "real-seeds" / family)
    with tempfile.TemporaryDirectory(prefix=f"merge-{family}-") as scratch:
        chosen = Path(scratch) / "chosen"
        chosen.mkdir()
        baseline = {path.name for path in _files(seeds)}
        for path in _files(seeds):
            shutil.copyfile(path, chosen / path.name)
        for target in targets:
            offered = Path(scratch) / f"offered-{target.name}"
            offered.mkdir()
            sources = [learned, layout.work(target) / "corpus"]
            for path in (p for source in sources for p in _files(source)):
                if path.stat().st_size > target.max_len:
                    continue
                data = path.read_bytes()
                if real.shares_a_run(data):
                    result.real += 1
                    continue
                (offered / path.name).write_bytes(data)
            result.candidates += sum(1 for _ in _files(offered))
            _run_merge(layout, target, merge_command(layout, target, chosen, [offered]))
        picked = sorted(
            (path for path in _files(chosen) if path.name not in baseline),
            key=lambda path: (path.stat().st_size, path.name),
        )
        room_files, room_bytes = cap.files, cap.bytes
        kept: list[Path] = []
        for path in picked:
            size = path.stat().st_size
            if len(kept) < room_files and size <= room_bytes:
                kept.append(path)
                room_bytes -= size
        result.dropped = len(picked) - len(kept)
        if learned.is_dir():
            shutil.rmtree(learned)
        if kept:
            learned.mkdir()
            for path in kept:
                shutil.copyfile(path, learned / path.name)
    result.kept = len(kept)
    result.added = len({path.name for path in kept} - before)
    everything = _files(seeds) + _files(learned)
    result.files = len(everything)
    result.bytes = sum(path.stat().st_size for path in everything)
    return result


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file())


def _run_merge(layout: Layout, target: Target, command: list[str]) -> None:
    work = layout.work(target)
    work.mkdir(parents=True, exist_ok=True)
    log = work.parent / f"{target.name}.merge.log"
    with log.open("wb") as out:
        done = subprocess.run(command, cwd=work, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise ElsinoreError(
            f"libFuzzer's merge for {target.name} exited with status {done.returncode} (see {log})"
        )


class _RealMail:
    """The runs of real mail an input must not share: every aligned window of half
    :data:`REAL_RUN` bytes of the real seeds, so that a shared run of :data:`REAL_RUN` bytes
    (which holds one such window at any alignment of the input's) is found in one pass."""

    def __init__(self, folder: Path) -> None:
        self.window = REAL_RUN // 2
        self.runs: set[bytes] = set()
        for path in _files(folder):
            data = path.read_bytes()
            self.runs.update(data[i : i + self.window] for i in range(len(data) - self.window + 1))

    def shares_a_run(self, data: bytes) -> bool:
        if not self.runs:
            return False
        return any(
            data[i : i + self.window] in self.runs
            for i in range(0, len(data) - self.window + 1, self.window)
        )
