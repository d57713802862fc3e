"""elsinore conformance run: adapters, the oracle, the matrix and the saved examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.adapters import CATEGORIES, available, compare, get, view_of_mail
from harness.cli import cli
from harness.conformance import run, save_examples
from harness.corpus import write_corpus
from stack.errors import ElsinoreError
from stack.mime import decode

PLAIN = (
    b"From: Hamlet <hamlet@castle.test>\r\nTo: ophelia@castle.test\r\n"
    b"Subject: To be\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nor not to be\r\n"
)


@pytest.mark.parametrize("name", available())
def test_every_parser_reads_a_plain_message_as_elsinore_does(name: str) -> None:
    expected = view_of_mail(decode(PLAIN))
    assert compare(expected, get(name).view(PLAIN)) == []


def test_compat32_reads_a_comment_as_part_of_the_media_type() -> None:
    data = b"Content-Type: text/ (a comment) plain\r\n\r\nx\r\n"
    found = compare(view_of_mail(decode(data)), get("stdlib-compat32").view(data))
    assert [category for category, _ in found] == ["structure"]


def test_an_unknown_parser_is_a_one_line_error() -> None:
    with pytest.raises(ElsinoreError, match="unknown parser"):
        get("outlook")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    write_corpus(folder, seed=0, count=30, progress=False)
    return folder


def test_elsinore_agrees_with_the_grammar_on_a_generated_corpus(sample: Path) -> None:
    tallies, judged = run([str(sample)], ["elsinore"], progress=False)
    (elsinore,) = tallies
    assert judged == {"grammar": 30, "elsinore": 0, "none": 0}
    assert (elsinore.accepted, elsinore.crashed, elsinore.round_trips) == (30, 0, 30)
    assert elsinore.disagreements == dict.fromkeys(CATEGORIES, 0)


def test_an_edited_message_is_judged_by_elsinore_not_the_grammar(tmp_path: Path) -> None:
    write_corpus(tmp_path, seed=0, count=3, progress=False)
    (tmp_path / "000001.eml").write_bytes(PLAIN)
    _, judged = run([str(tmp_path)], ["elsinore"], progress=False)
    assert judged == {"grammar": 2, "elsinore": 1, "none": 0}


def test_the_smallest_example_of_each_disagreement_is_saved(sample: Path, tmp_path: Path) -> None:
    tallies, _ = run([str(sample)], ["stdlib-compat32"], progress=False)
    written = save_examples(tallies, tmp_path)
    assert written
    for path in written:
        category = path.stem
        origin, detail = path.with_suffix(".txt").read_text().splitlines()[:2]
        assert path.read_bytes() == Path(origin).read_bytes()
        assert detail
        sizes = [len(Path(p).read_bytes()) for p in sample.glob("*.eml")]
        assert len(path.read_bytes()) >= min(sizes)
        assert category in (*CATEGORIES, "crash")


def test_the_command_prints_the_matrix_and_json(sample: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(cli(), ["conformance", "run", str(sample), "-p", "elsinore"])
    assert table.exit_code == 0, table.output
    assert "| messages accepted | 30 |" in table.output
    assert "byte-identical round trips | 30 |" in table.output
    as_json = runner.invoke(cli(), ["conformance", "run", str(sample), "-p", "elsinore", "--json"])
    parsed = json.loads(as_json.output)
    assert parsed["parsers"][0]["crashed"] == 0
