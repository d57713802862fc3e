"""The ``elsinore`` entry point: the stack's commands plus the harness's own.

Like the stack's, the harness's commands are imported only when they run (see
:class:`stack.cli.LazyGroup`): ``elsinore spam test`` must not pay for the grammar, the
fuzzer or the conformance adapters.

Examples::

    elsinore --help
    elsinore mime check ../shared/corpora/spamassassin
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import click

from stack.cli import STACK_COMMANDS, LazyCommand, make_group, run

#: The harness's command groups, by the name each is called by.
HARNESS_COMMANDS: Mapping[str, LazyCommand] = {
    "corpus": LazyCommand(
        "harness.corpus:corpus_group",
        "Generate deterministic corpora of valid mail from the harness grammar.",
    ),
    "conformance": LazyCommand(
        "harness.conformance:conformance_group",
        "Compare mail parsers with the oracle over corpora: the conformance matrix.",
    ),
    "loop": LazyCommand(
        "harness.world.cli:loop",
        "Run the seed's Gmail loop, and the ways it fails, in a simulated internet.",
    ),
    "fuzz": LazyCommand(
        "harness.fuzz_cli:fuzz_group",
        "Coverage-guided fuzzing of every parser with atheris (libFuzzer).",
    ),
}


def cli() -> click.Group:
    return make_group(
        "elsinore",
        "Elsinore: a mail stack and the RFC 5322/MIME harness that keeps it honest.\n\n"
        "Every command has --help with an example.  Add --debug before the command to see "
        "the traceback of a failure.",
        {**STACK_COMMANDS, **HARNESS_COMMANDS},
    )


def main() -> None:
    sys.exit(run(cli()))
