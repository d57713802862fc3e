"""The conformance matrix: every parser over a corpus, compared with the oracle.

For each message the oracle is the best truth available:

- a message of a generated corpus (a folder with ``manifest.json`` whose SHA-256 matches) is
  compared with the model the grammar wrote it from, rebuilt from the manifest's seed: the
  grammar is the truth, and elsinore itself can disagree with it;
- any other message (a real corpus) is compared with what elsinore's lenient decoder reads:
  there is no truth to be had, so the matrix says how the others differ from elsinore, and
  elsinore's own row has no disagreements by construction (printed as ``-``).

Rows per parser: messages accepted (parsed without an exception), crashed (an exception),
disagreements by category (messages with at least one difference in that category), and
byte-identical round trips (the parser's own serialization gives back the input).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import click

from harness.adapters import CATEGORIES, Adapter, View, available, compare, get, view_of_mail
from harness.corpus import MANIFEST, generate_one, read_manifest
from stack.errors import ElsinoreError
from stack.mime.sources import count_messages, iter_messages
from stack.progress import track


@dataclass
class Example:
    """The smallest message that showed one kind of disagreement."""

    label: str
    data: bytes
    detail: str


@dataclass
class Tally:
    """One parser's column of the matrix."""

    parser: str
    messages: int = 0
    accepted: int = 0
    crashed: int = 0
    disagreements: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    compared: int = 0
    round_trips: int | None = 0
    smallest: dict[str, Example] = field(default_factory=dict)

    def keep(self, category: str, label: str, data: bytes, detail: str) -> None:
        known = self.smallest.get(category)
        if known is None or len(data) < len(known.data):
            self.smallest[category] = Example(label, data, detail)

    def as_json(self) -> dict[str, object]:
        return {
            "parser": self.parser,
            "messages": self.messages,
            "accepted": self.accepted,
            "crashed": self.crashed,
            "compared_with_oracle": self.compared,
            "disagreements": self.disagreements,
            "byte_identical_round_trips": self.round_trips,
        }


class _Oracles:
    """The expected view of each message: the grammar's model for generated corpora."""

    def __init__(self) -> None:
        self._manifests: dict[Path, dict[str, object] | None] = {}

    def grammar_view(self, label: str, data: bytes) -> View | None:
        path = Path(label)
        if not path.is_file():
            return None
        folder = path.parent
        if folder not in self._manifests:
            self._manifests[folder] = read_manifest(folder)
        manifest = self._manifests[folder]
        if manifest is None or manifest.get("format") != "eml":
            return None
        try:
            index = int(path.stem)
            seed = manifest["seed"]
        except (ValueError, KeyError):
            return None
        if not isinstance(seed, int):
            return None
        generated = generate_one(seed, index)
        if generated.entity.data != data:
            return None  # edited since it was generated: the grammar is no longer its truth
        return view_of_mail(generated.entity.mail)


def run(
    paths: Iterable[str], parsers: list[str], *, progress: bool = True
) -> tuple[list[Tally], dict[str, int]]:
    """Run ``parsers`` over every message under ``paths``; return their tallies and how
    many messages each oracle judged (``grammar``, ``elsinore``, ``none``)."""
    adapters: list[Adapter] = [get(name) for name in parsers]
    tallies = {adapter.name: Tally(adapter.name) for adapter in adapters}
    for tally in tallies.values():
        tally.round_trips = 0
    oracles = _Oracles()
    judged = {"grammar": 0, "elsinore": 0, "none": 0}
    paths = list(paths)
    sources = iter_messages(paths)
    if progress:
        sources = track(sources, total=count_messages(paths), description="conformance")
    reference = get("elsinore")
    for source in sources:
        if Path(source.label).name == MANIFEST:
            continue
        data = source.data
        expected = oracles.grammar_view(source.label, data)
        oracle = "grammar"
        if expected is None:
            oracle = "elsinore"
            try:
                expected = reference.view(data)
            except Exception:
                oracle, expected = "none", None
        judged[oracle] += 1
        for adapter in adapters:
            tally = tallies[adapter.name]
            tally.messages += 1
            try:
                got = adapter.view(data)
            except Exception as error:
                tally.crashed += 1
                tally.keep("crash", source.label, data, f"{type(error).__name__}: {error}")
                continue
            tally.accepted += 1
            if expected is not None and not (oracle == "elsinore" and adapter.name == "elsinore"):
                tally.compared += 1
                for category, detail in compare(expected, got):
                    tally.disagreements[category] += 1
                    tally.keep(category, source.label, data, detail)
            try:
                again = adapter.round_trip(data)
            except Exception:
                again = b""
            if again is None:
                tally.round_trips = None
            elif tally.round_trips is not None and again == data:
                tally.round_trips += 1
    return [tallies[adapter.name] for adapter in adapters], judged


def render(tallies: list[Tally], judged: dict[str, int]) -> str:
    """The matrix as a Markdown table, parsers as columns."""
    header = "| | " + " | ".join(f"`{t.parser}`" for t in tallies) + " |"
    rule = "|---|" + "---:|" * len(tallies)
    rows = [
        ("messages accepted", [str(t.accepted) for t in tallies]),
        ("crashed", [str(t.crashed) for t in tallies]),
    ]
    for category in CATEGORIES:
        rows.append(
            (
                f"disagreements: {category}",
                [str(t.disagreements[category]) if t.compared else "-" for t in tallies],
            )
        )
    rows.append(
        (
            "byte-identical round trips",
            ["n/a" if t.round_trips is None else str(t.round_trips) for t in tallies],
        )
    )
    lines = [header, rule, *(f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows)]
    lines.append("")
    lines.append(
        f"{sum(judged.values())} messages; oracle: the grammar's model for {judged['grammar']}, "
        f"elsinore's reading for {judged['elsinore']}, none for {judged['none']}."
    )
    return "\n".join(lines)


def save_examples(tallies: list[Tally], folder: Path) -> list[Path]:
    """Write the smallest example of each disagreement and crash: ``parser/category.eml``
    and, beside it, ``parser/category.txt`` with the message's origin and the difference."""
    written = []
    for tally in tallies:
        for category, example in sorted(tally.smallest.items()):
            target = folder / tally.parser
            target.mkdir(parents=True, exist_ok=True)
            (target / f"{category}.eml").write_bytes(example.data)
            (target / f"{category}.txt").write_text(f"{example.label}\n{example.detail}\n")
            written.append(target / f"{category}.eml")
    return written


@click.group(name="conformance")
def conformance_group() -> None:
    """Compare mail parsers with the oracle over corpora: the conformance matrix.

    \b
    Example:
      elsinore conformance run corpus/sample ../shared/corpora/spamassassin
    """


@conformance_group.command(name="run")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--parser",
    "-p",
    "parsers",
    multiple=True,
    help="A parser to run (repeatable); default: every installed one.",
)
@click.option("--json", "as_json", is_flag=True, help="The matrix as one JSON object.")
@click.option(
    "--save",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the smallest example of each disagreement into this folder.",
)
def run_command(
    paths: tuple[str, ...], parsers: tuple[str, ...], as_json: bool, save: Path | None
) -> None:
    """Run parsers over PATH... (files, folders, Maildirs, mbox) and print the matrix.

    Generated corpora (with manifest.json) are judged against the grammar's own models;
    other messages against elsinore's reading.

    \b
    Examples:
      elsinore conformance run corpus/sample
      elsinore conformance run -p stdlib-default --save /tmp/worst ../shared/corpora/spamassassin
    """
    names = list(parsers) or available()
    if not names:
        raise ElsinoreError("no parser to run")
    tallies, judged = run(paths, names)
    if save is not None:
        save_examples(tallies, save)
    if as_json:
        click.echo(
            json.dumps({"oracle": judged, "parsers": [t.as_json() for t in tallies]}, indent=1)
        )
    else:
        click.echo(render(tallies, judged))
