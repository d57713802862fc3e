"""The command line's contract: --version, --help, one-line errors without tracebacks, and
commands imported only when they run."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import stack
from harness.cli import HARNESS_COMMANDS, cli
from stack import __version__
from stack.cli import STACK_COMMANDS, LazyCommand, make_group, run
from stack.dns.addresses import Endpoint
from stack.errors import ElsinoreError, excerpt
from stack.smtp.cli import hop as hop_command
from stack.spam.stores import StoreError

_HINT = " (run with --debug for the traceback)"


def _failing_group() -> click.Group:
    group = make_group("elsinore", "test group")

    @group.command()
    @click.argument("what")
    def fail(what: str) -> None:
        if what == "user":
            raise ElsinoreError("message 3 has no header block")
        if what == "huge":
            raise RuntimeError("\x1b[2J" + "z" * 5_000_000)
        if what == "escape":
            raise RuntimeError("\x1b[2Jcleared")
        if what == "user-huge":
            raise ElsinoreError("z" * 5_000_000)
        if what == "file":
            open("/nonexistent/elsinore-test")  # noqa: SIM115 - the OSError is the point
        raise RuntimeError("an internal bug\nwith a second line")

    return group


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cli(), ["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_debug_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cli(), ["--help"]) == 0
    out = capsys.readouterr().out
    assert "--debug" in out
    assert "--version" in out


def test_user_error_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_failing_group(), ["fail", "user"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "elsinore: error: message 3 has no header block\n"


def test_missing_file_names_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_failing_group(), ["fail", "file"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "/nonexistent/elsinore-test" in err
    assert "Traceback" not in err


def test_unexpected_exception_is_one_line_with_a_debug_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(_failing_group(), ["fail", "bug"]) == 1
    err = capsys.readouterr().err
    assert (
        err
        == "elsinore: error: RuntimeError: an internal bug (run with --debug for the traceback)\n"
    )


@pytest.mark.parametrize(
    ("what", "line"),
    [
        ("huge", f"RuntimeError: {excerpt(chr(27) + '[2J' + 'z' * 5_000_000)}{_HINT}"),
        ("escape", f"RuntimeError: {excerpt(chr(27) + '[2Jcleared')}{_HINT}"),
        ("user-huge", excerpt("z" * 5_000_000)),
    ],
)
def test_an_error_line_quotes_a_short_excerpt_of_a_long_or_unprintable_text(
    what: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(_failing_group(), ["fail", what]) == 1
    err = capsys.readouterr().err
    assert err == f"elsinore: error: {line}\n"
    assert len(err) < 200


def test_debug_lets_the_traceback_through() -> None:
    with pytest.raises(RuntimeError, match="an internal bug"):
        run(_failing_group(), ["--debug", "fail", "bug"])


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cli(), ["no-such-command"]) == 2
    assert capsys.readouterr().err == (
        "elsinore: error: No such command 'no-such-command'. (see 'elsinore --help')\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dns", "serve"], "Missing option '--zones'."),
        (["mime", "check"], "Missing argument 'PATHS...'."),
        (["dns", "serve", "--zones", ".", "--listen", "nowhere"], "Invalid value for '--listen'"),
    ],
)
def test_usage_error_is_one_line_that_names_the_commands_help(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(cli(), args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"elsinore: error: {message}")
    command = " ".join(args[:2])
    assert captured.err.endswith(f" (see 'elsinore {command} --help')\n")
    assert captured.err.count("\n") == 1


def test_a_group_called_bare_still_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cli(), ["dns"]) == 2
    assert "Usage: elsinore dns [OPTIONS] COMMAND" in capsys.readouterr().err


def test_the_console_script_reports_a_usage_error_in_one_line() -> None:
    script = shutil.which("elsinore", path=str(Path(sys.executable).parent)) or shutil.which(
        "elsinore"
    )
    assert script is not None, "the elsinore console script is not installed"
    proc = subprocess.run(
        [script, "dns", "serve", "--no-such-option"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("elsinore: error: No such option '--no-such-option'")
    assert proc.stderr.endswith(" (see 'elsinore dns serve --help')\n")
    assert proc.stderr.count("\n") == 1


def test_console_script_runs_as_a_program() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from harness.cli import main; main()", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert __version__ in proc.stdout


def test_every_command_loads_without_test_or_fuzz_extras() -> None:
    # The README's main command installs only the runtime dependencies; a command group that
    # imports a test-only module (pytest, yaml) or atheris at start-up breaks it.
    script = (
        "import sys\n"
        "for name in ('pytest', 'yaml', 'atheris', 'xdist', 'pytest_benchmark'):\n"
        "    sys.modules[name] = None\n"
        "import click\n"
        "from harness.cli import cli\n"
        "group = cli()\n"
        "for name in group.list_commands(click.Context(group)):\n"
        "    group.main(args=[name, '--help'], prog_name='elsinore', standalone_mode=False)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage: elsinore mime" in proc.stdout


def _modules_after(entry_point: str, args: list[str]) -> tuple[set[str], str]:
    """The modules a fresh interpreter imports to run ``args`` through ``entry_point``
    (``stack.cli`` or ``harness.cli``), and what it printed.  What the interpreter had imported
    before (``site`` and the environment's ``.pth`` files) does not count."""
    script = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"from {entry_point} import cli\n"
        "from stack.cli import run\n"
        f"status = run(cli(), {args!r})\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
        "sys.exit(status)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    output, _, modules = proc.stdout.rstrip("\n").rpartition("\n")
    return set(json.loads(modules)), output


def _imported(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(
        m for m in modules if m in packages or m.startswith(tuple(p + "." for p in packages))
    )


_NOT_FOR_SPAM = (
    "stack.auth", "stack.dns", "stack.mime.cli", "dkim", "dns", "harness.conformance",
    "harness.corpus", "harness.fuzz_cli", "harness.strategies", "hypothesis", "rich",
    "matplotlib", "cryptography",
)  # fmt: skip


@pytest.mark.parametrize("entry_point", ["stack.cli", "harness.cli"])
def test_a_spam_command_imports_no_other_part_of_the_stack(entry_point: str) -> None:
    modules, output = _modules_after(entry_point, ["spam", "test", "--help"])
    assert "Usage: elsinore spam test" in output
    assert _imported(modules, _NOT_FOR_SPAM) == []


@pytest.mark.parametrize("entry_point", ["stack.cli", "harness.cli"])
def test_only_version_reads_the_installed_metadata(entry_point: str) -> None:
    # importlib.metadata, with the email parser it reads METADATA with, costs a command
    # 15-20 ms of start-up.
    modules, _ = _modules_after(entry_point, ["spam", "test", "--help"])
    assert "importlib.metadata" not in modules
    _, output = _modules_after(entry_point, ["--version"])
    assert output == f"elsinore, version {__version__}"


def test_the_version_is_the_installed_distributions() -> None:
    assert __version__ == importlib.metadata.version("elsinore")
    assert stack.__version__ is __version__


def test_an_unknown_attribute_of_stack_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'version'"):
        stack.version  # type: ignore[attr-defined]  # noqa: B018 - the lookup is the test


def test_help_lists_every_command_without_importing_one() -> None:
    modules, output = _modules_after("harness.cli", ["--help"])
    commands = {**STACK_COMMANDS, **HARNESS_COMMANDS}
    listed = output.split("Commands:\n", 1)[1]
    assert [line.split()[0] for line in listed.splitlines()] == sorted(commands)
    homes = tuple(entry.target.partition(":")[0] for entry in commands.values())
    assert _imported(modules, homes) == []


@pytest.mark.parametrize(("name", "entry"), [*STACK_COMMANDS.items(), *HARNESS_COMMANDS.items()])
def test_the_tables_help_for_a_command_is_its_own_short_help(name: str, entry: LazyCommand) -> None:
    command = entry.load()
    assert command.name == name
    assert command.get_short_help_str(limit=1000) == entry.help


def test_help_reads_the_same_before_and_after_the_commands_are_imported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    group = cli()
    assert run(group, ["--help"]) == 0
    from_table = capsys.readouterr().out
    context = click.Context(group)
    for name in group.list_commands(context):
        group.get_command(context, name)
    assert run(group, ["--help"]) == 0
    assert capsys.readouterr().out == from_table


def test_a_lazy_command_is_imported_once_then_reused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    group = make_group("elsinore", "test group", {"spam": STACK_COMMANDS["spam"]})
    context = click.Context(group)
    first = group.get_command(context, "spam")
    assert first is not None
    assert group.get_command(context, "spam") is first
    assert run(group, ["spam", "--help"]) == 0
    assert "Usage: elsinore spam" in capsys.readouterr().out


def test_a_table_entry_that_is_not_a_command_is_refused() -> None:
    with pytest.raises(TypeError, match=r"stack\.cli:run is not a click command"):
        LazyCommand("stack.cli:run", "Not a command.").load()


def test_a_lazy_command_fails_in_one_line_unless_debug_comes_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELSINORE_DEBUG", raising=False)
    missing = str(tmp_path / "words.db")
    args = ["spam", "classify", "--db", missing, "--jobs", "1", "-"]
    assert run(cli(), args) == 1
    assert capsys.readouterr().err == (
        f"elsinore: error: no spam database at {missing} (train one with `spam train`)\n"
    )
    with pytest.raises(StoreError, match="no spam database"):
        run(cli(), ["--debug", *args])


def test_an_address_option_takes_its_own_default_port() -> None:
    # `hop --resolver ADDR` once read a DNS server's address with SMTP's port 25.
    resolver = next(p for p in hop_command.params if p.name == "resolver")
    context = click.Context(hop_command)
    assert resolver.process_value(context, "127.0.0.53") == Endpoint("127.0.0.53", 53)
    listen = next(p for p in hop_command.params if p.name == "listen")
    assert listen.process_value(context, "127.0.0.1") == Endpoint("127.0.0.1", 25)
    with pytest.raises(click.BadParameter, match="bad address"):
        listen.process_value(context, "castle:x")
