"""The runner: it finds a planted bug, reads libFuzzer's output, and the oracles catch what
they claim to catch."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.fuzz import (
    SECONDS_PER_64_KIB,
    TARGETS,
    Layout,
    Result,
    Target,
    default_layout,
    export_oss_fuzz,
    libfuzzer_command,
    read_output,
    replay_command,
    run_target,
)
from harness.fuzz_targets import check_field_decoder
from stack.mime import EncodeError, ParseError
from stack.mime.errors import Defect

PLANTED = """
def fuzz_one_input(data):
    if data.startswith(b"ELSINORE"):
        raise RuntimeError("planted bug")

if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input)
"""


# The pattern quoted-printable decoding used before issue 13: it restarts at every blank of a
# run that does not end a line, so 200,000 blanks take minutes.
PLANTED_SLOW = """
import re

_RESTARTS = re.compile(rb"[ \\t]+(?=\\n|\\Z)")


def fuzz_one_input(data):
    if data.startswith(b"ELSINORE"):
        _RESTARTS.sub(b"", b" " * 200_000 + b"x")

if __name__ == "__main__":
    from harness.fuzz_targets import atheris_main

    atheris_main(fuzz_one_input)
"""


def _planted_layout(root: Path, script: str = PLANTED) -> tuple[Layout, Target]:
    target = Target("planted", "planted", 64, "a bug behind an 8-byte prefix")
    layout = Layout(root)
    (root / "targets").mkdir()
    (root / "targets" / "planted.py").write_text(script)
    (root / "corpora" / "planted").mkdir(parents=True)
    (root / "corpora" / "planted" / "seed").write_bytes(b"ELSIN")
    (root / "dicts").mkdir()
    (root / "dicts" / "planted.dict").write_text('"ELSINORE"\n')
    return layout, target


@pytest.mark.parametrize("jobs", [1, 2])
def test_runner_finds_a_planted_bug_and_saves_the_input(tmp_path: Path, jobs: int) -> None:
    pytest.importorskip("atheris")
    layout, target = _planted_layout(tmp_path)
    result = run_target(layout, target, seconds=60, jobs=jobs)
    assert result.status == "finding", Path(result.log).read_text()
    assert result.finding == "RuntimeError: planted bug"
    saved = [Path(path) for path in result.artifacts]
    assert [path.parent for path in saved] == [layout.crashes(target)]
    assert saved[0].read_bytes().startswith(b"ELSINORE")


@pytest.mark.parametrize("jobs", [1, 2])
def test_runner_reports_a_slow_input_as_a_timeout_finding(tmp_path: Path, jobs: int) -> None:
    # Fork mode (jobs > 1) used to count the timeout and fuzz on: no finding, no input.
    pytest.importorskip("atheris")
    layout, target = _planted_layout(tmp_path, PLANTED_SLOW)
    assert target.timeout_seconds == 1
    result = run_target(layout, target, seconds=60, jobs=jobs)
    assert result.status == "finding", Path(result.log).read_text()
    assert result.finding == "timeout"
    saved = [Path(path) for path in result.artifacts]
    assert [path.parent for path in saved] == [layout.crashes(target)]
    assert saved[0].name.startswith("timeout-")
    assert saved[0].read_bytes().startswith(b"ELSINORE")
    assert result.seconds < 60, "the run went on after the finding"


def test_a_saved_slow_input_replays_as_a_failure_and_a_fast_one_does_not(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    layout, target = _planted_layout(tmp_path, PLANTED_SLOW)
    verdicts = {}
    for name, data in (("timeout-slow", b"ELSINORE"), ("timeout-fixed", b"ELSIN")):
        path = tmp_path / name
        path.write_bytes(data)
        replay = subprocess.run(
            replay_command(layout, target, path),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        verdicts[name] = (replay.returncode != 0, b"libFuzzer: timeout" in replay.stdout)
    assert verdicts == {"timeout-slow": (True, True), "timeout-fixed": (False, False)}


def test_exported_options_carry_each_targets_own_time_limit(tmp_path: Path) -> None:
    export_oss_fuzz(default_layout(), tmp_path)
    for target in TARGETS:
        options = (tmp_path / f"{target.name}.options").read_text()
        assert f"timeout = {target.timeout_seconds}\n" in options


def test_the_time_an_input_may_take_scales_with_the_targets_input_bound() -> None:
    limits = {target.name: target.timeout_seconds for target in TARGETS}
    assert limits["mime_decode"] == limits["spam_tokenizer"] == SECONDS_PER_64_KIB
    assert limits["field_address"] == limits["dns_server"] == 1
    for target in TARGETS:
        command = libfuzzer_command(Layout(Path("fuzz")), target, 10, jobs=2)
        assert f"-timeout={target.timeout_seconds}" in command
        assert "-ignore_timeouts=0" in command and "-ignore_ooms=0" in command


NORMAL_RUN = b"""\
INFO: Seed: 1
#2\tINITED cov: 22 ft: 22 corp: 1/1b exec/s: 0 rss: 55Mb
#4096\tpulse  cov: 812 ft: 2301 corp: 120/9123b lim: 4096 exec/s: 1365 rss: 61Mb
Done 40960 runs in 31 second(s)
stat::number_of_executed_units: 40961
stat::average_exec_per_sec:     1321
stat::new_units_added:          213
"""

FORK_RUN = b"""\
INFO: -fork=2: fuzzing in separate process(s)
#9021: cov: 812 ft: 2301 corp: 120 exec/s 1365 oom/timeout/crash: 0/0/0 time: 12s job: 3
#19021: cov: 901 ft: 2500 corp: 131 exec/s 1402 oom/timeout/crash: 0/0/0 time: 24s job: 4
INFO: exiting: 0 time: 25s
"""

CRASH = b"""\
#3\tNEW    cov: 3 ft: 3 corp: 2/4b lim: 4 exec/s: 0 rss: 40Mb
 === Uncaught Python exception: ===
AssertionError: bytes(parse(b)) != b
Traceback (most recent call last):
==1== ERROR: libFuzzer: fuzz target exited
artifact_prefix='fuzz/crashes/mime_parse/'; Test unit written to fuzz/crashes/mime_parse/crash-ab
"""

TIMEOUT = b"""\
ALARM: working on the last Unit for 6 seconds
artifact_prefix='x/'; Test unit written to x/timeout-cd
==7== ERROR: libFuzzer: timeout after 6 seconds
SUMMARY: libFuzzer: timeout
"""


def _read(output: bytes) -> Result:
    result = Result("t")
    read_output(result, output.splitlines(keepends=True))
    return result


def test_final_stats_give_executions_and_rate_and_last_status_line_gives_coverage() -> None:
    result = _read(NORMAL_RUN)
    assert (result.status, result.executions, result.exec_per_second) == ("ok", 40961, 1321)
    assert (result.coverage, result.features, result.corpus) == (812, 2301, 120)


def test_fork_mode_status_lines_are_read() -> None:
    result = _read(FORK_RUN)
    assert (result.executions, result.exec_per_second) == (19021, 1402)
    assert (result.coverage, result.features, result.corpus) == (901, 2500, 131)


def test_python_exception_is_a_finding_with_its_message_and_input() -> None:
    result = _read(CRASH)
    assert result.status == "finding"
    assert result.finding == "AssertionError: bytes(parse(b)) != b"
    assert result.artifacts == ["fuzz/crashes/mime_parse/crash-ab"]


def test_slow_input_is_a_finding() -> None:
    result = _read(TIMEOUT)
    assert (result.status, result.finding) == ("finding", "timeout")
    assert result.artifacts == ["x/timeout-cd"]


def _decoder_that_flags_only_in_lenient_mode(text: str, defects: list[Defect] | None) -> str:
    if defects is not None:
        defects.append(Defect("made-up", 0))
    return text


def _decoder_whose_encoder_loses_case(text: str, defects: list[Defect] | None) -> str:
    if not text.strip(" ").isalpha():
        raise ParseError("letters only")
    return text.strip(" ")


def test_field_oracle_catches_a_defect_strict_mode_let_through() -> None:
    with pytest.raises(AssertionError, match="strict mode accepted"):
        check_field_decoder(_decoder_that_flags_only_in_lenient_mode, None, "x")


def test_field_oracle_catches_an_encoder_that_does_not_invert_the_decoder() -> None:
    with pytest.raises(AssertionError, match="read back as"):
        check_field_decoder(_decoder_whose_encoder_loses_case, str.lower, "Ab")


def _refuse(value: str) -> str:
    raise EncodeError(f"cannot write {value!r}")


def test_field_oracle_catches_a_strictly_valid_value_the_encoder_refuses() -> None:
    with pytest.raises(AssertionError, match="strict mode accepted 'Ab'"):
        check_field_decoder(_decoder_whose_encoder_loses_case, _refuse, "Ab")


def _decoder_that_reads_capitals_past_a_defect(text: str, defects: list[Defect] | None) -> str:
    if not text.islower():
        if defects is None:
            raise ParseError("capitals")
        defects.append(Defect("capitals", 0))
    return text


def test_field_oracle_lets_the_encoder_refuse_a_value_read_past_defects() -> None:
    check_field_decoder(_decoder_that_reads_capitals_past_a_defect, _refuse, "X")


def test_field_oracle_accepts_parse_errors_in_both_modes() -> None:
    check_field_decoder(_decoder_whose_encoder_loses_case, str.lower, "a b")


def test_fuzz_list_names_every_target_as_json() -> None:
    outcome = CliRunner().invoke(cli(), ["fuzz", "list", "--json"])
    assert outcome.exit_code == 0, outcome.output
    assert [row["target"] for row in json.loads(outcome.output)] == [t.name for t in TARGETS]


def test_fuzz_run_of_an_unknown_target_is_one_line_naming_the_known_ones() -> None:
    outcome = CliRunner().invoke(cli(), ["fuzz", "run", "nope", "--time", "1"])
    assert outcome.exit_code != 0
    assert "no fuzz target 'nope'" in str(outcome.exception)
    assert "mime_parse" in str(outcome.exception)
