"""Fixtures shared by the SMTP tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hop_testbed import HOST
from smtp_peers import Peer, free_port


@pytest.fixture
def peer() -> Iterator[Peer]:
    """A recording SMTP peer on loopback, the downstream of a hop under test."""
    server = Peer(HOST, free_port(), name="sink.castle.test")
    server.start()
    try:
        yield server
    finally:
        server.stop()
