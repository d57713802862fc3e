"""The way a message came, read back from the message itself.

Every hop of the world prepends its fields to the bytes it received and never rewrites them
(DESIGN principle 1), and the first field each hop writes is its ``Received:``; whatever it
adds after sits above that.  So the fields from the top of a delivered message down to and
including the first ``Received:`` are the last hop's, the bytes below them are exactly what
that hop received, and so on down to the message as its author's client sent it.

:func:`hops` makes that a list, in the order the message travelled: for each hop, the host
that received it (``by`` of its ``Received:``), the names of the fields it added, and the
message as that hop received it, byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stack.mime.lossless import parse

_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)
_FROM = re.compile(r"^\s*from\s+([^\s;()]+)(?:\s+\(([^)]*)\))?", re.IGNORECASE)


@dataclass(frozen=True)
class Hop:
    """One host the message passed: what it added, and what it was given."""

    by: str
    came_from: str
    added: tuple[tuple[str, str], ...]
    received: bytes

    def to_json(self) -> dict[str, object]:
        return {
            "by": self.by,
            "from": self.came_from,
            "added": [{"name": name, "value": value} for name, value in self.added],
            "size": len(self.received),
        }


def hops(data: bytes) -> list[Hop]:
    """The hops ``data`` passed, first to last, each with the fields it added."""
    tree = parse(data)
    found: list[Hop] = []
    block: list[tuple[str, str]] = []
    offset = 0
    for field in tree.fields:
        offset += len(bytes(field))
        if not field.is_field:
            break
        value = " ".join(field.unfolded().split())
        block.append((field.name, value))
        if field.name.lower() == "received":
            by = _BY.search(value)
            came = _FROM.search(value)
            came_from = ""
            if came is not None:
                came_from = came.group(1) + (f" ({came.group(2)})" if came.group(2) else "")
            found.append(
                Hop(by.group(1) if by else "unknown", came_from, tuple(block), data[offset:])
            )
            block = []
    return list(reversed(found))


__all__ = ["Hop", "hops"]
