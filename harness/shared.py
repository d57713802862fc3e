"""Where the shared, read-only data lives: real corpora and conformance suites.

They are never copied into the repository.  ``ELSINORE_CORPORA`` and ``ELSINORE_CONFORMANCE``
name them; by default they sit in ``../shared`` beside the repository root.
"""

from __future__ import annotations

import os
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def _shared(variable: str, default: str) -> Path:
    value = os.environ.get(variable)
    if value:
        return Path(value).expanduser()
    return (REPOSITORY_ROOT / ".." / "shared" / default).resolve()


def corpora_dir() -> Path:
    """The folder of real corpora (``spamassassin/`` and others)."""
    return _shared("ELSINORE_CORPORA", "corpora")


def conformance_dir() -> Path:
    """The folder of conformance suites (``spf/rfc7208-tests.yml`` and others)."""
    return _shared("ELSINORE_CONFORMANCE", "conformance")
