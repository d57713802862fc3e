"""Fixtures for the DNS tests: castle.test on disk, a primary, servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dns_testbed import KEY_LINE, ServerThread, castle_text

from stack.dns.addresses import Endpoint
from stack.dns.keys import Keyring, parse_keys
from stack.dns.primary import Primary
from stack.dns.zones import ZoneDirectory


@pytest.fixture
def keyring() -> Keyring:
    return parse_keys(KEY_LINE)


@pytest.fixture
def zones_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "zones"
    directory.mkdir()
    (directory / "castle.test.zone").write_text(castle_text(), encoding="utf-8")
    return directory


@pytest.fixture
def primary(zones_dir: Path, keyring: Keyring) -> Primary:
    return Primary.from_directory(ZoneDirectory(zones_dir), keyring)


@pytest.fixture
def servers() -> Iterator[ServerThread]:
    thread = ServerThread()
    try:
        yield thread
    finally:
        thread.close()


@pytest.fixture
def castle_server(servers: ServerThread, primary: Primary) -> Endpoint:
    """castle.test served by a primary (with its zone directory and keys) on 127.0.0.1."""
    return servers.serve(primary.respond)
