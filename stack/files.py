"""Durable writes: what the spool, the alias folder, the spam store and the sink share.

A rename is durable only once the directory that holds the name is flushed too; a file's
data only once the file is.  Both are one ``fsync`` of a descriptor opened read-only.
"""

from __future__ import annotations

import os
from pathlib import Path


def _fsync(path: Path, flags: int) -> None:
    descriptor = os.open(path, os.O_RDONLY | flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_path(path: Path) -> None:
    """Flush the file at ``path`` to disk, its data and its size."""
    _fsync(path, 0)


def fsync_directory(path: Path) -> None:
    """Make the directory entries under ``path`` durable (a rename or a new file in it; the
    files' own data is not); :class:`NotADirectoryError` when it is not a directory."""
    _fsync(path, os.O_DIRECTORY)


__all__ = ["fsync_directory", "fsync_path"]
