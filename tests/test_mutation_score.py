"""mutation/mutation_score.py: what a module's mutation score counts (issue 18)."""

from __future__ import annotations

import pytest
from mutation_score import tally


def test_the_score_is_killed_out_of_every_mutant_but_the_skipped() -> None:
    statuses = {"a": "killed", "b": "timeout", "c": "survived", "d": "no tests", "e": "skipped"}
    score = tally("m.py", statuses, (), lambda mutant: True)
    assert (score.mutants, score.killed, score.counted) == (5, 2, 4)
    assert score.percent == pytest.approx(50.0)


def test_a_confirmed_equivalent_leaves_the_score_once() -> None:
    statuses = {"a": "killed", "b": "survived", "c": "survived", "d": "survived"}
    score = tally("m.py", statuses, {"c", "d"}, lambda mutant: True)
    assert (score.mutants, score.equivalent, score.counted) == (4, 2, 2)
    assert score.percent == pytest.approx(50.0)
    assert score.as_json()["survived"] == 1


def test_an_equivalent_whose_mutant_changed_counts_and_is_reported_stale() -> None:
    statuses = {"a": "killed", "b": "survived"}
    score = tally("m.py", statuses, {"b"}, lambda mutant: False)
    assert (score.equivalent, score.counted, score.stale) == (0, 2, ["b"])


def test_a_listed_mutant_that_a_test_killed_counts_as_killed() -> None:
    score = tally("m.py", {"a": "killed"}, {"a"}, lambda mutant: True)
    assert (score.equivalent, score.killed, score.percent) == (0, 1, 100.0)


def test_a_module_run_in_part_is_scored_on_what_was_run() -> None:
    statuses = {"a": "not checked", "b": "killed", "c": "survived"}
    score = tally("m.py", statuses, (), lambda mutant: True)
    assert (score.unchecked, score.percent) == (1, 50.0)
    assert score.as_json()["survived"] == 1
