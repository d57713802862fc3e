"""Folding header fields (RFC 5322 2.2.3), the one way the encoder breaks a long line.

A fold is a CRLF inserted before a space or tab that is already in the line, so unfolding
(removing every CRLF that precedes white space) gives back the exact value: folding is lossless
for every field kind, structured or not, and never needs to know the field's grammar.  Field
encoders therefore only have to put a space wherever a break is welcome.

Rules kept here:
- lines prefer 78 characters and never exceed 998 (a run with no white space longer than that
  cannot be folded and is refused), except for text kept as it was written (``limit=None``,
  the encoder's :class:`~stack.mime.model.Malformed` values): a line its sender made too long
  is written back as long, not refused;
- never fold right after the colon (some relaxed-canonicalisation DKIM verifiers fail on it),
  unless the first word fits within 998 octets only on a line of its own: the line limit is a
  MUST of RFC 5322, the colon rule a courtesy;
- never leave a line made only of white space (RFC 5322 4.2, obs-FWS).
"""

from __future__ import annotations

import re

from stack.mime.errors import EncodeError

PREFERRED = 78
LIMIT = 998
_CHUNK = re.compile(r"[ \t]+[^ \t]*")


def fold(name: str, value: str, *, width: int = PREFERRED, limit: int | None = LIMIT) -> str:
    """``name: value`` folded into lines of at most ``width`` characters where possible,
    joined with CRLF, without the final line break; a line longer than ``limit`` octets (when
    it is not None) raises :class:`EncodeError`."""
    if "\r" in value or "\n" in value:
        raise EncodeError(f"{name} field value contains a line break: {value[:60]!r}")
    first = f"{name}: {value}" if value else f"{name}:"
    if len(first) <= width:
        return first
    lines: list[str] = []
    head = line = f"{name}:"
    # Break before each run of white space, keeping the run with the word after it.  A run
    # with no word after it (trailing white space) stays on its line.
    for chunk in _CHUNK.findall(" " + value):
        if (
            len(line) + len(chunk) > width
            and chunk.strip(" \t")
            and (line != head or _octets(head + chunk) > LIMIT >= _octets(chunk))
        ):
            lines.append(line)
            line = chunk
        else:
            line += chunk
    lines.append(line)
    if limit is None:
        return "\r\n".join(lines)
    for text in lines:
        if _octets(text) > limit:
            raise EncodeError(
                f"{name} field has a run of {len(text)} characters without white space; "
                f"a line may not exceed {limit} octets (RFC 5322 2.1.1)"
            )
    return "\r\n".join(lines)


def _octets(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))
