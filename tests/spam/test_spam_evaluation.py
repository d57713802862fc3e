"""The numbers every report is made of: the split, rates and the ROC curve."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from stack.spam.evaluation import Evaluation, corpus_split, every_fifth
from stack.spam.verdict import Score, Verdict


def test_every_fifth_file_from_the_first_is_test() -> None:
    paths = [Path(f"{i:02}") for i in range(11)]
    train, test = every_fifth(paths)
    assert [p.name for p in test] == ["00", "05", "10"]
    assert len(train) == 8


def test_the_split_counts_on_across_folders(tmp_path: Path) -> None:
    for folder, count in (("spam", 3), ("spam_2", 4), ("easy_ham", 2), ("easy_ham_2", 0),
                          ("hard_ham", 6)):  # fmt: skip
        (tmp_path / folder).mkdir()
        for i in range(count):
            (tmp_path / folder / f"{i:05}").write_bytes(b"x")
    split = corpus_split(tmp_path)
    # spam: spam/0 1 2, spam_2/0 1 2 3 -> indices 0 and 5 are test: spam/00000, spam_2/00002
    assert [(p.parent.name, p.name) for p in split.spam_test] == [
        ("spam", "00000"), ("spam_2", "00002")
    ]  # fmt: skip
    assert len(split.ham_test) == 2 and len(split.ham_train) == 6


def _score(verdict: Verdict, probability: float) -> Score:
    return Score(verdict, probability)


def test_rates_and_roc() -> None:
    evaluation = Evaluation(
        spam=[_score(Verdict.YES, 0.99), _score(Verdict.UNKNOWN, 0.6)],
        ham=[_score(Verdict.NO, 0.01), _score(Verdict.NO, 0.7), _score(Verdict.NO, 0.1)],
    )
    assert evaluation.rates("spam") == {"yes": 0.5, "no": 0.0, "unknown": 0.5}
    assert sum(evaluation.rates("ham").values()) == pytest.approx(1.0)
    roc = evaluation.roc()
    assert roc[0] == (0.0, 0.0) and roc[-1] == (1.0, 1.0)
    assert roc[1] == (0.0, 0.5)  # the highest score is a spam: caught before any ham
    assert all(a <= b for (a, _), (b, _) in pairwise(roc))
    assert evaluation.as_json()["spam"] == {"yes": 1, "no": 0, "unknown": 1}
