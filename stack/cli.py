"""The stack's command line: one click group per part of the mail domain.

``harness.cli`` mounts every command listed here under the ``elsinore`` entry point; the stack
also runs without the harness through ``python -m stack``.

A command is imported only when it runs.  The root group knows each one by name, by where it
lives and by its one line of help (:data:`STACK_COMMANDS`), so that ``elsinore spam test``
never imports the DNS resolver, DKIM or the harness, and ``elsinore --help`` imports no command
at all.  A start-up that imported every command cost 0.2 s before the first message was read.

Errors follow one rule: input a user can fix ends in one line on stderr and a non-zero exit,
never a traceback.  ``--debug`` (or ``ELSINORE_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

import stack
from stack.errors import ElsinoreError, bounded

if TYPE_CHECKING:
    from stack.dns.addresses import Endpoint


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A command that is not imported yet: where it lives, and what ``--help`` says of it.

    ``target`` is ``"module:attribute"``.  ``help`` is the command's short help, the first
    sentence of its docstring; a test keeps the two equal.
    """

    target: str
    help: str

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


#: Every command group of the stack, by the name it is called by.
STACK_COMMANDS: Mapping[str, LazyCommand] = {
    "mime": LazyCommand("stack.mime.cli:mime", "Read, check and describe RFC 5322/MIME messages."),
    "make": LazyCommand(
        "stack.mime.cli:make",
        "Compose a message, as blaze's make does: fields from options, the body from stdin.",
    ),
    "dns": LazyCommand(
        "stack.dns.cli:dns_group",
        "The domain's DNS: an authoritative primary with TSIG updates, and a caching resolver.",
    ),
    "dkim": LazyCommand(
        "stack.auth.cli:dkim_group",
        "DKIM keys, signatures and verification (RFC 6376, RFC 8463).",
    ),
    "spf": LazyCommand(
        "stack.auth.cli:spf_group", "SPF (RFC 7208): may this address send for this sender?"
    ),
    "dmarc": LazyCommand(
        "stack.auth.cli:dmarc_group",
        "DMARC (RFC 7489): does the From domain's policy accept this message?",
    ),
    "arc": LazyCommand(
        "stack.auth.cli:arc_group",
        "ARC (RFC 8617): seal mail you forward, validate the chain of mail you receive.",
    ),
    "spam": LazyCommand(
        "stack.spam.cli:spam_group",
        "Bayesian spam filtering: train a word database, then classify and mark mail.",
    ),
    "stack": LazyCommand(
        "stack.services.cli:stack_group",
        "Set up and run one mail domain: DNS, submission, signer, MX, spam filter and relay.",
    ),
    "hop": LazyCommand(
        "stack.smtp.cli:hop",
        "Run a store-and-forward SMTP hop: accept, spool durably, forward to one address.",
    ),
    "srv": LazyCommand(
        "stack.smtp.tools:srv",
        "A sink: store every message received, exactly as received, one .eml file each.",
    ),
    "send": LazyCommand(
        "stack.smtp.tools:send",
        "Send one message (a FILE, or stdin) through one SMTP server.",
    ),
    "user": LazyCommand(
        "stack.relay.cli:user_group",
        "The domain's users and aliases: where each address's mail goes, and its password.",
    ),
    "submit": LazyCommand(
        "stack.smtp.tools:submit",
        "Submit one message (a FILE, or stdin) through a submission server, logged in.",
    ),
}


class LazyGroup(click.Group):
    """A click group that imports each of its ``lazy_commands`` the first time it is looked
    up, and lists them in ``--help`` from their table entries without importing any."""

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in self.lazy_commands:
            command = self.lazy_commands[cmd_name].load()
            self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands section of ``--help``, as :class:`click.Group` writes it; a command
        not imported yet stands in as a bare command that holds only its table help."""
        shown: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                command = click.Command(name, help=self.lazy_commands[name].help)
            if not command.hidden:
                shown.append((name, command))
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section("Commands"):
            formatter.write_dl(
                [(name, command.get_short_help_str(limit)) for name, command in shown]
            )


def endpoint_callback(
    default_port: int,
) -> Callable[[click.Context, click.Parameter, str | None], Endpoint | None]:
    """A click callback reading ``ADDR[:PORT]`` options (``default_port`` when none is
    written); a bad one is click's one-line usage error naming the option.  stack.dns is
    imported when an option is read, not here: ``elsinore spam`` imports no other part."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Endpoint | None:
        from stack.dns.addresses import parse_endpoint  # noqa: PLC0415 - see above
        from stack.dns.errors import AddressError  # noqa: PLC0415

        if value is None:
            return None
        try:
            return parse_endpoint(value, default_port)
        except AddressError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None

    return callback


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``, as :func:`click.version_option` prints it; the version is looked up only
    here, because finding it costs a command that does not print it 15-20 ms of start-up."""
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"elsinore, version {stack.__version__}", color=ctx.color)
    ctx.exit()


class _Options:
    """Options shared by every command (``ctx.obj``)."""

    def __init__(self, debug: bool) -> None:
        self.debug = debug


def make_group(
    name: str, help_text: str, commands: Mapping[str, LazyCommand] | None = None
) -> LazyGroup:
    """The root group both entry points share: ``--version``, ``--debug`` and ``commands``."""

    @click.group(
        name=name,
        cls=LazyGroup,
        lazy_commands=commands,
        help=help_text,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    @click.option(
        "-V",
        "--version",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_show_version,
        help="Show the version and exit.",
    )
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


#: The longest text :func:`describe` passes on as it is; a longer one becomes an excerpt.
#: Our own errors quote excerpts already and stay far below it; this is the last guard, for
#: a library's exception that quotes the whole input line (megabytes of it).
_LINE_LIMIT = 1_000


def describe(exc: BaseException) -> str:
    """One line that tells a user what went wrong, without a traceback."""
    if isinstance(exc, ElsinoreError):
        return bounded(str(exc), _LINE_LIMIT)
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}"
    lines = str(exc).splitlines()
    if not lines:
        return type(exc).__name__
    return f"{type(exc).__name__}: {bounded(lines[0], _LINE_LIMIT)}"


_DEBUG_HINT = " (run with --debug for the traceback)"


def _command_index(group: click.Group, args: list[str]) -> int:
    names = set(group.list_commands(click.Context(group)))
    for index, arg in enumerate(args):
        if arg in names:
            return index
    return len(args)


#: Click 8.2+ raises this for a group called bare (its message is the group's help);
#: older versions print the help and exit by themselves.
_NO_ARGS_IS_HELP: type[click.UsageError] | tuple[()] = getattr(
    click.exceptions, "NoArgsIsHelpError", ()
)


def _usage_line(exc: click.UsageError) -> str:
    """Click's usage error as the one line every other error is: the reason, and where the
    command's help is, instead of click's usage block and ``Error:`` line."""
    reason = exc.format_message().splitlines()[0] if exc.format_message() else "bad usage"
    command = exc.ctx.command_path if exc.ctx is not None else "elsinore"
    return f"{reason} (see '{command} --help')"


def run(group: click.Group, argv: Sequence[str] | None = None) -> int:
    """Run ``group`` as a program and return its exit status; never lets a traceback out
    unless ``--debug`` was given."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = group.main(args=args, prog_name="elsinore", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except _NO_ARGS_IS_HELP as exc:
        exc.show()  # a group called without a command: its help is the answer
        return exc.exit_code
    except click.UsageError as exc:
        click.echo(f"elsinore: error: {_usage_line(exc)}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"elsinore: error: {exc.format_message()}", err=True)
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
    return make_group("elsinore", "Elsinore's mail stack.", STACK_COMMANDS)


def main() -> None:  # pragma: no cover - exercised through the console script
    sys.exit(run(cli()))
