"""``elsinore spam``: train a word database, classify and mark mail, measure, report.

The commands are thin: they read messages through :mod:`stack.mime.sources` (a file, a
folder, a Maildir, an mbox or ``-``), hand bytes to :class:`~stack.spam.filter.SpamFilter`
and print one line per message for people, or JSON for scripts.

Training is atomic: a whole ``spam train`` run is counted in memory first and written in one
transaction, so an unreadable path or an interrupt leaves the database as it was.

Start-up time is part of every command's time (``spam test`` is measured against spamoracle
as a whole program), so what only one command needs (the report's plotting, the backup
reader, the progress bar) is imported inside that command.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from stack.mime.sources import Entry, count_messages, iter_entries
from stack.spam.counts import Training
from stack.spam.evaluation import Evaluation
from stack.spam.filter import (
    CLASSIFIERS,
    DEFAULT_CLASSIFIER,
    ClassifierName,
    SpamFilter,
    classify_entries,
    classify_many,
    default_jobs,
)
from stack.spam.mark import mark
from stack.spam.stores import REDIS_SCHEMES, open_store
from stack.spam.verdict import Score, Verdict

_GREEDY = ("--spam", "--ham")


class _GreedyPathsCommand(click.Command):
    """Lets ``--spam a b c --ham d`` mean ``--spam a --spam b --spam c --ham d``, the way
    ``spamoracle add -spam ... -good ...`` reads its mailboxes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rewritten: list[str] = []
        current: str | None = None
        taken = 0
        for arg in args:
            if arg in _GREEDY:
                current, taken = arg, 0
                rewritten.append(arg)
                continue
            if arg.startswith("-") and arg != "-":
                current = None
            elif current is not None:
                if taken:
                    rewritten.append(current)
                taken += 1
            rewritten.append(arg)
        return super().parse_args(ctx, rewritten)


# Not click.Path(exists=True): the value may be a Redis URL, and open_store(create=False)
# says in one line when a database is missing.
_db_option = click.option(
    "--db",
    "db_path",
    required=True,
    metavar="FILE|URL",
    help="The SQLite word database (created by `spam train`), or a Redis URL "
    "(redis://127.0.0.1:6379/0, optionally #key-prefix) shared by several filters, "
    "which needs pip install 'elsinore[redis]'.",
)


_classifier_option = click.option(
    "--classifier",
    type=click.Choice(CLASSIFIERS),
    default=DEFAULT_CLASSIFIER,
    show_default=True,
    help="fisher-lr: Fisher's clues plus the regression (Fisher alone on a database "
    "without one); fisher: Robinson-Fisher chi-square; graham: SpamOracle-compatible; lr: "
    "on-line logistic regression on byte 4-grams of the message's head.",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
_jobs_option = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=default_jobs,
    show_default="the cores available",
    help="Processes that tokenize and classify in parallel.",
)


def _tracked(paths: Sequence[str], description: str) -> Iterator[Entry]:
    """The messages under ``paths``, as entries for the workers to read, with a progress bar
    when stderr is a terminal.  Only then are the files counted and rich imported (a tenth
    of the start-up time of a command that classifies one message)."""
    if not sys.stderr.isatty():
        return iter_entries(paths)
    from stack.progress import track  # noqa: PLC0415

    return track(iter_entries(paths), total=count_messages(paths), description=description)


def _load_filter(db_path: str, classifier: ClassifierName) -> SpamFilter:
    store = open_store(db_path, create=False)
    try:
        return SpamFilter(store.load(), classifier)
    finally:
        store.close()


@click.group("spam")
def spam_group() -> None:
    """Bayesian spam filtering: train a word database, then classify and mark mail.

    \b
    Example:
      elsinore spam train --db words.db --spam ~/Mail/spam --ham ~/Mail/inbox
      elsinore spam mark --db words.db < message.eml > marked.eml
    """


@spam_group.command("train", cls=_GreedyPathsCommand)
@_db_option
@click.option(
    "--spam",
    "spam_paths",
    multiple=True,
    metavar="PATH...",
    help="Spam: files, folders, Maildirs, mbox files.",
)
@click.option(
    "--ham", "ham_paths", multiple=True, metavar="PATH...", help="Good mail, read the same way."
)  # fmt: skip
@click.option("--forget", is_flag=True, help="Untrain: take these messages out again.")
@click.option(
    "--replace",
    is_flag=True,
    help="Train a copy of the SQLite file and rename it over --db, so that a running "
    "spamfilter service switches to the new counts whole.  One trainer at a time.",
)
@_json_option
@_jobs_option
def train_command(
    db_path: str, spam_paths: tuple[str, ...], ham_paths: tuple[str, ...], forget: bool,
    replace: bool, as_json: bool, jobs: int,
) -> None:  # fmt: skip
    """Learn spam and ham (or unlearn them with --forget), in one transaction.

    PATH may be a file, a folder of files, a Maildir or an mbox; several may follow one
    --spam or --ham.  A failure anywhere leaves the database unchanged.

    \b
    Example:
      elsinore spam train --db words.db --spam corpus/spam corpus/spam_2 \\
          --ham corpus/easy_ham
      elsinore spam train --db words.db --forget --ham misfiled.eml
      elsinore spam train --db /var/lib/elsinore/words.db --replace --spam reported/
    """
    if not spam_paths and not ham_paths:
        raise click.UsageError("give at least one --spam or --ham PATH")
    if replace and db_path.startswith(REDIS_SCHEMES):
        raise click.UsageError(
            "--replace renames a SQLite file; a Redis store changes in place, and running "
            "filters see its changes"
        )
    from stack.spam.training import train_database  # noqa: PLC0415 - only this command trains

    start = time.perf_counter()
    result = train_database(
        db_path, *(
            _tracked(paths, kind) if paths else ()
            for paths, kind in ((spam_paths, "spam"), (ham_paths, "ham"))
        ),
        forget=forget, replace=replace, jobs=jobs,
    )  # fmt: skip
    spam, ham, counts = result.spam, result.ham, result.counts
    seconds = time.perf_counter() - start
    summary = {
        "forgot" if forget else "trained": {"spam": spam, "ham": ham},
        "database": {
            "spam": counts.spam_messages,
            "ham": counts.ham_messages,
            "words": len(counts.words),
        },
        "seconds": round(seconds, 3),
    }
    if as_json:
        click.echo(json.dumps(summary))
        return
    verb = "forgot" if forget else "trained"
    click.echo(
        f"{verb} {spam} spam and {ham} ham in {seconds:.1f} s; {db_path} now holds "
        f"{counts.spam_messages} spam, {counts.ham_messages} ham, {len(counts.words)} words"
    )


@spam_group.command("import")
@_db_option
@click.argument("backup", type=click.File("rb"))
def import_command(db_path: str, backup: Any) -> None:
    """Add a SpamOracle database, from `spamoracle backup` output, to the word database.

    \b
    Example:
      spamoracle backup > oracle.txt
      elsinore spam import --db words.db oracle.txt
    """
    from stack.spam.backup import read_backup  # noqa: PLC0415 - only this command reads one

    counts = read_backup(backup)
    training = Training()
    training.merge_counts(counts)
    store = open_store(db_path)
    try:
        store.apply(training)
    finally:
        store.close()
    click.echo(
        f"imported {counts.spam_messages} spam, {counts.ham_messages} ham, "
        f"{len(counts.words)} words into {db_path}"
    )


@spam_group.command("mark")
@_db_option
@_classifier_option
def mark_command(db_path: str, classifier: ClassifierName) -> None:
    """Read one message on stdin and write it to stdout with X-Spamtacus prepended.

    Only the two fields are added; every other byte is written as it came.  The message is
    always written, even when the database is missing (then marked unknown, with a warning
    on stderr): a filter never drops mail.

    \b
    Example:
      elsinore spam mark --db words.db < message.eml > marked.eml
      head -2 marked.eml
      X-Spamtacus: yes
      X-Spamtacus-Score: 0.9999 (fisher; 15 words)
    """
    data = sys.stdin.buffer.read()
    name: str = classifier
    try:
        spam_filter = _load_filter(db_path, classifier)
        name = spam_filter.name
        score = spam_filter.classify(data)
    except Exception as exc:  # never drop mail: mark it unknown and say why
        click.echo(f"elsinore: warning: {exc}; marked unknown", err=True)
        score = Score(Verdict.UNKNOWN, 0.5)
    sys.stdout.buffer.write(mark(data, score, name))
    sys.stdout.buffer.flush()


@spam_group.command("classify")
@_db_option
@_classifier_option
@_json_option
@_jobs_option
@click.option("--explain", is_flag=True, help="Also print the words that decided.")
@click.argument("paths", nargs=-1)
def classify_command(
    db_path: str, classifier: ClassifierName, as_json: bool, jobs: int, explain: bool,
    paths: tuple[str, ...],
) -> None:  # fmt: skip
    """Print one line per message: where it came from, the verdict and the score.

    PATH is a file, a folder, a Maildir or an mbox (default: one message on stdin).

    \b
    Example:
      elsinore spam classify --db words.db ~/Mail/new
      /home/me/Mail/new/1700000000.M1.host  yes      0.9999
    """
    spam_filter = _load_filter(db_path, classifier)
    # One write per line, flushed at the end (or when the buffer fills), not click.echo's
    # flush per line: a system call per message was a tenth of the command's time.
    write = sys.stdout.write
    entries = iter_entries(paths or ("-",))
    for label, score in classify_many(spam_filter, entries, jobs=jobs):
        if as_json:
            record: dict[str, Any] = {
                "message": label,
                "verdict": score.verdict.value,
                "score": round(score.probability, 6),
            }
            if explain:
                record["words"] = [[w, round(p, 4)] for w, p in score.evidence]
            write(json.dumps(record) + "\n")
            continue
        line = f"{label}\t{score.verdict.value}\t{score.probability:.4f}"
        if explain:
            line += "\t" + " ".join(f"{w}:{p:.2f}" for w, p in score.evidence)
        write(line + "\n")
    sys.stdout.flush()


def _evaluate(
    spam_filter: SpamFilter, spam_paths: Sequence[str], ham_paths: Sequence[str], jobs: int
) -> Evaluation:
    """Scores for known spam and ham, in one pass: one pool of workers, whose per-token
    caches warm up once for both classes."""
    spam_entries = 0

    def entries() -> Iterator[Entry]:
        nonlocal spam_entries
        for entry in _tracked(spam_paths, "spam"):
            spam_entries += 1
            yield entry
        yield from _tracked(ham_paths, "ham")

    # One list of scores per entry (an mbox holds several); the first spam_entries are spam.
    scored = list(classify_entries(spam_filter, entries(), jobs=jobs))
    spam, ham = scored[:spam_entries], scored[spam_entries:]
    return Evaluation(
        spam=[score for scores in spam for _, score in scores],
        ham=[score for scores in ham for _, score in scores],
    )


@spam_group.command("test", cls=_GreedyPathsCommand)
@_db_option
@click.option("--spam", "spam_paths", multiple=True, metavar="PATH...", help="Known spam.")
@click.option("--ham", "ham_paths", multiple=True, metavar="PATH...", help="Known good mail.")
@_classifier_option
@_json_option
@_jobs_option
def test_command(
    db_path: str, spam_paths: tuple[str, ...], ham_paths: tuple[str, ...],
    classifier: ClassifierName, as_json: bool, jobs: int,
) -> None:  # fmt: skip
    """Classify known spam and ham; print yes/no/unknown counts and rates per class, and
    the spam the scores' order catches at 0 and at 0.1% of ham misfiled.

    \b
    Example:
      elsinore spam test --db words.db --spam held-out/spam --ham held-out/ham --json
      {"spam": {"yes": 361, "no": 1, "unknown": 18}, "ham": {"yes": 0, "no": 825, ...
    """
    if not spam_paths and not ham_paths:
        raise click.UsageError("give at least one --spam or --ham PATH")
    spam_filter = _load_filter(db_path, classifier)
    start = time.perf_counter()
    evaluation = _evaluate(spam_filter, spam_paths, ham_paths, jobs)
    seconds = time.perf_counter() - start
    name = spam_filter.name
    ham_cutoff, spam_cutoff = spam_filter.cutoffs
    if as_json:
        cutoffs = {"ham": ham_cutoff, "spam": spam_cutoff}
        click.echo(
            json.dumps(evaluation.as_json(classifier=name, cutoffs=cutoffs, seconds=seconds))
        )
    else:
        click.echo(evaluation.table())
        click.echo(
            f"classifier {name} (cutoffs {ham_cutoff:.4f} and {spam_cutoff:.4f}); "
            f"classified {evaluation.total} in {seconds:.2f} s"
        )


@spam_group.command("report", cls=_GreedyPathsCommand)
@_db_option
@click.option(
    "--spam", "spam_paths", multiple=True, required=True, metavar="PATH...", help="Known spam."
)
@click.option(
    "--ham", "ham_paths", multiple=True, required=True, metavar="PATH...",
    help="Known good mail.",
)  # fmt: skip
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Folder for report.html and its PNG (made if its parent exists).",
)  # fmt: skip
@_classifier_option
def report_command(
    db_path: str, spam_paths: tuple[str, ...], ham_paths: tuple[str, ...], out_dir: Path,
    classifier: ClassifierName,
) -> None:  # fmt: skip
    """Write an HTML page and a PNG: score histograms per class with the cutoffs marked,
    and the ROC curve with its area.

    Needs matplotlib: pip install 'elsinore[report]'.

    \b
    Example:
      elsinore spam report --db words.db --spam held-out/spam --ham held-out/ham --out rep
      wrote rep/report.html and rep/scores.png
    """
    from stack.spam.report import check_can_write, write_report  # noqa: PLC0415

    check_can_write(out_dir)  # before minutes of classifying, not after
    spam_filter = _load_filter(db_path, classifier)
    evaluation = _evaluate(spam_filter, spam_paths, ham_paths, default_jobs())
    html_path, png_path = write_report(
        evaluation, out_dir, title=f"{db_path} ({spam_filter.name})", cutoffs=spam_filter.cutoffs
    )
    click.echo(f"wrote {html_path} and {png_path}")
