"""The committed layout is whole: every target has a script, seeds and a dictionary, and
passes on each of its own seeds (a seed that fails is a finding nobody saved)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_testbed import fuzz_one_input, layout

from harness.fuzz import TARGETS, Target, seed_files


def test_every_target_script_is_registered_and_every_registered_target_has_a_script() -> None:
    scripts = {path.stem for path in (layout().root / "targets").glob("*.py")}
    assert scripts == {target.name for target in TARGETS}


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_target_has_seeds_and_a_dictionary_or_reads_choices(target: Target) -> None:
    assert any(layout().seeds(target).iterdir())
    # hypothesis reads the choices target's bytes as draws: RFC tokens would mean nothing.
    assert layout().dictionary(target).is_file() or target.family == "choices"


def _seeds() -> list[object]:
    # The campaign's inputs (corpora/<family>/campaign/) too: each passed when it was kept.
    return [
        pytest.param(target, path, id=f"{target.name}/{path.relative_to(layout().seeds(target))}")
        for target in TARGETS
        for path in seed_files(layout().seeds(target))
    ]


@pytest.mark.parametrize(("target", "path"), _seeds())
def test_target_passes_on_its_seed(target: Target, path: Path) -> None:
    fuzz_one_input(target)(path.read_bytes())


def test_seed_corpora_stay_small() -> None:
    total = sum(path.stat().st_size for path in (layout().root / "corpora").rglob("*"))
    assert total < 1024 * 1024
