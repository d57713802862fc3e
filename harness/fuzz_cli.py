"""``elsinore fuzz``: list the fuzz targets, run one or all of them, export them for OSS-Fuzz."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import click

from harness.fuzz import (
    KIB,
    TARGETS,
    Layout,
    Result,
    Target,
    default_layout,
    export_oss_fuzz,
    regression_inputs,
    report,
    run_target,
    seed_files,
    target_named,
)
from harness.fuzz_corpus import Cap, Merged, merge_family
from stack.errors import ElsinoreError

_TIME = click.option(
    "--time",
    "seconds",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    envvar="FUZZ_SECONDS",
    help="Seconds of fuzzing per target (env FUZZ_SECONDS).",
)
_JOBS = click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes per target (libFuzzer -fork=N); use the number of cores.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
_VERBOSE = click.option(
    "-v", "--verbose", is_flag=True, help="Show libFuzzer's output as it runs (on stderr)."
)
_MERGE = click.option(
    "--merge",
    is_flag=True,
    help="Afterwards, merge what the run learned into fuzz/corpora (see 'fuzz merge'), "
    "findings or not.",
)
_MAX_FILES = click.option(
    "--max-files",
    type=click.IntRange(min=1),
    default=Cap().files,
    show_default=True,
    help="Cap on the files of one family's campaign folder.",
)
_MAX_KIB = click.option(
    "--max-kib",
    type=click.IntRange(min=1),
    default=Cap().bytes // KIB,
    show_default=True,
    help="Cap on the KiB of one family's campaign folder.",
)


@click.group("fuzz")
def fuzz_group() -> None:
    """Coverage-guided fuzzing of every parser with atheris (libFuzzer).

    Each target runs in its own process for a bounded time; an exception, 2 GB of memory or
    an input slower than the target's limit (5 s per 64 KiB of input, at least 1 s: see
    'fuzz list') is a finding, saved under fuzz/crashes/TARGET/ where the test suite replays
    it.  The command exits non-zero when a target found something.

    \b
    Examples:
      elsinore fuzz list
      elsinore fuzz run mime_decode --time 60 --jobs 2
      elsinore fuzz all --time 20 --json
      elsinore fuzz all --time 600 --jobs 2 --merge    # a campaign (tox -e fuzz-campaign)
      elsinore fuzz merge mime_check                   # keep what a run learned
    """


@fuzz_group.command("list")
@_JSON
def list_command(as_json: bool) -> None:
    """List the targets with their input bound, time limit per input, seeds and saved findings.

    \b
    Example:
      elsinore fuzz list
    """
    layout = default_layout()
    rows = [
        {
            "target": target.name,
            "family": target.family,
            "max_len": target.max_len,
            "timeout_seconds": target.timeout_seconds,
            "seeds": _count(layout.seeds(target)),
            "regressions": len(regression_inputs(layout, target)),
            "summary": target.summary,
        }
        for target in TARGETS
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(target.name) for target in TARGETS)
    for row in rows:
        click.echo(
            f"{row['target']:<{width}}  {row['max_len']:>6} B  {row['timeout_seconds']:>2} s  "
            f"{row['seeds']:>3} seeds  "
            f"{row['regressions']:>2} regressions  {row['summary']}"
        )


@fuzz_group.command("run")
@click.argument("target")
@_TIME
@_JOBS
@_JSON
@_VERBOSE
@_MERGE
def run_command(
    target: str, seconds: int, jobs: int, as_json: bool, verbose: bool, merge: bool
) -> None:
    """Fuzz one TARGET for --time seconds and print its executions per second and coverage.

    \b
    Example:
      elsinore fuzz run field_address --time 60 --jobs 2
    """
    layout = default_layout()
    chosen = target_named(target)
    results = [_run(layout, chosen, seconds, jobs, verbose)]
    merged = _merge(layout, [chosen.family], Cap()) if merge else []
    _finish(results, as_json, merged)


@fuzz_group.command("all")
@_TIME
@_JOBS
@_JSON
@_VERBOSE
@_MERGE
def all_command(seconds: int, jobs: int, as_json: bool, verbose: bool, merge: bool) -> None:
    """Fuzz every target, one after the other, for --time seconds each (what tox -e fuzz runs).

    A campaign is the same command for minutes per target, with --merge so that the next
    runs start from what it learned (tox -e fuzz-campaign: 10 minutes, 2 jobs).

    \b
    Examples:
      FUZZ_SECONDS=20 elsinore fuzz all
      elsinore fuzz all --time 600 --jobs 2 --merge
    """
    layout = default_layout()
    results = [_run(layout, target, seconds, jobs, verbose) for target in TARGETS]
    merged = _merge(layout, _families(TARGETS), Cap()) if merge else []
    _finish(results, as_json, merged)


@fuzz_group.command("merge")
@click.argument("names", nargs=-1)
@_MAX_FILES
@_MAX_KIB
@_JSON
def merge_command(names: tuple[str, ...], max_files: int, max_kib: int, as_json: bool) -> None:
    """Merge the inputs the last runs found (fuzz/work/) into the committed corpora.

    For each family of the targets NAMES (every family when none is named), libFuzzer's
    -merge=1 keeps the inputs that add coverage to the family's seeds under each of its
    targets, smallest first, in fuzz/corpora/FAMILY/campaign/ (replacing what the previous
    merge kept there), within the cap.  Inputs sharing a run of bytes with real mail are
    never kept.  Commit the folder to let CI's short runs start from there.

    \b
    Examples:
      elsinore fuzz merge
      elsinore fuzz merge mime_check field_address --max-files 50 --max-kib 32
    """
    layout = default_layout()
    chosen = [target_named(name) for name in names] if names else list(TARGETS)
    merged = _merge(layout, _families(chosen), Cap(max_files, max_kib * KIB))
    if as_json:
        click.echo(json.dumps([m.as_json() for m in merged], indent=2))
    else:
        click.echo(merge_report(merged))
    _merges_succeeded(merged)


@fuzz_group.command("export")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def export_command(out: Path) -> None:
    """Write each target's seed corpus zip, dictionary and libFuzzer options into OUT, named
    as OSS-Fuzz and ClusterFuzzLite expect (.clusterfuzzlite/build.sh runs this with $OUT).

    \b
    Example:
      elsinore fuzz export /tmp/out
    """
    for path in export_oss_fuzz(default_layout(), out):
        click.echo(path)


def _run(layout: Layout, target: Target, seconds: int, jobs: int, verbose: bool) -> Result:
    if importlib.util.find_spec("atheris") is None:
        raise ElsinoreError("atheris is not installed (pip install -e '.[fuzz]')")
    click.echo(f"fuzz: {target.name} for {seconds}s ...", err=True)
    return run_target(layout, target, seconds, jobs, echo=_to_stderr if verbose else None)


def _to_stderr(line: bytes) -> None:
    sys.stderr.buffer.write(line)
    sys.stderr.buffer.flush()


def _families(targets: list[Target] | tuple[Target, ...]) -> list[str]:
    return list(dict.fromkeys(target.family for target in targets))


def _merge(layout: Layout, families: list[str], cap: Cap) -> list[Merged]:
    if importlib.util.find_spec("atheris") is None:
        raise ElsinoreError("atheris is not installed (pip install -e '.[fuzz]')")
    merged = []
    for family in families:
        click.echo(f"fuzz: merging into corpora/{family} ...", err=True)
        try:
            merged.append(merge_family(layout, family, cap))
        except ElsinoreError as error:
            # The runs' report still matters: it is printed, and the command fails after it.
            targets = [target.name for target in TARGETS if target.family == family]
            merged.append(Merged(family, targets, error=str(error)))
    return merged


def merge_report(merged: list[Merged]) -> str:
    """One line per family: what the merge kept, added and left out."""
    return "\n".join(
        f"corpora/{m.family}: merge failed: {m.error}"
        if m.error
        else f"corpora/{m.family}: {m.kept} campaign inputs kept ({m.added} new) of "
        f"{m.candidates} offered, {m.dropped} over the cap, {m.real} sharing a run with real "
        f"mail; {m.files} files, {m.bytes:,} bytes in all"
        for m in merged
    )


def _finish(results: list[Result], as_json: bool, merged: list[Merged] | None = None) -> None:
    merged = merged or []
    if as_json:
        rows = [r.as_json() for r in results]
        if merged:
            click.echo(
                json.dumps({"runs": rows, "merged": [m.as_json() for m in merged]}, indent=2)
            )
        else:
            click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(report(results))
        if merged:
            click.echo(merge_report(merged))
    failed = [r.target for r in results if r.status != "ok"]
    if failed:
        raise ElsinoreError(
            f"{len(failed)} of {len(results)} fuzz targets failed: {', '.join(failed)}"
        )
    _merges_succeeded(merged)


def _merges_succeeded(merged: list[Merged]) -> None:
    failed = [m.family for m in merged if m.error]
    if failed:
        raise ElsinoreError(f"the merge failed for corpora/{', corpora/'.join(failed)}")


def _count(folder: Path) -> int:
    return len(seed_files(folder))
