"""The ``elsinore`` entry point: the stack's commands plus the harness's own.

Examples::

    elsinore --help
    elsinore mime check ../shared/corpora/spamassassin
"""

from __future__ import annotations

import sys

import click

from harness.conformance import conformance_group
from harness.corpus import corpus_group
from harness.fuzz_cli import fuzz_group
from stack.cli import make_group, run, stack_commands


def harness_commands() -> list[click.Command]:
    """The harness's command groups (corpus, conformance, fuzz, loop) as they land."""
    return [corpus_group, conformance_group, fuzz_group]


def cli() -> click.Group:
    group = make_group(
        "elsinore",
        "Elsinore: a mail stack and the RFC 5322/MIME harness that keeps it honest.\n\n"
        "Every command has --help with an example.  Add --debug before the command to see "
        "the traceback of a failure.",
    )
    for command in [*stack_commands(), *harness_commands()]:
        group.add_command(command)
    return group


def main() -> None:
    sys.exit(run(cli()))
