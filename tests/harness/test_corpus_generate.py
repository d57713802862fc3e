"""elsinore corpus generate: deterministic, manifest, formats, every message valid."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.corpus import compare_folders, generate, generate_one, productions_of, write_corpus
from stack.cli import run
from stack.mime import decode
from stack.mime.check import check
from stack.mime.sources import iter_messages


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    write_corpus(tmp_path / "a", seed=3, count=40, progress=False)
    write_corpus(tmp_path / "b", seed=3, count=40, progress=False)
    assert compare_folders(tmp_path / "a", tmp_path / "b") == []


def test_another_seed_writes_other_messages(tmp_path: Path) -> None:
    write_corpus(tmp_path / "a", seed=3, count=5, progress=False)
    write_corpus(tmp_path / "b", seed=4, count=5, progress=False)
    assert compare_folders(tmp_path / "a", tmp_path / "b")


def test_worker_processes_write_the_same_corpus_as_one_process() -> None:
    one = [data for _, data, _ in generate(11, 220, jobs=1)]
    two = [data for _, data, _ in generate(11, 220, jobs=2)]
    assert one == two


def test_a_message_can_be_regenerated_alone() -> None:
    listed = [data for _, data, _ in generate(5, 8)]
    assert generate_one(5, 7).entity.data == listed[7]


def test_the_manifest_lists_seed_count_hashes_and_productions(tmp_path: Path) -> None:
    write_corpus(tmp_path, seed=9, count=12, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert (manifest["seed"], manifest["count"], manifest["format"]) == (9, 12, "eml")
    entries = manifest["messages"]
    assert [entry["file"] for entry in entries] == [f"{i:06d}.eml" for i in range(12)]
    for entry in entries:
        data = (tmp_path / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert "rfc5322:message" in productions_of(manifest, 0)
    every = {name for i in range(12) for name in productions_of(manifest, i)}
    assert {"rfc2047:encoded-word", "rfc5322:date-time", "rfc2046:text"} <= every


def test_every_generated_message_passes_mime_check() -> None:
    for _, data, _ in generate(21, 150):
        result = check(data)
        assert result.passed, result.failures


def test_the_generated_corpus_and_strict_mode_agree(tmp_path: Path) -> None:
    # The generator's help calls its output valid; strict mode is the judge of that.
    runner = CliRunner()
    made = runner.invoke(
        cli(), ["corpus", "generate", "-n", "250", "-s", "13", "-o", str(tmp_path)]
    )
    assert made.exit_code == 0, made.output
    checked = runner.invoke(cli(), ["mime", "check", "--strict", "-q", str(tmp_path)])
    assert checked.output.splitlines()[-1] == "250 passed, 0 failed", checked.output
    assert checked.exit_code == 0
    # ... and the obsolete syntax it writes is there to be read, not an accident.
    kinds = set()
    for path in sorted(tmp_path.glob("*.eml")):
        kinds |= {defect.kind for defect in decode(path.read_bytes(), strict=True).all_defects()}
    assert {"obs-year", "obs-route", "obs-local-part"} <= kinds
    assert all(kind.startswith("obs-") for kind in kinds)


def test_corpus_check_uses_strict_mode(tmp_path: Path) -> None:
    write_corpus(tmp_path, seed=1, count=3, progress=False)
    first = tmp_path / "000000.eml"
    # Still passes the lenient check (a second From is a defect, not an error)...
    first.write_bytes(b"From: a@example.org\r\n" + first.read_bytes())
    assert check(first.read_bytes()).passed
    result = CliRunner().invoke(cli(), ["corpus", "verify", str(tmp_path)])
    assert result.exit_code == 1
    assert "000000.eml: FAIL decode: From field" in result.output
    assert "RFC 5322 3.6" in result.output


@pytest.mark.parametrize("fmt", ["mbox", "maildir"])
def test_mbox_and_maildir_hold_the_same_messages(tmp_path: Path, fmt: str) -> None:
    write_corpus(tmp_path / "eml", seed=2, count=15, progress=False)
    write_corpus(tmp_path / fmt, seed=2, count=15, fmt=fmt, progress=False)
    expected = [p.read_bytes() for p in sorted((tmp_path / "eml").glob("*.eml"))]
    found = [s.data for s in iter_messages([tmp_path / fmt]) if not s.label.endswith(".json")]
    # mbox can only end a message with a line break; it adds one where a message has none.
    assert [d.rstrip(b"\r\n") for d in found] == [d.rstrip(b"\r\n") for d in expected]


def test_the_command_writes_the_corpus_and_checks_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli(), ["corpus", "generate", "-n", "20", "-s", "1", "-o", str(tmp_path), "--check"]
    )
    assert result.exit_code == 0, result.output
    assert "20 messages in" in result.output
    assert "20 passed, 0 failed" in result.output
    assert len(list(tmp_path.glob("*.eml"))) == 20


def test_an_unknown_format_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["corpus", "generate", "-o", str(tmp_path), "--format", "x"])
    assert result.exit_code != 0
    assert "x" in result.output


def test_verify_finds_an_edited_message(tmp_path: Path) -> None:
    write_corpus(tmp_path, seed=1, count=4, progress=False)
    runner = CliRunner()
    clean = runner.invoke(cli(), ["corpus", "verify", str(tmp_path)])
    assert clean.exit_code == 0, clean.output
    assert "0 files differ" in clean.output
    (tmp_path / "000002.eml").write_bytes(b"Subject: edited\r\n\r\nx\r\n")
    edited = runner.invoke(cli(), ["corpus", "verify", str(tmp_path)])
    assert edited.exit_code == 1
    assert "differs: 000002.eml" in edited.output


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (b'{"seed": 1,\n "count": }', "not valid JSON: Expecting value at line 2 column 11"),
        (b"[1, 2]", "expected a JSON object, found a list"),
        (b'{"seed": "\xff"}', "not UTF-8: invalid start byte at byte 10"),
        (b'{"seed": 1, "count": 2}', "lacks seed, count or format"),
    ],
)
def test_verify_with_a_bad_manifest_is_one_line_naming_the_file(
    manifest: bytes, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "manifest.json").write_bytes(manifest)
    assert run(cli(), ["corpus", "verify", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"elsinore: error: {tmp_path / 'manifest.json'}: {reason}\n"
