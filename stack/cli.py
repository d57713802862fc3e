"""The stack's command line: one click group per part of the mail domain.

``harness.cli`` mounts every command listed here under the ``elsinore`` entry point; the stack
also runs without the harness through ``python -m stack``.

Errors follow one rule: input a user can fix ends in one line on stderr and a non-zero exit,
never a traceback.  ``--debug`` (or ``ELSINORE_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from stack import __version__
from stack.auth.cli import arc_group, dkim_group, dmarc_group, spf_group
from stack.dns.cli import dns_group
from stack.errors import ElsinoreError
from stack.mime.cli import make as make_command
from stack.mime.cli import mime as mime_group
from stack.spam.cli import spam_group


class _Options:
    """Options shared by every command (``ctx.obj``)."""

    def __init__(self, debug: bool) -> None:
        self.debug = debug


def make_group(name: str, help_text: str) -> click.Group:
    """The root group both entry points share: ``--version`` and ``--debug``."""

    @click.group(
        name=name, help=help_text, context_settings={"help_option_names": ["-h", "--help"]}
    )
    @click.version_option(__version__, "-V", "--version", prog_name="elsinore")
    @click.option(
        "--debug",
        is_flag=True,
        envvar="ELSINORE_DEBUG",
        help="Show the full traceback when a command fails.",
    )
    @click.pass_context
    def group(ctx: click.Context, debug: bool) -> None:
        ctx.obj = _Options(debug)

    return group


def stack_commands() -> list[click.Command]:
    """Every command group of the stack, in the order ``--help`` lists them."""
    return [
        mime_group,
        make_command,
        dns_group,
        dkim_group,
        spf_group,
        dmarc_group,
        arc_group,
        spam_group,
    ]


def describe(exc: BaseException) -> str:
    """One line that tells a user what went wrong, without a traceback."""
    if isinstance(exc, ElsinoreError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_DEBUG_HINT = " (run with --debug for the traceback)"


def _command_index(group: click.Group, args: list[str]) -> int:
    for index, arg in enumerate(args):
        if arg in group.commands:
            return index
    return len(args)


def run(group: click.Group, argv: Sequence[str] | None = None) -> int:
    """Run ``group`` as a program and return its exit status; never lets a traceback out
    unless ``--debug`` was given."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = group.main(args=args, prog_name="elsinore", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("elsinore: aborted", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("elsinore: interrupted", err=True)
        return 130
    except BrokenPipeError:
        # The reader went away (``elsinore ... | head``): not an error of ours.
        sys.stderr.close()
        return 0
    except Exception as exc:
        # ``--debug`` is a group option, so it stands before the command name.
        if "--debug" in args[: _command_index(group, args)] or os.environ.get("ELSINORE_DEBUG"):
            raise
        hint = "" if isinstance(exc, (ElsinoreError, OSError)) else _DEBUG_HINT
        click.echo(f"elsinore: error: {describe(exc)}{hint}", err=True)
        return 1
    return result if isinstance(result, int) else 0


def cli() -> click.Group:
    """The stack alone, without the harness's commands."""
    group = make_group("elsinore", "Elsinore's mail stack.")
    for command in stack_commands():
        group.add_command(command)
    return group


def main() -> None:  # pragma: no cover - exercised through the console script
    sys.exit(run(cli()))
