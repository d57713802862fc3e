"""pytest-benchmark: the grammar's two drivers, and whole corpus writing.

One grammar (``harness.strategies.grammar``), two drivers: the seeded fast driver that writes
corpora and the hypothesis driver that property tests use (every choice a draw, so examples
shrink).  Each benchmark records messages per second in ``extra_info``; the ratio between the
drivers is the price of shrinking.  ``elsinore corpus generate`` must sustain 1,000 messages/s.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from pytest_benchmark.fixture import BenchmarkFixture

from harness.corpus import generate_one, write_corpus
from harness.strategies import wire_messages
from harness.strategies.mime import Entity

FAST = 300
DRAWN = 50


def _rate(benchmark: BenchmarkFixture, count: int) -> None:
    if benchmark.stats is None:  # --benchmark-disable: the function ran once, untimed
        return
    benchmark.extra_info["messages_per_second"] = round(count / benchmark.stats.stats.mean)


@pytest.mark.benchmark(group="grammar drivers")
def test_fast_driver_generates_messages(benchmark: BenchmarkFixture) -> None:
    benchmark(lambda: [generate_one(0, index) for index in range(FAST)])
    _rate(benchmark, FAST)


@pytest.mark.benchmark(group="grammar drivers")
def test_hypothesis_driver_generates_messages(benchmark: BenchmarkFixture) -> None:
    @settings(
        max_examples=DRAWN,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(wire_messages())
    def draw(message: Entity) -> None:
        assert message.data

    benchmark(draw)
    _rate(benchmark, DRAWN)


@pytest.mark.benchmark(group="corpus")
@pytest.mark.parametrize("jobs", [1, 2])
def test_corpus_generate_writes_messages(
    benchmark: BenchmarkFixture, tmp_path: Path, jobs: int
) -> None:
    count = 1000
    benchmark.pedantic(
        lambda: write_corpus(tmp_path, seed=0, count=count, jobs=jobs, progress=False),
        rounds=2,
    )
    _rate(benchmark, count)
