"""Shared pytest set-up: hypothesis profiles and the shared data folders.

``HYPOTHESIS_PROFILE`` picks the profile: ``dev`` (the default) is quick, ``ci`` (what tox
uses) is thorough but bounded so that CI stays well under its time budget.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from harness.shared import conformance_dir, corpora_dir

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=400,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# mutation/run.py: the same examples on every run, so that a mutant is killed or not the same
# way each time (a random draw could kill it once and let it live the next); no shrinking, since
# a mutant is killed by the first failing example, and shrinking a whole message took a minute.
settings.register_profile(
    "mutation",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@functools.cache
def _mutmut_durations() -> dict[str, float]:
    """Each test's time in mutmut's last stats run, read once and kept by its forked runs."""
    stats = Path("mutmut-stats.json")  # mutmut runs the tests inside its mutants/ folder
    if not stats.is_file():
        return {}
    durations: dict[str, float] = json.loads(stats.read_text("utf-8"))["duration_by_test"]
    return durations


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under mutmut, run a mutant's quickest tests first.

    mutmut hands pytest a mutant's tests as an unordered set and stops at the first failure, so
    a mutant that a quick contract test kills could first wait for every slow property test.
    """
    if os.environ.get("HYPOTHESIS_PROFILE") != "mutation":
        return
    durations = _mutmut_durations()
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))


@pytest.fixture(scope="session")
def spamassassin() -> Path:
    """The SpamAssassin public corpus, or a skip that says where it was looked for."""
    path = corpora_dir() / "spamassassin"
    if not path.is_dir():
        pytest.skip(f"SpamAssassin corpus not found at {path} (set ELSINORE_CORPORA)")
    return path


@pytest.fixture(scope="session")
def spf_suite() -> Path:
    """The RFC 7208 SPF test suite, or a skip that says where it was looked for."""
    path = conformance_dir() / "spf" / "rfc7208-tests.yml"
    if not path.is_file():
        pytest.skip(f"SPF suite not found at {path} (set ELSINORE_CONFORMANCE)")
    return path
