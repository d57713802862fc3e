"""pytest-benchmark: the codec's hot paths beside stdlib ``email`` doing the same work.

Groups pair each of our functions with its peer; ``pytest bench --benchmark-only
--benchmark-group-by=group`` shows them side by side.  The ratio table is printed by
``bench/mime_side_by_side.py``.
"""

from __future__ import annotations

import email.policy
from email.parser import BytesParser

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.corpus import spamassassin_messages, stdlib_read_everything
from stack.mime import decode, encode, parse

MESSAGES = spamassassin_messages()
pytestmark = pytest.mark.skipif(MESSAGES is None, reason="SpamAssassin corpus not found")
# A fixed slice keeps a round short enough for several rounds.
SAMPLE = (MESSAGES or [])[::10]


@pytest.mark.benchmark(group="parse")
def test_parse_elsinore(benchmark: BenchmarkFixture) -> None:
    def run() -> None:
        for data in SAMPLE:
            for _ in parse(data).walk():
                pass

    benchmark(run)


@pytest.mark.benchmark(group="parse")
def test_parse_stdlib_compat32(benchmark: BenchmarkFixture) -> None:
    parser = BytesParser(policy=email.policy.compat32)
    benchmark(lambda: [parser.parsebytes(data) for data in SAMPLE])


@pytest.mark.benchmark(group="decode")
def test_decode_elsinore(benchmark: BenchmarkFixture) -> None:
    benchmark(lambda: [decode(data) for data in SAMPLE])


@pytest.mark.benchmark(group="decode")
def test_decode_stdlib_default(benchmark: BenchmarkFixture) -> None:
    parser = BytesParser(policy=email.policy.default)

    def run() -> None:
        for data in SAMPLE:
            try:
                stdlib_read_everything(parser.parsebytes(data))
            except Exception:
                continue

    benchmark(run)


@pytest.mark.benchmark(group="encode")
def test_encode_elsinore(benchmark: BenchmarkFixture) -> None:
    models = [decode(data) for data in SAMPLE]
    benchmark(lambda: [encode(model) for model in models])
