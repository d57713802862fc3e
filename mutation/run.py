"""Mutation testing of the cores with mutmut 3, and the score of each module.

    python mutation/run.py                   # every group; exits 1 if a module is below 90%
    python mutation/run.py mime-wire auth    # some groups
    python mutation/run.py spam --report     # the score of the last run, without running
    python mutation/run.py dns --survivors   # each surviving mutant and the line it changed
    python mutation/run.py dns --rerun-survivors  # after adding tests: the survivors again

A mutant is the code with one small change (``<`` to ``<=``, ``+`` to ``-``, a constant, a
string); it is killed when a test fails on it.  A surviving mutant is a behaviour no test
states.

Each group (see GROUPS) is run in its own folder, ``.mutation/<group>/``, holding a copy of
the sources and tests and a pyproject.toml whose ``[tool.mutmut]`` table names the group's
modules and only the group's tests: mutmut runs, for each mutant, every selected test that
calls the mutated function, so selecting the module's own tests keeps a survivor from costing
the whole suite.  mutmut keeps its results there (``mutants/``), and re-tests only the
functions that changed since the last run.

Hypothesis runs under the ``mutation`` profile (tests/conftest.py): derandomized, so that a
mutant is killed or not the same way on every run.  Tests marked ``slow`` are left out.

Equivalent mutants, which no behaviour can tell from the original, are listed in
mutation/equivalents.toml with the line the mutant writes and a reason; an entry whose mutant
no longer writes that line (the function changed) is reported stale and not excluded.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import click
from mutation_score import KILLED, UNCOUNTED, Score, tally

try:
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
except ImportError:
    sys.exit("mutation/run.py: mutmut is not installed: pip install 'elsinore[mutation]'")

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
EQUIVALENTS = ROOT / "mutation" / "equivalents.toml"
COPIED = ("stack", "harness", "tests")


@dataclass(frozen=True)
class Group:
    modules: tuple[str, ...]  # globs, relative to the repository root
    tests: tuple[str, ...]  # folders or globs, relative to the repository root
    leave_out: tuple[str, ...] = ()  # test files the globs match but the group does not run
    # Plugins a forked mutant run does without.  pytest's unraisableexception plugin runs
    # gc.collect() five times when a session ends (0.76 s of a 1.3 s run over the field tests'
    # heap) and pytest-benchmark asks git for the commit (0.14 s): together most of the time a
    # killed mutant takes.  Changing a group's arguments makes mutmut run all its mutants again.
    without_plugins: tuple[str, ...] = ()


GROUPS = {
    # The codec is three groups, so that one can be run (and re-run) in minutes, not hours.
    "mime-wire": Group(("stack/mime/lossless.py", "stack/mime/transfer.py"), ("tests/mime",)),
    "mime-codec": Group(("stack/mime/decode.py", "stack/mime/encode.py"), ("tests/mime",)),
    # The field decoders are called by nearly every test of tests/mime, so a surviving field
    # mutant cost the whole folder; their own tests (and the two that read fields through the
    # lossless layer) state what they do.  The linear-time guards are left out: they measure
    # wall-clock time, which on a shared machine kills or spares a mutant at random, and they
    # cost five minutes a survivor.
    "mime-fields": Group(
        ("stack/mime/fields/*.py",),
        (
            "tests/mime/test_field_*.py",
            "tests/mime/test_encoded_words_in_addresses.py",
            "tests/mime/test_lossless_fields.py",
        ),
        leave_out=("tests/mime/test_field_linear_time.py",),
        without_plugins=("unraisableexception", "benchmark"),
    ),
    "auth": Group(
        (
            "stack/auth/dkim.py",
            "stack/auth/spf.py",
            "stack/auth/dmarc.py",
            "stack/auth/arc.py",
            "stack/auth/results.py",
        ),
        ("tests/auth",),
    ),
    "spam": Group(
        (
            "stack/spam/tokenizer.py",
            "stack/spam/fisher.py",
            "stack/spam/graham.py",
            "stack/spam/counts.py",
            "stack/spam/stores/*.py",
        ),
        ("tests/spam",),
    ),
    "dns": Group(
        ("stack/dns/authority.py", "stack/dns/update.py", "stack/dns/zones.py"),
        ("tests/dns",),
    ),
    # The hop is three groups, each a run of under an hour: the queue (spool, the runner that
    # empties it, DSNs, policy), the session (the server's reader, the client, TLS) and the
    # commands.  The crash, durability and interop tests are left out: they watch hops run as
    # subprocesses (SIGKILL rounds, strace, swaks), whose calls mutmut's stats cannot see, and
    # at the lowest priority on a shared machine the crash test's 20 s start-up wait runs out,
    # which fails the stats run or kills a mutant at random.
    **{
        name: Group(
            tuple(f"stack/smtp/{module}.py" for module in modules),
            ("tests/smtp/test_*.py",),
            leave_out=(
                "tests/smtp/test_smtp_crash.py",
                "tests/smtp/test_smtp_durability.py",
                "tests/smtp/test_smtp_hop_interop.py",
            ),
            without_plugins=("unraisableexception", "benchmark"),
        )
        for name, modules in {
            "smtp": ("dsn", "forward", "policy", "received", "recipients", "spool"),
            "smtp-session": ("client", "server", "tls"),
            "smtp-commands": ("cli", "tools"),
        }.items()
    },
    "iso": Group(("harness/iso.py",), ("tests/harness",)),
}

EXAMPLES = ("dns iso", "mime-wire --survivors", "spam --rerun-survivors", "--report --json")


class MutationError(click.ClickException):
    """A run that could not be made or read; one line, exit 1."""


def _modules(group: Group) -> list[str]:
    found = {
        path.relative_to(ROOT).as_posix()
        for pattern in group.modules
        for path in ROOT.glob(pattern)
        if path.name != "__init__.py"
    }
    return sorted(found)


def _tests(group: Group) -> list[str]:
    """The group's test folders and files, its globs expanded (pytest does not expand them)."""
    found: list[str] = []
    for pattern in group.tests:
        paths = sorted(path.relative_to(ROOT).as_posix() for path in ROOT.glob(pattern))
        found += [path for path in paths if path not in group.leave_out and path not in found]
    return found


def _mutmut_table(group: Group) -> str:
    """The ``[tool.mutmut]`` table for one group, in TOML (JSON lists are TOML arrays)."""
    args = ["-p", "no:xdist", "-p", "no:randomly", "-p", "no:cacheprovider", "-m", "not slow"]
    for plugin in group.without_plugins:
        args += ["-p", f"no:{plugin}"]
    return "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {json.dumps(list(COPIED[:2]))}",
            f"only_mutate = {json.dumps(_modules(group))}",
            f"pytest_add_cli_args = {json.dumps(args)}",
            f"pytest_add_cli_args_test_selection = {json.dumps(_tests(group))}",
            "",
        ]
    )


def _prepare(name: str, group: Group) -> Path:
    """Copy the sources and tests into the group's folder, keeping mutmut's results."""
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for folder in COPIED:
        shutil.rmtree(work / folder, ignore_errors=True)
        shutil.copytree(ROOT / folder, work / folder, ignore=ignore)
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    if "[tool.mutmut]" in pyproject:
        raise MutationError("pyproject.toml has a [tool.mutmut] table; the groups set their own")
    (work / "pyproject.toml").write_text(pyproject + _mutmut_table(group), "utf-8")
    return work


def _run(work: Path, max_children: int, mutants: list[str] | None = None) -> None:
    """Run mutmut in the group's folder: every mutant without a result, or the ones named."""
    mutmut = shutil.which("mutmut")
    if mutmut is None:
        raise MutationError("the mutmut command is not on PATH")
    # Each mutant's pytest keeps its last three tmp_path folders under its own numbered root,
    # and thousands of mutants filled /tmp (67 GB, the spam tests' databases): they go under
    # the group's folder instead, removed when the run ends.
    scratch = work / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation", "PYTEST_DEBUG_TEMPROOT": str(scratch)}
    try:
        done = subprocess.run(
            [mutmut, "run", "--max-children", str(max_children), *(mutants or ())],
            cwd=work,
            env=env,
            check=False,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if done.returncode != 0:
        raise MutationError(f"mutmut run in {work} exited {done.returncode}")


def _load_equivalents() -> dict[str, tuple[str, str]]:
    """Mutant name -> (the line it writes, why no behaviour can tell it apart)."""
    if not EQUIVALENTS.exists():
        return {}
    try:
        entries = tomllib.loads(EQUIVALENTS.read_text("utf-8")).get("equivalent", [])
    except tomllib.TOMLDecodeError as error:
        raise MutationError(f"{EQUIVALENTS}: {error}") from None
    table = {}
    for number, entry in enumerate(entries, 1):
        if not {"mutant", "line", "why"} <= entry.keys() or not str(entry["why"]).strip():
            raise MutationError(f"{EQUIVALENTS}: entry {number} needs mutant, line and why")
        table[entry["mutant"]] = (entry["line"].strip(), entry["why"])
    return table


def _changed_lines(work: Path, mutant: str, module: str) -> list[str]:
    """The lines the mutant writes (the ``+`` lines of ``mutmut show``), stripped."""
    with contextlib.chdir(work):
        diff = get_diff_for_mutant(mutant, path=module)
    return [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]


def _statuses(work: Path, module: str) -> dict[str, str]:
    """Each mutant of the module and what became of it in the last run."""
    meta = work / "mutants" / f"{module}.meta"
    if not meta.exists():
        return {}
    codes: dict[str, int | None] = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
    return {mutant: status_by_exit_code[code] for mutant, code in codes.items()}


def _score(work: Path, module: str, equivalents: dict[str, tuple[str, str]]) -> Score:
    def equivalent(mutant: str) -> bool:
        return mutant in equivalents and equivalents[mutant][0] in _changed_lines(
            work, mutant, module
        )

    return tally(module, _statuses(work, module), equivalents.keys(), equivalent)


def _surviving(work: Path, module: str, equivalents: dict[str, tuple[str, str]]) -> list[str]:
    """The module's mutants that no test killed (those not yet run too), equivalents left
    out."""
    return [
        mutant
        for mutant, status in _statuses(work, module).items()
        if status not in KILLED | UNCOUNTED and mutant not in equivalents
    ]


def _survivors(work: Path, module: str, equivalents: dict[str, tuple[str, str]]) -> list[str]:
    lines = []
    statuses = _statuses(work, module)
    for mutant in _surviving(work, module, equivalents):
        status = statuses[mutant]
        changed = " / ".join(_changed_lines(work, mutant, module)) or "(a line removed)"
        lines.append(f"{mutant}  [{status}]  {changed}")
    return lines


@click.command(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="\b\nExamples:\n" + "\n".join(f"  python mutation/run.py {a}" for a in EXAMPLES),
)
@click.argument("groups", nargs=-1, type=click.Choice(sorted(GROUPS)))
@click.option("--threshold", default=90.0, show_default=True, help="Lowest score per module.")
@click.option("--max-children", default=os.cpu_count() or 1, show_default=True)
@click.option("--report", is_flag=True, help="Score the last run without running mutmut.")
@click.option("--survivors", is_flag=True, help="List each surviving mutant and its line.")
@click.option(
    "--rerun-survivors",
    is_flag=True,
    help="Test the last run's survivors again, and the mutants it did not reach (mutmut "
    "re-tests a mutant on its own only when its function changes, not when a test is added).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def main(
    groups: tuple[str, ...],
    threshold: float,
    max_children: int,
    report: bool,
    survivors: bool,
    rerun_survivors: bool,
    as_json: bool,
) -> None:
    """Run mutmut over the cores and print each module's score."""
    equivalents = _load_equivalents()
    scores: list[Score] = []
    for name in groups or tuple(GROUPS):
        group = GROUPS[name]
        work = WORK / name
        if rerun_survivors:
            names = [m for module in _modules(group) for m in _surviving(work, module, equivalents)]
            if names:
                _run(_prepare(name, group), max_children, names)
        elif not report:
            _run(_prepare(name, group), max_children)
        for module in _modules(group):
            scores.append(_score(work, module, equivalents))
            if survivors:
                for line in _survivors(work, module, equivalents):
                    click.echo(line)
    failing = [s for s in scores if s.percent < threshold or s.unchecked or not s.counted]
    if as_json:
        click.echo(json.dumps([s.as_json() for s in scores], indent=2))
    else:
        click.echo(f"{'module':34} {'mutants':>7} {'killed':>7} {'equiv':>6} {'score':>6}")
        for s in scores:
            counts = f"{s.mutants:7d} {s.killed:7d} {s.equivalent:6d}"
            if not s.mutants:
                click.echo(f"{s.module:34} {counts}      -  not run")
                continue
            flag = "" if s not in failing else "  < threshold"
            if s.unchecked:
                flag = f"  incomplete: {s.unchecked} not run"
            click.echo(f"{s.module:34} {counts} {s.percent:5.1f}%{flag}")
            for mutant in s.stale:
                click.echo(f"  stale equivalent (its mutant changed): {mutant}")
    if failing:
        sys.exit(1)


if __name__ == "__main__":
    main()
