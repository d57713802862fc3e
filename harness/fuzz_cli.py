"""``elsinore fuzz``: list the fuzz targets, run one or all of them, export them for OSS-Fuzz."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import click

from harness.fuzz import (
    TARGETS,
    Layout,
    Result,
    Target,
    default_layout,
    export_oss_fuzz,
    regression_inputs,
    report,
    run_target,
    target_named,
)
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
def run_command(target: str, seconds: int, jobs: int, as_json: bool, verbose: bool) -> None:
    """Fuzz one TARGET for --time seconds and print its executions per second and coverage.

    \b
    Example:
      elsinore fuzz run field_address --time 60 --jobs 2
    """
    layout = default_layout()
    _finish([_run(layout, target_named(target), seconds, jobs, verbose)], as_json)


@fuzz_group.command("all")
@_TIME
@_JOBS
@_JSON
@_VERBOSE
def all_command(seconds: int, jobs: int, as_json: bool, verbose: bool) -> None:
    """Fuzz every target, one after the other, for --time seconds each (what tox -e fuzz runs).

    \b
    Example:
      FUZZ_SECONDS=20 elsinore fuzz all
    """
    layout = default_layout()
    _finish([_run(layout, target, seconds, jobs, verbose) for target in TARGETS], as_json)


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


def _finish(results: list[Result], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.as_json() for r in results], indent=2))
    else:
        click.echo(report(results))
    failed = [r.target for r in results if r.status != "ok"]
    if failed:
        raise ElsinoreError(
            f"{len(failed)} of {len(results)} fuzz targets failed: {', '.join(failed)}"
        )


def _count(folder: Path) -> int:
    return sum(1 for path in folder.iterdir() if path.is_file()) if folder.is_dir() else 0
