"""Coverage-guided fuzzing: the target registry and a runner around libFuzzer (via atheris).

Layout of ``fuzz/`` (the same one ClusterFuzzLite builds from, see ``.clusterfuzzlite/``)::

    targets/<target>.py      fuzz_one_input(data: bytes) -> None, and an atheris __main__
    corpora/<family>/        committed seeds, shared by the targets of one input family
                             (real mail is added at run time: harness/fuzz_seeds.py)
    corpora/<family>/campaign/  what the last campaign learned, merged and capped
                             (harness/fuzz_corpus.py; libFuzzer reads folders recursively)
    dicts/<family>.dict      libFuzzer dictionary of the family's RFC tokens
    crashes/<target>/        findings; each file is a pytest regression test (tests/fuzz/)
    work/<target>/           the growing corpus and the log of the last run (not committed)

Each target runs in its own process, so a crash, a hang or an out-of-memory ends that run and
becomes a finding instead of taking the runner down.  The limits per input make slowness a
finding too: an input that takes longer than its target's ``timeout_seconds``, or a process
that grows past ``-rss_limit_mb``, is saved as ``timeout-*`` or ``oom-*`` like any crash, in
fork mode (``--jobs``) as well, where libFuzzer would otherwise count them and go on.  Parsers
are meant to be linear (DESIGN.md, principle 4), so an input that takes seconds is a quadratic
blow-up, not a slow machine.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.fuzz_seeds import real_seeds
from stack.errors import ElsinoreError

KIB = 1024

#: The time one input of 64 KiB may take, instrumented.  Measured (issue 13): the slowest
#: legitimate 64 KiB message found, 2,000 parts through mime_check, takes 1.2 s uninstrumented
#: and 3.5 s under atheris on a loaded 2-core machine; 64 KiB of blanks through the old
#: quadratic quoted-printable decoder took more than a minute.
SECONDS_PER_64_KIB = 5


@dataclass(frozen=True, slots=True)
class Target:
    """One fuzz target: its script is ``targets/<name>.py``; seeds and dictionary come from its
    input ``family`` (targets reading the same kind of input share them)."""

    name: str
    family: str
    max_len: int
    summary: str

    @property
    def timeout_seconds(self) -> int:
        """How long one input may take before it is a finding: :data:`SECONDS_PER_64_KIB` scaled
        to ``max_len``, at least a second.  One limit for all would let a quadratic field
        decoder through: 4 KiB read quadratically is a second or two, never five."""
        return max(1, math.ceil(SECONDS_PER_64_KIB * self.max_len / (64 * KIB)))


#: Every target, in the order ``fuzz all`` runs them.  A new target is one line here plus its
#: script (see the README, "Fuzzing").
TARGETS: tuple[Target, ...] = (
    Target("mime_parse", "message", 64 * KIB, "lossless parse: bytes(parse(b)) == b"),
    Target("mime_decode", "message", 64 * KIB, "decode: only ParseError, only when strict"),
    Target("mime_check", "message", 64 * KIB, "elsinore mime check: the round trip of any input"),
    Target("mime_isomorphism", "choices", 16 * KIB, "decode(encode(m)) == m over messages()"),
    Target("field_address", "address", 4 * KIB, "address lists (RFC 5322 3.4)"),
    Target("field_date", "date", 4 * KIB, "date-times (RFC 5322 3.3, obsolete zones)"),
    Target("field_content_type", "params", 4 * KIB, "Content-Type (RFC 2045, 2231)"),
    Target("field_content_disposition", "params", 4 * KIB, "Content-Disposition (RFC 2183)"),
    Target("field_unstructured", "unstructured", 4 * KIB, "encoded-words (RFC 2047)"),
    Target("field_msg_id", "msg_id", 4 * KIB, "msg-id lists (RFC 5322 3.6.4)"),
    Target("spam_tokenizer", "message", 64 * KIB, "spam tokenizer on any message bytes"),
    Target("spam_backup", "backup", 16 * KIB, "SpamOracle backups (`spam import`)"),
    Target("spam_snapshot", "snapshot", 16 * KIB, "the SQLite store's snapshot of the counts"),
    Target("dns_server", "dns", 4 * KIB, "the DNS primary's answer to any message"),
    Target("auth_signature", "choices", 16 * KIB, "DKIM and DMARC over whole hostile signatures"),
    Target("auth_arc_set", "choices", 16 * KIB, "ARC and the verifying hop over hostile ARC sets"),
    Target("auth_message", "auth", 16 * KIB, "the verifying hop on any message bytes"),
)


def target_named(name: str) -> Target:
    for target in TARGETS:
        if target.name == name:
            return target
    known = ", ".join(t.name for t in TARGETS)
    raise ElsinoreError(f"no fuzz target {name!r} (known: {known})")


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one target's files are, under a ``fuzz/`` folder."""

    root: Path

    def script(self, target: Target) -> Path:
        return self.root / "targets" / f"{target.name}.py"

    def seeds(self, target: Target) -> Path:
        return self.root / "corpora" / target.family

    def dictionary(self, target: Target) -> Path:
        return self.root / "dicts" / f"{target.family}.dict"

    def crashes(self, target: Target) -> Path:
        return self.root / "crashes" / target.name

    def work(self, target: Target) -> Path:
        return self.root / "work" / target.name


def default_layout() -> Layout:
    """``$ELSINORE_FUZZ_DIR``, else the ``fuzz/`` folder of the checkout harness runs from."""
    root = Path(os.environ.get("ELSINORE_FUZZ_DIR") or Path(__file__).resolve().parents[1] / "fuzz")
    if not (root / "targets").is_dir():
        raise ElsinoreError(
            f"no fuzz targets in {root} (run from a checkout or set ELSINORE_FUZZ_DIR)"
        )
    return Layout(root)


def seed_files(folder: Path) -> list[Path]:
    """Every seed in ``folder`` and below it (the campaign's inputs are in a subfolder), as
    libFuzzer reads a corpus folder."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.rglob("*") if path.is_file())


def regression_inputs(layout: Layout, target: Target) -> list[Path]:
    """The saved findings of ``target``: every file in its crash folder but hidden files and
    ``*.xfail`` notes (a note beside an input says why it still fails)."""
    folder = layout.crashes(target)
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.suffix != ".xfail"
    )


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-input bounds that turn a hang or a blow-up into a finding.  ``timeout_seconds``
    overrides every target's own :attr:`Target.timeout_seconds`."""

    timeout_seconds: int | None = None
    rss_limit_mb: int = 2048


def libfuzzer_command(
    layout: Layout, target: Target, seconds: int, jobs: int = 1, limits: Limits = Limits()
) -> list[str]:
    """The command that fuzzes ``target`` for ``seconds``; new inputs go to its work folder,
    the committed seeds are read but never written."""
    command = [
        sys.executable,
        str(layout.script(target)),
        f"-max_total_time={seconds}",
        f"-timeout={limits.timeout_seconds or target.timeout_seconds}",
        f"-rss_limit_mb={limits.rss_limit_mb}",
        f"-max_len={target.max_len}",
        f"-artifact_prefix={layout.crashes(target)}/",
        "-print_final_stats=1",
    ]
    if layout.dictionary(target).is_file():
        command.append(f"-dict={layout.dictionary(target)}")
    if jobs > 1:
        # Fork mode ignores timeouts and out-of-memory by default: it counts them, keeps
        # fuzzing and reports neither the input nor a failure.
        command += [f"-fork={jobs}", "-ignore_timeouts=0", "-ignore_ooms=0"]
    command.append(str(layout.work(target) / "corpus"))
    if layout.seeds(target).is_dir():
        command.append(str(layout.seeds(target)))
    real = real_seeds(target.family, layout.root / "work" / "real-seeds" / target.family)
    if real is not None:
        command.append(str(real))
    return command


#: Name prefixes libFuzzer gives the findings that are about time or memory, not a wrong answer.
RESOURCE_FINDINGS = ("timeout-", "oom-", "slow-unit-")


def replay_command(
    layout: Layout, target: Target, path: Path, limits: Limits = Limits()
) -> list[str]:
    """The command that runs one saved input through ``target`` once, under the limits a
    fuzzing run applies: a ``timeout-*`` or ``oom-*`` finding is fixed only when it runs
    within them, so it is replayed this way, not by calling ``fuzz_one_input``.  libFuzzer
    exits non-zero when the input still fails."""
    return [
        sys.executable,
        str(layout.script(target)),
        f"-timeout={limits.timeout_seconds or target.timeout_seconds}",
        f"-rss_limit_mb={limits.rss_limit_mb}",
        str(path),
    ]


@dataclass(slots=True)
class Result:
    """One run of one target, as read from libFuzzer's output."""

    target: str
    status: str = "ok"  # ok | finding | error
    executions: int = 0
    exec_per_second: int = 0
    coverage: int = 0  # cov: edges (Python branches) reached
    features: int = 0  # ft: coverage features (edges with hit counts, comparisons)
    corpus: int = 0
    seconds: float = 0.0
    finding: str = ""
    artifacts: list[str] = field(default_factory=list)
    log: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# "#4096 pulse  cov: 812 ft: 2301 corp: 120/9123b lim: 4096 exec/s: 1365 rss: 61Mb" and, in
# fork mode, "#9021: cov: 812 ft: 2301 corp: 120 exec/s 1365 oom/timeout/crash: 0/0/0 ...".
_STATUS = re.compile(rb"^#(\d+):?\s.*?\bcov: (\d+) ft: (\d+) corp: (\d+)")
_EXEC_RATE = re.compile(rb"\bexec/s:? (\d+)")
_STAT = re.compile(rb"^stat::(\w+):\s+(\d+)")
_ARTIFACT = re.compile(rb"Test unit written to (\S+)")
_SUMMARY = re.compile(rb"^SUMMARY: libFuzzer: (.+)")


def read_output(result: Result, lines: Iterable[bytes]) -> None:
    """Fill ``result`` from libFuzzer's output: the last status line gives coverage and the
    corpus size; the final stats (when printed) give executions and their rate."""
    stats: dict[str, int] = {}
    after_exception = False
    for raw in lines:
        line = raw.rstrip()
        if match := _STATUS.match(line):
            result.executions = int(match[1])
            result.coverage, result.features, result.corpus = (int(g) for g in match.groups()[1:])
            if rate := _EXEC_RATE.search(line):
                result.exec_per_second = int(rate[1])
        elif match := _STAT.match(line):
            stats[match[1].decode()] = int(match[2])
        elif match := _ARTIFACT.search(line):
            result.artifacts.append(match[1].decode(errors="replace"))
        elif b"=== Uncaught Python exception: ===" in line:
            after_exception = True
        elif after_exception and line and not result.finding:
            result.finding = line.decode(errors="replace")
        elif (match := _SUMMARY.match(line)) and not result.finding:
            result.finding = match[1].decode(errors="replace")
    result.executions = stats.get("number_of_executed_units", result.executions)
    if stats.get("average_exec_per_sec"):
        result.exec_per_second = stats["average_exec_per_sec"]
    if result.artifacts:
        result.status = "finding"


def run_target(
    layout: Layout,
    target: Target,
    seconds: int,
    jobs: int = 1,
    limits: Limits = Limits(),
    echo: Callable[[bytes], object] | None = None,
) -> Result:
    """Fuzz one target in a child process and report what happened; never raises for what the
    target does.  ``echo`` sees libFuzzer's output line by line as it comes."""
    work = layout.work(target)
    (work / "corpus").mkdir(parents=True, exist_ok=True)
    layout.crashes(target).mkdir(parents=True, exist_ok=True)
    log_path = work.parent / f"{target.name}.log"
    command = libfuzzer_command(layout, target, seconds, jobs, limits)
    result = Result(target.name, log=str(log_path))
    started = time.monotonic()
    with log_path.open("wb") as log:
        log.write(f"$ {shlex.join(command)}\n".encode())
        child = subprocess.Popen(
            command,
            cwd=work,  # fork mode's scratch files land here, not in the caller's folder
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: the guard stops fork-mode workers too
        )
        # libFuzzer stops itself after -max_total_time; this guard is for a child that cannot
        # (stuck before fuzzing starts, or in C code the per-input alarm cannot interrupt).
        guard = threading.Timer(seconds + 120, _stop, (child,))
        guard.start()
        lines: list[bytes] = []
        assert child.stdout is not None
        for line in child.stdout:
            log.write(line)
            lines.append(line)
            if echo is not None:
                echo(line)
        returncode = child.wait()
        guard.cancel()
    result.seconds = round(time.monotonic() - started, 1)
    read_output(result, lines)
    if result.status == "ok" and returncode != 0:
        result.status = "error"
        tail = [line.decode(errors="replace").strip() for line in lines[-3:]]
        result.finding = result.finding or f"exit status {returncode}: {' | '.join(tail)}"
    if result.status == "ok" and result.seconds and not result.exec_per_second:
        result.exec_per_second = int(result.executions / result.seconds)
    return result


def _stop(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.killpg(child.pid, signal.SIGKILL)


def report(results: list[Result]) -> str:
    """A plain-text table: one row per target run."""
    header = ("target", "status", "runs", "exec/s", "cov", "ft", "corpus", "time")
    rows = [header] + [
        (
            r.target,
            r.status,
            f"{r.executions:,}",
            f"{r.exec_per_second:,}",
            f"{r.coverage:,}",
            f"{r.features:,}",
            f"{r.corpus:,}",
            f"{r.seconds:.0f}s",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for r in results:
        if r.status != "ok":
            where = ", ".join(r.artifacts) or f"see {r.log}"
            lines.append(f"{r.target}: {r.status}: {r.finding} ({where})")
    return "\n".join(lines)


def export_oss_fuzz(layout: Layout, out: Path) -> list[Path]:
    """Write what OSS-Fuzz and ClusterFuzzLite read beside each built target ``<name>``:
    ``<name>_seed_corpus.zip``, ``<name>.dict`` and ``<name>.options`` (its libFuzzer limits)."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    limits = Limits()
    for target in TARGETS:
        seeds = layout.seeds(target)
        archive = out / f"{target.name}_seed_corpus.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in seed_files(seeds):
                bundle.write(path, path.name)
            for path in regression_inputs(layout, target):  # old findings are good seeds
                bundle.write(path, f"regression-{path.name}")
        written.append(archive)
        if layout.dictionary(target).is_file():
            dictionary = out / f"{target.name}.dict"
            dictionary.write_bytes(layout.dictionary(target).read_bytes())
            written.append(dictionary)
        options = out / f"{target.name}.options"
        options.write_text(
            "[libfuzzer]\n"
            f"max_len = {target.max_len}\n"
            f"timeout = {limits.timeout_seconds or target.timeout_seconds}\n"
            f"rss_limit_mb = {limits.rss_limit_mb}\n"
        )
        written.append(options)
    return written
