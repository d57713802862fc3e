"""SpamOracle, bogofilter and Elsinore trained and tested on the same split, in one run.

The split is the issue's: per class, the SpamAssassin corpus files sorted by path (spam:
spam/ then spam_2/; ham: easy_ham/, easy_ham_2/, hard_ham/), counted on across folders;
index % 5 == 0 is test.  Every filter is run as its users run it, as a command: training
and classification times are wall-clock times of the commands, start-up included (the best
of three runs).

Throughput is measured two ways, for every filter alike:

- **as a command**: the 1,210 test messages over the command's wall time, start-up and
  database load included (what a user who runs the command once per batch sees);
- **steady state**: the same command given a fifth of the training files, and given them
  followed by every other file (the rest of the training files and the test files); the
  5,078 extra messages over the extra time is the rate at which messages go through once the
  program is running (what a filter that stays up, as a mail service does, sees).  Every
  message is seen once: a filter's caches are warmed by other mail, never by the message it
  is timed on.

Elsinore also gets in-process figures (messages already in memory, on 1 and on every core),
and every filter is timed as a command on a batch of ``--batch`` messages (15,000: the test
files repeated, copied into one folder, since the corpus has 6,047 messages in all).

A peer that is not installed is skipped with the reason.  Run:  python bench/spam_side_by_side.py
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.shared import corpora_dir
from stack.spam.evaluation import Split, corpus_split
from stack.spam.filter import default_jobs


@dataclass
class Row:
    name: str
    spam: dict[str, int] = field(default_factory=dict)
    ham: dict[str, int] = field(default_factory=dict)
    train_seconds: float = 0.0
    classify_seconds: float = 0.0
    steady: float = 0.0  # messages per second once running


# The commands run as an installed package runs: from bytecode compiled once (pip compiles a
# package's modules when it installs them; _compile_elsinore does it here), not compiled again
# from source on every start because the environment says PYTHONDONTWRITEBYTECODE, as this
# project's CI machine does (70 ms of every Elsinore command's start-up).
_ENVIRONMENT = {
    name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"
}


def _compile_elsinore() -> None:
    import stack

    compileall.compile_dir(Path(stack.__file__).parent, quiet=1)


def _timed(
    command: Sequence[str | Path], ok: tuple[int, ...] = (0,), runs: int = 1
) -> tuple[float, str]:
    """Run ``command`` ``runs`` times; its best seconds and its stdout.  ``ok``: the exit
    codes that mean success (bogofilter exits with the last message's verdict)."""
    best = float("inf")
    output = ""
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(
            [str(c) for c in command], capture_output=True, check=False, env=_ENVIRONMENT
        )
        best = min(best, time.perf_counter() - start)
        if result.returncode not in ok:
            error = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise RuntimeError(f"{command[0]} {command[1]}... exited {result.returncode}: {error}")
        output = result.stdout.decode("utf-8", "replace")
    return best, output


def steady_rate(
    command: Callable[[list[Path]], Sequence[str | Path]], warm_up: list[Path], files: list[Path]
) -> float:
    """Messages per second once running: ``command`` on ``warm_up``, and on ``warm_up`` then
    ``files``; the extra messages over the extra time, start-up cancelled out."""
    before, _ = _timed(command(warm_up), ok=(0, 1, 2), runs=3)
    after, _ = _timed(command([*warm_up, *files]), ok=(0, 1, 2), runs=3)
    return len(files) / max(after - before, 1e-9)


def _steady_files(split: Split) -> tuple[list[Path], list[Path]]:
    """(warm-up, timed) for a steady-state run: every fifth training file warms the filter
    up; the other training files and the test files are timed."""
    training = [*split.spam_train, *split.ham_train]
    warm_up = training[::5]
    timed = [path for index, path in enumerate(training) if index % 5]
    return warm_up, [*timed, *split.spam_test, *split.ham_test]


def _tally(verdicts: list[str]) -> dict[str, int]:
    return {key: verdicts.count(key) for key in ("yes", "no", "unknown")}


def _peer_row(name: str, split: Split, verdicts: list[str], train: float, test: float) -> Row:
    """A peer's row from its verdicts on the spam test files, then the ham test files."""
    expected = len(split.spam_test) + len(split.ham_test)
    if len(verdicts) != expected:
        raise RuntimeError(f"{name} gave {len(verdicts)} verdicts for {expected} files")
    spam_count = len(split.spam_test)
    return Row(name, _tally(verdicts[:spam_count]), _tally(verdicts[spam_count:]), train, test)


def run_spamoracle(split: Split, work: Path) -> Row:
    """``spamoracle add`` then ``spamoracle test``; the verdict is read from the printed
    score and meaningful-word count with SpamOracle's defaults (0.8 / 0.2 / 5 words)."""
    db = work / "spamoracle.db"
    train, _ = _timed(
        ["spamoracle", "-f", db, "add", "-spam", *split.spam_train, "-good", *split.ham_train]
    )
    tests = [*split.spam_test, *split.ham_test]

    def command(files: list[Path]) -> list[str | Path]:
        return ["spamoracle", "-f", db, "test", *files]

    seconds, output = _timed(command(tests), runs=3)
    verdicts = []
    for line in output.splitlines():
        if line.startswith("Score:"):
            score_text, _, words = line[len("Score:") :].partition("--")
            score, meaningful = float(score_text), int(words)
            if meaningful < 5 or 0.2 < score < 0.8:
                verdicts.append("unknown")
            else:
                verdicts.append("yes" if score >= 0.8 else "no")
    row = _peer_row("spamoracle", split, verdicts, train, seconds)
    row.steady = steady_rate(command, *_steady_files(split))
    return row


def run_bogofilter(split: Split, work: Path) -> Row:
    """``bogofilter -s -B`` / ``-n -B`` then ``-t -B``: S, H and U (unsure) per file."""
    db = work / "bogofilter"
    db.mkdir()
    spam_seconds, _ = _timed(["bogofilter", "-d", db, "-s", "-B", *split.spam_train])
    ham_seconds, _ = _timed(["bogofilter", "-d", db, "-n", "-B", *split.ham_train])
    tests = [*split.spam_test, *split.ham_test]

    def command(files: list[Path]) -> list[str | Path]:
        return ["bogofilter", "-d", db, "-t", "-B", *files]

    seconds, output = _timed(command(tests), ok=(0, 1, 2), runs=3)
    letters = {"S": "yes", "H": "no", "U": "unknown"}
    verdicts = [letters[line.split()[-2]] for line in output.splitlines() if line.strip()]
    row = _peer_row("bogofilter", split, verdicts, spam_seconds + ham_seconds, seconds)
    row.steady = steady_rate(command, *_steady_files(split))
    return row


def train_elsinore(split: Split, work: Path) -> float:
    """``elsinore spam train``, as a command; returns its seconds."""
    seconds, _ = _timed(
        [
            sys.executable, "-m", "stack", "spam", "train", "--db", work / "elsinore.db",
            "--spam", *split.spam_train, "--ham", *split.ham_train,
        ]
    )  # fmt: skip
    return seconds


def run_elsinore(split: Split, work: Path, classifier: str, train_seconds: float) -> Row:
    """``elsinore spam test --json``, as a command, on the database trained once; the
    steady-state rate is that of ``elsinore spam classify`` on the same files."""
    seconds, output = _timed(
        [
            sys.executable, "-m", "stack", "spam", "test", "--db", work / "elsinore.db",
            "--classifier", classifier, "--json",
            "--spam", *split.spam_test, "--ham", *split.ham_test,
        ],
        runs=3,
    )  # fmt: skip
    result = json.loads(output)

    def command(files: list[Path]) -> list[str | Path]:
        return [
            sys.executable, "-m", "stack", "spam", "classify", "--db", work / "elsinore.db",
            "--classifier", classifier, *files,
        ]  # fmt: skip

    row = Row(f"Elsinore ({classifier})", result["spam"], result["ham"], train_seconds, seconds)
    row.steady = steady_rate(command, *_steady_files(split))
    return row


def elsinore_in_process(split: Split, work: Path, classifier: str, jobs: int) -> float:
    """Seconds to classify the test messages already in memory, counts already loaded, on
    ``jobs`` processes (what a long-running filter service pays per message)."""
    from stack.spam.filter import SpamFilter, classify_many
    from stack.spam.stores import SqliteStore

    with SqliteStore(work / "elsinore.db", create=False) as store:
        spam_filter = SpamFilter(store.load(), classifier)  # type: ignore[arg-type]
    messages = [path.read_bytes() for path in [*split.spam_test, *split.ham_test]]
    start = time.perf_counter()
    for _ in classify_many(spam_filter, messages, jobs=jobs):
        pass
    return time.perf_counter() - start


def build_batch(split: Split, work: Path, size: int) -> list[Path]:
    """``size`` files in one folder: the test files, repeated in order."""
    folder = work / "batch"
    folder.mkdir()
    tests = [*split.spam_test, *split.ham_test]
    batch = []
    for index in range(size):
        target = folder / f"{index:06}.eml"
        shutil.copyfile(tests[index % len(tests)], target)
        batch.append(target)
    return batch


def time_batch(work: Path, batch: list[Path], classifiers: list[str]) -> dict[str, float]:
    """Seconds for each filter, as a command, to classify every file of ``batch``."""
    seconds: dict[str, float] = {}
    if shutil.which("spamoracle") is not None:
        seconds["spamoracle"], _ = _timed(
            ["spamoracle", "-f", work / "spamoracle.db", "test", *batch]
        )
    for classifier in classifiers:
        seconds[f"Elsinore ({classifier})"], _ = _timed(
            [
                sys.executable, "-m", "stack", "spam", "classify", "--db", work / "elsinore.db",
                "--classifier", classifier, batch[0].parent,
            ]
        )  # fmt: skip
    return seconds


def _rate(counts: dict[str, int], key: str) -> str:
    total = sum(counts.values())
    return f"{counts.get(key, 0) / total:.1%}" if total else "-"


def print_table(rows: list[Row], total: int) -> None:
    print(
        "| filter | spam caught | spam missed | spam unknown | ham misfiled as spam "
        f"| ham unknown | train | classify {total:,} |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.name} | {_rate(row.spam, 'yes')} | {_rate(row.spam, 'no')} "
            f"| {_rate(row.spam, 'unknown')} | {_rate(row.ham, 'yes')} "
            f"| {_rate(row.ham, 'unknown')} | {row.train_seconds:.1f} s "
            f"| {row.classify_seconds:.2f} s |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=corpora_dir() / "spamassassin")
    parser.add_argument("--classifiers", default="fisher-lr,fisher,graham")
    parser.add_argument("--batch", type=int, default=15_000, metavar="N")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"skipped: SpamAssassin corpus not found at {args.corpus}")
        return 0
    split = corpus_split(args.corpus)
    total = len(split.spam_test) + len(split.ham_test)
    _compile_elsinore()
    # Every file read once before any filter is timed, so that none pays for the disk.
    for path in [*split.spam_train, *split.ham_train, *split.spam_test, *split.ham_test]:
        path.read_bytes()
    print(
        f"split: {len(split.spam_train) + len(split.ham_train):,} training, {total:,} test "
        f"({len(split.spam_test)} spam, {len(split.ham_test)} ham)\n"
    )
    rows: list[Row] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="spam-bench-") as tmp:
        work = Path(tmp)
        for peer, runner in (("spamoracle", run_spamoracle), ("bogofilter", run_bogofilter)):
            if shutil.which(peer) is None:
                skipped.append(f"{peer}: not installed (apt-get install {peer})")
                continue
            rows.append(runner(split, work))
        in_process: dict[str, float] = {}
        train_seconds = train_elsinore(split, work)
        jobs = default_jobs()
        for classifier in args.classifiers.split(","):
            rows.append(run_elsinore(split, work, classifier, train_seconds))
            for count in sorted({1, jobs}):
                label = f"Elsinore ({classifier}), {count} process{'es' if count > 1 else ''}"
                in_process[label] = elsinore_in_process(split, work, classifier, count)
        batch_seconds = (
            time_batch(work, build_batch(split, work, args.batch), args.classifiers.split(","))
            if args.batch
            else {}
        )
    print_table(rows, total)
    for reason in skipped:
        print(f"\nskipped {reason}")
    oracle = next((row for row in rows if row.name == "spamoracle"), None)
    print("\nclassification throughput (messages per second):")
    for row in rows:
        line = (
            f"  {row.name:34} {total / row.classify_seconds:8.0f}/s as a command"
            f" {row.steady:8.0f}/s steady state"
        )
        if oracle is not None:
            line += (
                f"  ({oracle.classify_seconds / row.classify_seconds:.2f}x,"
                f" {row.steady / oracle.steady:.2f}x spamoracle)"
            )
        print(line)
    for label, seconds in in_process.items():
        line = f"  {label:34} {total / seconds:8.0f}/s in process"
        if oracle is not None:
            line += f"  ({oracle.classify_seconds / seconds:.2f}x spamoracle as a command)"
        print(line)
    if batch_seconds:
        oracle_batch = batch_seconds.get("spamoracle")
        print(f"\na batch of {args.batch:,} messages (the test files repeated), as a command:")
        for name, seconds in batch_seconds.items():
            line = f"  {name:34} {seconds:8.2f} s {args.batch / seconds:8.0f}/s"
            if oracle_batch is not None:
                line += f"  ({oracle_batch / seconds:.2f}x spamoracle)"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
