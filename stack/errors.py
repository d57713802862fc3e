"""The root of the exceptions that Elsinore raises for input a user can fix.

The command line prints these as one line (``elsinore: error: ...``) and exits non-zero;
anything else that escapes is a bug and is reported as such.

An error that quotes the input quotes an :func:`excerpt` of it, never all of it: a
five-megabyte line must not become a five-megabyte error line.
"""

from __future__ import annotations

import os
from typing import Self

#: How many characters of the input an error message quotes at most.
EXCERPT_LIMIT = 60


class ElsinoreError(Exception):
    """Bad input or a failed operation that a user can act on."""


class ListenError(ElsinoreError):
    """A server cannot bind its address: the port is taken, privileged, or not ours."""

    @classmethod
    def from_os_error(cls, where: object, exc: OSError) -> Self:
        """``cannot listen on WHERE: REASON``, the one form every server of the stack uses.

        asyncio's own message repeats the address as a tuple and buries the reason
        (``[Errno 98] error while attempting to bind on address ('127.0.0.1', 25): address
        already in use``); the reason alone is what the user can act on.
        """
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        return cls(f"cannot listen on {where}: {reason}")


def excerpt(data: bytes | str, limit: int = EXCERPT_LIMIT) -> str:
    """At most ``limit`` characters of ``data``, quoted and escaped as Python literals are
    (control characters and, for bytes, non-ASCII ones become ``\\r``, ``\\x00``...), so the
    quote stays on one line; when ``data`` is longer, its size follows.
    """
    head = data[:limit]  # cut before escaping: the work is bounded by the limit too
    quoted = repr(head)[1:] if isinstance(head, bytes) else repr(head)
    if len(data) <= limit:
        return quoted
    unit = "bytes" if isinstance(data, bytes) else "characters"
    return f"{quoted}... ({len(data):,} {unit})"


def bounded(text: str, limit: int) -> str:
    """``text`` itself when it is at most ``limit`` printable characters, else its
    :func:`excerpt`: for text we did not write that may quote input whole (a library's
    error message, a verifier's reason), or control characters.
    """
    return text if len(text) <= limit and text.isprintable() else excerpt(text)
