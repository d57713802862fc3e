"""Merging a campaign into the committed corpora: libFuzzer keeps what adds coverage, the cap
bounds the folder, real mail never gets in, and the next run reads what was kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.fuzz import Layout, Target, run_target
from harness.fuzz_corpus import CAMPAIGN, REAL_RUN, Cap, merge_family
from stack.errors import ElsinoreError

# Three nested branches, instrumented (the runner instruments only the stack by default).
BRANCHES = """
def fuzz_one_input(data):
    if data[:1] == b"E":
        if data[1:2] == b"L":
            if data[2:3] == b"S":
                if data.startswith(b"ELSINORE"):
                    raise RuntimeError("planted bug")

if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input, include=("__main__",))
"""

TARGET = Target("branches", "branches", 1024, "three nested branches")


def _layout(root: Path, found: list[bytes]) -> Layout:
    """A fuzz folder whose seeds take the first branch both ways, and whose last run found
    ``found``."""
    layout = Layout(root)
    (root / "targets").mkdir()
    layout.script(TARGET).write_text(BRANCHES)
    seeds = layout.seeds(TARGET)
    seeds.mkdir(parents=True)
    (seeds / "seed-e").write_bytes(b"E")
    (seeds / "seed-z").write_bytes(b"z")
    corpus = layout.work(TARGET) / "corpus"
    corpus.mkdir(parents=True)
    for index, data in enumerate(found):
        (corpus / f"found-{index}").write_bytes(data)
    return layout


def _campaign(layout: Layout) -> set[bytes]:
    folder = layout.seeds(TARGET) / CAMPAIGN
    return {path.read_bytes() for path in folder.iterdir()} if folder.is_dir() else set()


def test_merge_keeps_the_smallest_inputs_that_add_coverage_and_leaves_the_seeds(
    tmp_path: Path,
) -> None:
    pytest.importorskip("atheris")
    layout = _layout(tmp_path, [b"ELSEWHERE", b"EL", b"ELS", b"zzzz", b"E!"])
    merged = merge_family(layout, "branches", targets=[TARGET])
    assert _campaign(layout) == {b"EL", b"ELS"}
    assert sorted(p.name for p in layout.seeds(TARGET).iterdir()) == [CAMPAIGN, "seed-e", "seed-z"]
    assert (merged.candidates, merged.kept, merged.added, merged.dropped) == (5, 2, 2, 0)
    assert (merged.files, merged.bytes) == (4, 1 + 1 + 2 + 3)


def test_the_cap_drops_the_largest_campaign_inputs(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    layout = _layout(tmp_path, [b"EL", b"ELS"])
    merged = merge_family(layout, "branches", Cap(files=1), targets=[TARGET])
    assert _campaign(layout) == {b"EL"}
    assert (merged.kept, merged.dropped, merged.files) == (1, 1, 3)
    merged = merge_family(layout, "branches", Cap(bytes=1), targets=[TARGET])
    assert _campaign(layout) == set()
    assert not (layout.seeds(TARGET) / CAMPAIGN).exists()


def test_a_new_merge_prunes_what_smaller_inputs_now_cover(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    layout = _layout(tmp_path, [b"EL", b"ELS"])
    earlier = layout.seeds(TARGET) / CAMPAIGN
    earlier.mkdir()
    (earlier / "from-the-last-campaign").write_bytes(b"ELSEWHERE")
    merged = merge_family(layout, "branches", targets=[TARGET])
    assert _campaign(layout) == {b"EL", b"ELS"}
    assert merged.added == 2


def test_an_input_sharing_a_run_with_real_mail_is_never_kept(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    real_message = bytes(range(256)) * 2
    run = real_message[100 : 100 + REAL_RUN]
    short = run[: REAL_RUN // 2 - 1]  # shorter than any window the check compares
    layout = _layout(tmp_path, [b"ELS" + run, b"EL" + short])
    real = tmp_path / "work" / "real-seeds" / "branches"
    real.mkdir(parents=True)
    (real / "message").write_bytes(real_message)
    merged = merge_family(layout, "branches", targets=[TARGET])
    assert merged.real == 1
    assert _campaign(layout) == {b"EL" + short}


def test_a_failed_merge_leaves_the_campaign_folder_as_it_was(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    layout = _layout(tmp_path, [b"EL", b"ELS"])
    earlier = layout.seeds(TARGET) / CAMPAIGN
    earlier.mkdir()
    (earlier / "from-the-last-campaign").write_bytes(b"ELSEWHERE")
    layout.script(TARGET).write_text("raise SystemExit(3)\n")
    with pytest.raises(ElsinoreError, match="merge for branches exited with status 3"):
        merge_family(layout, "branches", targets=[TARGET])
    assert _campaign(layout) == {b"ELSEWHERE"}


def test_the_next_run_reads_the_campaign_folder(tmp_path: Path) -> None:
    # libFuzzer reads corpus folders recursively: an input kept in campaign/ is run at start.
    pytest.importorskip("atheris")
    layout = _layout(tmp_path, [])
    (layout.seeds(TARGET) / CAMPAIGN).mkdir()
    (layout.seeds(TARGET) / CAMPAIGN / "kept").write_bytes(b"ELSINORE")
    result = run_target(layout, TARGET, seconds=60)
    assert result.status == "finding", Path(result.log).read_text()
    assert result.finding == "RuntimeError: planted bug"
    assert "MS: 0 ;" in Path(result.log).read_text()  # no mutation: the kept input, as is


def test_fuzz_merge_of_an_unknown_target_names_the_known_ones() -> None:
    outcome = CliRunner().invoke(cli(), ["fuzz", "merge", "nope"])
    assert outcome.exit_code != 0
    assert "no fuzz target 'nope'" in str(outcome.exception)
    assert "mime_check" in str(outcome.exception)
