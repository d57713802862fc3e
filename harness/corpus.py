"""Deterministic corpus generation: ``elsinore corpus generate``.

Message ``i`` of the corpus with seed ``S`` is the grammar (:func:`harness.strategies.grammar.
mime.message`) run by the fast driver seeded with ``"elsinore-corpus/S/i"``.  Each message has
its own seed, so any one of them can be regenerated alone (the conformance run rebuilds the
models it compares parsers with this way), the corpus can be written by several processes in
any order, and the same seed gives the same bytes on every machine.

A corpus folder holds the messages and ``manifest.json``: the seed, the count, the format,
and for each message its file, its SHA-256 and the productions it exercises.

"Valid" means what ``elsinore mime check --strict`` checks: every message follows RFC 5322
and RFC 2045-2049, written partly in the obsolete syntax of RFC 5322 section 4 (two-digit
years, source routes, CFWS around dots...), which a reader must accept and a writer must
not produce.  ``--check`` and ``corpus verify`` hold every message to strict mode.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from harness.strategies.grammar.mime import Entity, message
from harness.strategies.source import RandomSource
from stack.errors import ElsinoreError
from stack.mime.check import check as check_one
from stack.mime.sources import iter_messages
from stack.progress import track

MANIFEST = "manifest.json"
FORMATS = ("eml", "maildir", "mbox")
#: Bumped whenever the grammar changes what a seed writes, so that old manifests say so.
GRAMMAR_VERSION = 4
#: The From_ line of every mbox message: a fixed date, so that the file is deterministic.
MBOX_FROM = b"From elsinore@corpus.invalid Thu Jan  1 00:00:00 1970\n"


@dataclass(frozen=True, slots=True)
class Generated:
    """One generated message: its bytes, its model and the productions it went through."""

    index: int
    entity: Entity
    productions: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.entity.data).hexdigest()


def message_seed(seed: int, index: int) -> str:
    """The fast driver's seed for message ``index`` of the corpus with seed ``seed``."""
    return f"elsinore-corpus/{seed}/{index}"


def generate_one(seed: int, index: int) -> Generated:
    """Message ``index`` of the corpus with seed ``seed``."""
    source = RandomSource(message_seed(seed, index))
    entity = message(source)
    return Generated(index, entity, tuple(source.seen))


def _make(job: tuple[int, int, str | None]) -> tuple[bytes, str, tuple[str, ...]]:
    """Make one message; write it to ``target`` when given (then its bytes are not sent back
    to the parent: in worker processes, file writes run in parallel too)."""
    seed, index, target = job
    generated = generate_one(seed, index)
    data = generated.entity.data
    digest = hashlib.sha256(data).hexdigest()
    if target is not None:
        Path(target).write_bytes(data)
        data = b""
    return data, digest, generated.productions


def _produce(
    seed: int, count: int, jobs: int, target: Callable[[int], str | None]
) -> Iterator[tuple[int, bytes, str, tuple[str, ...]]]:
    """``(index, bytes or b"" if written, sha256, productions)`` in index order."""
    work = ((seed, index, target(index)) for index in range(count))
    if jobs <= 1 or count < 200:
        for index, job in enumerate(work):
            yield (index, *_make(job))
        return
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(jobs) as pool:
        for index, made in enumerate(pool.imap(_make, work, 64)):
            yield (index, *made)


def generate(
    seed: int, count: int, *, jobs: int = 1
) -> Iterator[tuple[int, bytes, tuple[str, ...]]]:
    """``(index, bytes, productions)`` for every message, in index order.

    With ``jobs > 1`` the messages are made by worker processes; the result is the same.
    """
    for index, data, _, productions in _produce(seed, count, jobs, lambda index: None):
        yield index, data, productions


def file_name(index: int, fmt: str, seed: int) -> str:
    """Where message ``index`` goes inside the corpus folder."""
    if fmt == "eml":
        return f"{index:06d}.eml"
    if fmt == "maildir":
        # Maildir names need only be unique; index and seed make them so, and stable.
        return f"new/{index:06d}.{seed}.elsinore"
    return "corpus.mbox"


def _mbox_entry(data: bytes) -> bytes:
    """One mboxrd entry: the From_ line, ``>``-quoted From lines, a final line break if the
    message lacks one, and the empty line that separates entries."""
    quoted = b"\n".join(
        b">" + line if line.lstrip(b">").startswith(b"From ") else line
        for line in data.split(b"\n")
    )
    if not quoted.endswith(b"\n"):
        quoted += b"\r\n"
    return MBOX_FROM + quoted + b"\n"


def write_corpus(
    out: Path, *, seed: int, count: int, fmt: str = "eml", jobs: int = 1, progress: bool = True
) -> dict[str, object]:
    """Write ``count`` messages and the manifest into ``out``; return the manifest."""
    if fmt not in FORMATS:
        raise ElsinoreError(f"unknown corpus format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if count < 0:
        raise ElsinoreError("--count must not be negative")
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "maildir":
        for sub in ("cur", "new", "tmp"):
            (out / sub).mkdir(exist_ok=True)
    entries: list[dict[str, object]] = []
    table: dict[str, int] = {}

    def target(index: int) -> str | None:
        return None if fmt == "mbox" else str(out / file_name(index, fmt, seed))

    items = _produce(seed, count, jobs, target)
    if progress:
        items = track(items, total=count, description="generating")
    mbox = (out / "corpus.mbox").open("wb") if fmt == "mbox" else None
    try:
        for index, data, digest, productions in items:
            if mbox is not None:
                mbox.write(_mbox_entry(data))
            uses = [table.setdefault(p, len(table)) for p in productions]
            entries.append({"file": file_name(index, fmt, seed), "sha256": digest, "uses": uses})
    finally:
        if mbox is not None:
            mbox.close()
    manifest: dict[str, object] = {
        "generator": "elsinore corpus generate",
        "grammar_version": GRAMMAR_VERSION,
        "seed": seed,
        "count": count,
        "format": fmt,
        "message_seed": "elsinore-corpus/{seed}/{index}",
        # Each message lists the productions it exercises as indices into this table.
        "productions": list(table),
        "messages": entries,
    }
    lines = json.dumps({k: v for k, v in manifest.items() if k != "messages"}, indent=1)
    body = ",\n".join(json.dumps(entry, separators=(",", ":")) for entry in entries)
    # One message per line: small, and a diff of two manifests reads message by message.
    (out / MANIFEST).write_text(lines[:-2] + ',\n "messages": [\n' + body + "\n]}\n")
    return manifest


def productions_of(manifest: dict[str, object], index: int) -> list[str]:
    """The productions message ``index`` of a manifest exercises, by name."""
    table = manifest["productions"]
    entries = manifest["messages"]
    assert isinstance(table, list) and isinstance(entries, list)
    return [table[i] for i in entries[index]["uses"]]


class ManifestError(ElsinoreError):
    """A corpus manifest that cannot be read; the message names the file and the place."""


def read_manifest(folder: Path) -> dict[str, object] | None:
    """The manifest of a generated corpus folder, or None if ``folder`` has none.

    A manifest that is not UTF-8 JSON holding an object is a :class:`ManifestError`.
    """
    path = folder / MANIFEST
    if not path.is_file():
        return None
    data = path.read_bytes()
    try:
        loaded: object = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ManifestError(f"{path}: not valid JSON: {exc.msg} at {where}") from None
    if not isinstance(loaded, dict):
        found = type(loaded).__name__
        raise ManifestError(f"{path}: expected a JSON object, found a {found}")
    return loaded


def compare_folders(expected: Path, actual: Path) -> list[str]:
    """The files that differ between two corpus folders (missing, extra or changed)."""

    def files(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }

    left, right = files(expected), files(actual)
    problems = [f"missing: {name}" for name in left if name not in right]
    problems += [f"extra: {name}" for name in right if name not in left]
    problems += [f"differs: {name}" for name in left if name in right and left[name] != right[name]]
    return problems


# -- the command ----------------------------------------------------------------------------


@click.group(name="corpus")
def corpus_group() -> None:
    """Generate deterministic corpora of valid mail from the harness grammar.

    \b
    Example:
      elsinore corpus generate --count 1000 --seed 0 --out corpus/sample
    """


@corpus_group.command(name="generate")
@click.option("--count", "-n", type=int, default=1000, show_default=True, help="How many.")
@click.option("--seed", "-s", type=int, default=0, show_default=True, help="The corpus seed.")
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to write (created if needed).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="eml",
    show_default=True,
    help="eml: 000000.eml...; maildir: new/...; mbox: one corpus.mbox (mboxrd).",
)
@click.option(
    "--jobs",
    "-j",
    type=int,
    default=os.cpu_count() or 1,
    show_default="all cores",
    help="Worker processes; the bytes are the same for any number.",
)
@click.option(
    "--check", is_flag=True, help="Then run `elsinore mime check --strict` on every message."
)
def generate_command(count: int, seed: int, out: Path, fmt: str, jobs: int, check: bool) -> None:
    """Write COUNT messages made from SEED into OUT, with manifest.json.

    The same seed writes the same bytes on every machine.  Every message is valid RFC
    5322/MIME as a reader sees it: it passes `elsinore mime check --strict`, and some of it is
    the obsolete syntax (RFC 5322 section 4) that readers must accept and writers must not
    produce.

    \b
    Examples:
      elsinore corpus generate --count 1000 --seed 0 --out /tmp/corpus
      elsinore corpus generate -n 200 -s 7 -o /tmp/box --format mbox --check
    """
    started = time.perf_counter()
    write_corpus(out, seed=seed, count=count, fmt=fmt, jobs=jobs)
    elapsed = time.perf_counter() - started
    rate = count / elapsed if elapsed > 0 else float("inf")
    click.echo(f"{count} messages in {out} ({elapsed:.2f} s, {rate:,.0f} messages/s)")
    if check:
        failed = 0
        checked = 0
        for source in iter_messages([str(out / name) for name in _message_files(out, fmt)]):
            checked += 1
            result = check_one(source.data, strict=True, label=source.label)
            if not result.passed:
                failed += 1
                click.echo(f"{source.label}: FAIL {'; '.join(result.failures)}")
        click.echo(f"{checked - failed} passed, {failed} failed")
        if failed:
            raise SystemExit(1)


@corpus_group.command(name="verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--against",
    type=click.Path(file_okay=False, path_type=Path),
    help="Regenerate into this folder (default: a temporary one) and keep it.",
)
def verify_command(folder: Path, against: Path | None) -> None:
    """Regenerate FOLDER from its manifest, compare byte for byte, and mime-check it.

    Fails if any file differs from what its seed writes on this machine, or if any message
    fails `elsinore mime check --strict`.

    \b
    Example:
      elsinore corpus verify corpus/sample
    """
    manifest = read_manifest(folder)
    if manifest is None:
        raise ElsinoreError(f"{folder} has no {MANIFEST}: not a generated corpus")
    seed, count, fmt = manifest.get("seed"), manifest.get("count"), manifest.get("format")
    if not (isinstance(seed, int) and isinstance(count, int) and isinstance(fmt, str)):
        raise ManifestError(f"{folder / MANIFEST}: lacks seed, count or format")
    with tempfile.TemporaryDirectory(prefix="elsinore-corpus-") as scratch:
        target = against or Path(scratch)
        write_corpus(target, seed=seed, count=count, fmt=fmt, jobs=os.cpu_count() or 1)
        problems = compare_folders(folder, target)
    for problem in problems[:20]:
        click.echo(problem)
    click.echo(f"{count} messages regenerated from seed {seed}: {len(problems)} files differ")
    failed = 0
    for source in iter_messages([str(folder / name) for name in _message_files(folder, fmt)]):
        result = check_one(source.data, strict=True, label=source.label)
        if not result.passed:
            failed += 1
            click.echo(f"{source.label}: FAIL {'; '.join(result.failures)}")
    click.echo(f"mime check: {count - failed} passed, {failed} failed")
    if problems or failed:
        raise SystemExit(1)


def _message_files(out: Path, fmt: str) -> list[str]:
    if fmt == "mbox":
        return ["corpus.mbox"]
    if fmt == "maildir":
        return [str(Path("new") / p.name) for p in sorted((out / "new").iterdir())]
    return sorted(p.name for p in out.glob("*.eml"))
