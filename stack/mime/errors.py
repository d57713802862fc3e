"""What can go wrong while reading mail: defects (recorded) and parse errors (raised).

The lossless layer never raises: every problem it meets becomes a :class:`Defect` with a kind
and a byte offset.  The structured layer raises :class:`ParseError` in strict mode and records
defects in lenient mode.  Offsets are absolute byte offsets in the message when the caller
knows them, otherwise offsets within the value being parsed (``field`` then says which).
"""

from __future__ import annotations

from dataclasses import dataclass

from stack.errors import ElsinoreError


@dataclass(frozen=True, slots=True)
class Defect:
    """One problem found in a message: its kind (a short kebab-case name), where, and why."""

    kind: str
    offset: int
    detail: str = ""
    field: str | None = None

    @property
    def obsolete(self) -> bool:
        """Obsolete syntax (RFC 5322 section 4, kinds ``obs-*``): never written, but "when
        interpreting messages, these tokens MUST be honored" (3.1), so strict mode reads it."""
        return self.kind.startswith("obs-")

    def __str__(self) -> str:
        where = f"{self.field} field, " if self.field else ""
        tail = f": {self.detail}" if self.detail else ""
        return f"{self.kind} ({where}byte {self.offset}){tail}"


class ParseError(ElsinoreError, ValueError):
    """Input that does not follow the grammar, with the field, the offset and the reason."""

    def __init__(self, reason: str, offset: int = 0, field: str | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.field = field
        super().__init__(reason, offset, field)

    def __str__(self) -> str:
        where = f"{self.field} field, " if self.field else ""
        return f"{where}byte {self.offset}: {self.reason}"

    def within(self, field: str, base: int) -> ParseError:
        """The same error, re-anchored to a field that starts at byte ``base`` of a message."""
        return ParseError(self.reason, base + self.offset, field)


class EncodeError(ElsinoreError, ValueError):
    """A model that cannot be written as conformant mail (for example a CR in a field name)."""
