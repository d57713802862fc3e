"""Every input saved under fuzz/crashes/<target>/ replays as a test of its target.

libFuzzer writes a finding there (``crash-*``, ``timeout-*``, ``oom-*``); once the bug is
fixed the file stays and this test keeps it fixed.  A finding that is not fixed yet has a note
beside it, ``<input>.xfail``, whose text is the reason: the test is then a strict xfail, so
it fails loudly the day the bug is fixed and the note should go.

A ``timeout-*`` or ``oom-*`` finding is about time or memory, which calling the target cannot
see: it is replayed under libFuzzer with the limits of a fuzzing run (atheris needed).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fuzz_testbed import fuzz_one_input, layout

from harness.fuzz import RESOURCE_FINDINGS, TARGETS, Target, regression_inputs, replay_command


def _cases() -> list[object]:
    cases: list[object] = []
    for target in TARGETS:
        for path in regression_inputs(layout(), target):
            note = path.with_name(path.name + ".xfail")
            marks = (
                [pytest.mark.xfail(reason=note.read_text().strip(), strict=True)]
                if note.is_file()
                else []
            )
            cases.append(pytest.param(target, path, id=f"{target.name}/{path.name}", marks=marks))
    return cases


@pytest.mark.parametrize(("target", "path"), _cases())
def test_saved_finding_no_longer_fails(target: Target, path: Path, tmp_path: Path) -> None:
    if not path.name.startswith(RESOURCE_FINDINGS):
        fuzz_one_input(target)(path.read_bytes())
        return
    pytest.importorskip("atheris")
    replay = subprocess.run(
        replay_command(layout(), target, path),
        cwd=tmp_path,  # where libFuzzer would write the input again if it still fails
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    assert replay.returncode == 0, replay.stdout.decode(errors="replace")[-2000:]


def test_every_crash_folder_is_a_target_that_replays_it() -> None:
    # A finding saved under a folder no target has (a renamed target, a typo) would never
    # be replayed: the regression would be lost without a failure.
    folders = {path.name for path in (layout().root / "crashes").iterdir() if path.is_dir()}
    assert folders <= {target.name for target in TARGETS}
