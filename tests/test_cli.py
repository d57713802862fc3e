"""The command line's contract: --version, --help, and one-line errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from harness.cli import cli
from stack import __version__
from stack.cli import make_group, run
from stack.errors import ElsinoreError


def _failing_group() -> click.Group:
    group = make_group("elsinore", "test group")

    @group.command()
    @click.argument("what")
    def fail(what: str) -> None:
        if what == "user":
            raise ElsinoreError("message 3 has no header block")
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


def test_debug_lets_the_traceback_through() -> None:
    with pytest.raises(RuntimeError, match="an internal bug"):
        run(_failing_group(), ["--debug", "fail", "bug"])


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cli(), ["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


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
        "from harness.cli import cli\n"
        "group = cli()\n"
        "for name in group.commands:\n"
        "    group.main(args=[name, '--help'], prog_name='elsinore', standalone_mode=False)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage: elsinore mime" in proc.stdout
