"""`elsinore spam ...` as a user runs it: train, mark, classify, test, report, import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stack.cli import cli, run
from stack.spam.filter import CHUNK
from stack.spam.stores import SqliteStore

SPAM = [
    b"From: winner@lottery.example\r\nSubject: You won FREE cash now\r\n\r\n"
    b"Claim your free cash prize now, click here, act now, limited offer, winner!\r\n",
    b"From: deals@cheap.example\r\nSubject: FREE viagra cheap\r\n\r\n"
    b"Cheap pills, free shipping, click here now, limited offer, order today!\r\n",
]
HAM = [
    b"From: alice@example.org\r\nSubject: minutes of the meeting\r\n\r\n"
    b"Here are the minutes of yesterday's meeting about the release schedule.\r\n",
    b"From: bob@example.org\r\nSubject: release schedule\r\n\r\n"
    b"The release schedule moves by a week; the meeting notes are attached below.\r\n",
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    for kind, messages in (("spam", SPAM), ("ham", HAM)):
        folder = tmp_path / kind
        folder.mkdir()
        for index, data in enumerate(messages * 3):
            (folder / f"{index:03}.eml").write_bytes(data)
    return tmp_path


def _invoke(args: list[str], stdin: bytes = b"") -> tuple[int, str]:
    result = CliRunner().invoke(cli(), args, input=stdin)
    return result.exit_code, result.output


def _trained(corpus: Path) -> Path:
    db = corpus / "words.db"
    code, output = _invoke(
        ["spam", "train", "--db", str(db), "--spam", str(corpus / "spam"),
         "--ham", str(corpus / "ham")]
    )  # fmt: skip
    assert code == 0, output
    return db


def _test_json(db: Path, folder: Path, *options: str) -> dict[str, Any]:
    """``spam test --json`` on ``folder``'s spam/ and ham/, which must succeed."""
    code, output = _invoke(
        ["spam", "test", "--db", str(db), "--json", *options,
         "--spam", str(folder / "spam"), "--ham", str(folder / "ham")]
    )  # fmt: skip
    assert code == 0, output
    result: dict[str, Any] = json.loads(output)
    return result


def test_train_reads_several_paths_after_one_option(corpus: Path) -> None:
    db = corpus / "words.db"
    spam_files = sorted(str(p) for p in (corpus / "spam").iterdir())
    code, output = _invoke(
        ["spam", "train", "--db", str(db), "--json", "--spam", *spam_files,
         "--ham", str(corpus / "ham")]
    )  # fmt: skip
    assert code == 0, output
    summary = json.loads(output)
    assert summary["trained"] == {"spam": 6, "ham": 6}
    assert summary["database"]["spam"] == 6


def test_forget_restores_the_database_exactly(corpus: Path) -> None:
    db = _trained(corpus)
    with SqliteStore(db) as store:
        before = store.load()
    extra = corpus / "extra.eml"
    extra.write_bytes(SPAM[0] + b"\r\nand some brand new words\r\n")
    assert _invoke(["spam", "train", "--db", str(db), "--spam", str(extra)])[0] == 0
    assert _invoke(["spam", "train", "--db", str(db), "--forget", "--spam", str(extra)])[0] == 0
    with SqliteStore(db) as store:
        assert store.load() == before


def test_a_missing_path_fails_in_one_line_and_trains_nothing(corpus: Path) -> None:
    db = _trained(corpus)
    with SqliteStore(db) as store:
        before = store.load()
    status = run(
        cli(), ["spam", "train", "--db", str(db), "--spam", str(corpus / "spam"), "/no/such"]
    )
    assert status == 1
    with SqliteStore(db) as store:
        assert store.load() == before


def test_mark_prepends_two_fields_and_leaves_every_other_byte(corpus: Path) -> None:
    db = _trained(corpus)
    message = (
        b"Received: from x\r\n\tby y; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        b"From: winner@lottery.example\r\nSubject: free cash, click now\r\n\r\n"
        b"Claim your free cash prize now, click here, act now, winner!\r\n\r\n"
    )
    result = CliRunner().invoke(cli(), ["spam", "mark", "--db", str(db)], input=message)
    assert result.exit_code == 0
    marked = result.stdout_bytes
    first, second, rest = marked.split(b"\r\n", 2)
    assert first == b"X-Spamtacus: yes"
    assert second.startswith(b"X-Spamtacus-Score: ")
    assert rest == message


def test_mark_never_drops_mail_even_without_a_database(tmp_path: Path) -> None:
    message = b"Subject: hello\n\nbody with a lone \xff byte\n"
    result = CliRunner().invoke(
        cli(), ["spam", "mark", "--db", str(tmp_path / "absent.db")], input=message
    )
    assert result.exit_code == 0
    assert result.stdout_bytes.endswith(message)
    assert result.stdout_bytes.startswith(b"X-Spamtacus: unknown\n")


def test_classify_prints_one_line_per_message(corpus: Path) -> None:
    db = _trained(corpus)
    code, output = _invoke(["spam", "classify", "--db", str(db), str(corpus / "spam")])
    assert code == 0
    lines = output.splitlines()
    assert len(lines) == 6
    assert all(line.split("\t")[1] == "yes" for line in lines)


def test_classify_json_lines_explain_the_verdict(corpus: Path) -> None:
    db = _trained(corpus)
    code, output = _invoke(
        ["spam", "classify", "--db", str(db), "--json", "--explain", str(corpus / "ham")]
    )
    records = [json.loads(line) for line in output.splitlines()]
    assert code == 0 and len(records) == 6
    assert {record["verdict"] for record in records} == {"no"}
    assert records[0]["words"]


# Not lr: six messages a class move a regression too little for its default cutoffs.
@pytest.mark.parametrize("classifier", ["fisher", "graham", "fisher-lr"])
def test_test_json_has_the_issues_shape(corpus: Path, classifier: str) -> None:
    result = _test_json(_trained(corpus), corpus, "--classifier", classifier)
    assert list(result)[:2] == ["spam", "ham"]
    assert result["spam"] == {"yes": 6, "no": 0, "unknown": 0}
    assert result["ham"] == {"yes": 0, "no": 6, "unknown": 0}


def test_test_table_shows_counts_and_rates(corpus: Path) -> None:
    db = _trained(corpus)
    code, output = _invoke(
        ["spam", "test", "--db", str(db), "--spam", str(corpus / "spam"),
         "--ham", str(corpus / "ham")]
    )  # fmt: skip
    assert code == 0
    assert "spam" in output and "(100.0%)" in output


def test_report_writes_html_and_png(corpus: Path) -> None:
    db = _trained(corpus)
    out = corpus / "report"
    code, output = _invoke(
        ["spam", "report", "--db", str(db), "--spam", str(corpus / "spam"),
         "--ham", str(corpus / "ham"), "--out", str(out)]
    )  # fmt: skip
    assert code == 0, output
    assert (out / "scores.png").read_bytes().startswith(b"\x89PNG")
    assert "scores.png" in (out / "report.html").read_text()


def test_test_reports_spam_caught_at_0_and_a_thousandth_misfiled_and_the_roc_area(
    corpus: Path,
) -> None:
    db = _trained(corpus)
    result = _test_json(db, corpus)
    assert result["caught_at_misfiled"] == {"0.0": 1.0, "0.001": 1.0}
    assert result["roc_area"] == 1.0
    assert result["classifier"] == "fisher-lr"
    code, output = _invoke(
        ["spam", "test", "--db", str(db), "--spam", str(corpus / "spam"),
         "--ham", str(corpus / "ham")]
    )  # fmt: skip
    assert code == 0, output
    assert "spam caught at 0.0% ham misfiled: 100.0%, 0.1% ham misfiled: 100.0%" in output


def test_report_marks_the_cutoffs_and_gives_the_roc_area(corpus: Path) -> None:
    db = _trained(corpus)
    out = corpus / "report"
    code, output = _invoke(
        ["spam", "report", "--db", str(db), "--spam", str(corpus / "spam"),
         "--ham", str(corpus / "ham"), "--out", str(out), "--classifier", "fisher"]
    )  # fmt: skip
    assert code == 0, output
    page = (out / "report.html").read_text()
    assert "Cutoffs: ham at or below 0.2000, spam at or above 0.9500." in page
    assert "ROC area 1.000000" in page


def _many(kind: str, count: int) -> list[bytes]:
    """``count`` distinct messages of a kind, each with a number of its own."""
    base = SPAM if kind == "spam" else HAM
    return [
        base[i % 2].replace(b"\r\n\r\n", f"\r\nX-N: {i}\r\n\r\n".encode()) for i in range(count)
    ]


def test_training_enough_mail_stores_cutoffs_that_spam_test_uses(tmp_path: Path) -> None:
    for kind in ("spam", "ham"):
        (tmp_path / kind).mkdir()
        for index, data in enumerate(_many(kind, 60)):
            (tmp_path / kind / f"{index:03}.eml").write_bytes(data)
    db = _trained(tmp_path)
    with SqliteStore(db) as store:
        stored = store.load().cutoffs
    assert set(stored) == {"fisher", "lr", "fisher-lr"}
    for classifier, (ham_cutoff, spam_cutoff) in stored.items():
        result = _test_json(db, tmp_path, "--classifier", classifier)
        assert result["cutoffs"] == {"ham": ham_cutoff, "spam": spam_cutoff}


def test_lr_on_a_database_without_a_regression_is_one_clear_line(
    corpus: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"{redis_url}#lr-test:"
    code, output = _invoke(
        ["spam", "train", "--db", db, "--spam", str(corpus / "spam"),
         "--ham", str(corpus / "ham")]
    )  # fmt: skip
    assert code == 0, output
    error = _one_line_error(
        ["spam", "classify", "--db", db, "--classifier", "lr", "--jobs", "1", "-"], capsys
    )
    assert "holds no regression" in error


def test_import_adds_a_spamoracle_backup(tmp_path: Path) -> None:
    backup = tmp_path / "oracle.txt"
    backup.write_bytes(b"SPAMORACLE/1 5 3\ninfo 3 0\nyour 4 5\n")
    db = tmp_path / "words.db"
    code, output = _invoke(["spam", "import", "--db", str(db), str(backup)])
    assert code == 0, output
    with SqliteStore(db) as store:
        counts = store.load()
    assert (counts.spam_messages, counts.ham_messages) == (3, 5)
    assert counts.words["your"] == (5, 4)


def test_every_command_has_help_with_an_example() -> None:
    for command in ("train", "mark", "classify", "test", "report", "import"):
        code, output = _invoke(["spam", command, "--help"])
        assert code == 0
        assert "Example:" in output, command


def test_a_redis_url_serves_as_the_database(corpus: Path, redis_url: str) -> None:
    db = f"{redis_url}#cli-test:"
    code, output = _invoke(
        ["spam", "train", "--db", db, "--spam", str(corpus / "spam"),
         "--ham", str(corpus / "ham")]
    )  # fmt: skip
    assert code == 0, output
    code, output = _invoke(["spam", "classify", "--db", db, str(corpus / "ham")])
    assert code == 0, output
    assert {line.split("\t")[1] for line in output.splitlines()} == {"no"}


def test_classifying_without_a_database_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(cli(), ["spam", "classify", "--db", str(tmp_path / "absent.db"), "-"])
    assert status == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "no spam database" in error


def test_test_splits_classes_right_when_workers_share_more_than_a_chunk(tmp_path: Path) -> None:
    for kind, messages, count in (("spam", SPAM, CHUNK + 3), ("ham", HAM, CHUNK - 5)):
        folder = tmp_path / kind
        folder.mkdir()
        for index in range(count):
            (folder / f"{index:03}.eml").write_bytes(messages[index % 2])
    db = _trained(tmp_path)
    results = []
    for jobs in ("1", "2"):
        result = _test_json(db, tmp_path, "--jobs", jobs)
        results.append((result["spam"], result["ham"]))
    assert results[0] == results[1]
    assert results[0] == ({"yes": CHUNK + 3, "no": 0, "unknown": 0},
                          {"yes": 0, "no": CHUNK - 5, "unknown": 0})  # fmt: skip


def _one_line_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The command's stderr, which must be a single line, after a failing exit status."""
    status = run(cli(), args)
    error = capsys.readouterr().err
    assert status == 1, error
    assert error.count("\n") == 1, error
    return error


def test_classifying_with_an_empty_file_as_database_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "words.db"
    empty.touch()
    error = _one_line_error(["spam", "classify", "--db", str(empty), "--jobs", "1", "-"], capsys)
    assert f"{empty} is empty, not a word database" in error


def test_classifying_with_a_redis_url_that_holds_no_database_is_one_clear_line(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"{redis_url}#never-trained:"
    error = _one_line_error(["spam", "classify", "--db", db, "--jobs", "1", "-"], capsys)
    assert f"no spam database at {db}" in error


def test_report_refuses_a_folder_whose_parent_is_missing(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _trained(corpus)
    out = corpus / "absent" / "report"
    error = _one_line_error(
        ["spam", "report", "--db", str(db), "--spam", str(corpus / "spam"),
         "--ham", str(corpus / "ham"), "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert f"{out.parent} does not exist" in error
    assert not out.parent.exists()


def test_a_redis_url_without_the_redis_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A fault injected on purpose: the import fails as it does where redis is not installed.
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.delitem(sys.modules, "stack.spam.stores.redis", raising=False)
    args = ["spam", "classify", "--db", "redis://127.0.0.1:6379/0", "--jobs", "1", "-"]
    error = _one_line_error(args, capsys)
    assert "pip install 'elsinore[redis]'" in error


def test_report_without_matplotlib_names_the_extra_before_classifying(
    corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _trained(corpus)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    out = corpus / "report"
    error = _one_line_error(
        ["spam", "report", "--db", str(db), "--spam", str(corpus / "spam"),
         "--ham", str(corpus / "ham"), "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert "pip install 'elsinore[report]'" in error
    assert not out.exists()


def test_a_command_on_a_sqlite_file_never_imports_redis(corpus: Path) -> None:
    db = _trained(corpus)
    script = (
        "import sys; from stack.cli import cli, run; "
        f"status = run(cli(), ['spam', 'classify', '--db', {str(db)!r}, '--jobs', '1', "
        f"{str(corpus / 'ham')!r}]); "
        "print(status, 'redis' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.stdout.splitlines()[-1] == "0 False", proc.stderr[-2000:]
