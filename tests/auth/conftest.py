"""Fixtures for the authentication tests: our DNS servers in a background event loop.

The DNS tests' test bed (``tests/dns/dns_testbed.py``) already runs servers in a thread of
their own; it is reused here rather than copied, by putting its folder on ``sys.path``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dns"))

from dns_testbed import ServerThread


@pytest.fixture
def servers() -> Iterator[ServerThread]:
    """A background event loop for our DNS servers, closed after the test."""
    with closing(ServerThread()) as thread:
        yield thread
