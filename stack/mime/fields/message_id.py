"""Message identifiers (RFC 5322 §3.6.4): Message-ID, In-Reply-To, References, Content-ID.

``MessageId(left, right)`` holds id-left and id-right as semantic text: an obs-id-left
quoted-string (§4.5.4) is unquoted, an obs-id-right domain loses its CFWS, and a
no-fold-literal id-right keeps its brackets (``<x@[192.0.2.1]>``).  The encoder writes
dot-atom-text bare and any other id-left as a quoted-string, which the decoder reads back
(with an ``obs-id-left`` defect), so every value round-trips.

Lenient extras seen in real mail: ``<12345>`` without ``@`` reads as ``MessageId("12345",
"")`` (``missing-id-right``) and is written back the same way; a non-dot-atom id-right such
as ``@.`` or ``@a..b`` is kept as written (``invalid-id-right``) and written back so; a
missing final ``>`` is ``missing-angle-bracket``; in In-Reply-To and
References, phrases (obs-in-reply-to, obs-references) and bare ids without brackets are
reported and skipped, and a list left empty is ``()`` with an ``empty-msg-id-list`` defect.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.lexer import (
    check_text,
    is_domain_literal,
    is_dot_atom_text,
    is_quotable,
    is_text,
    quote_string,
    read_domain_literal,
    read_dot_atom,
    read_dotted,
    read_quoted_string,
    recover,
    report,
    skip_cfws,
    skip_to,
)

__all__ = [
    "MessageId",
    "decode_msg_id",
    "decode_msg_id_list",
    "encode_msg_id",
    "encode_msg_id_list",
]


# What a lenient reader keeps of an id-right that is no dot-atom: printable ASCII up to the
# next white space, bracket, comment, quote or '@'; the encoder writes such a value back as is.
_SLOPPY_RIGHT = re.compile(r"[!#-\'*-;=?A-Z\\^-~]+")


@dataclass(frozen=True, slots=True)
class MessageId:
    """One msg-id: ``<left@right>``, or ``<left>`` when a sender left out id-right."""

    left: str
    right: str

    def __str__(self) -> str:
        return f"<{self.left}@{self.right}>" if self.right else f"<{self.left}>"


def _read_right(text: str, pos: int, defects: list[Defect] | None) -> tuple[str, int]:
    """id-right (RFC 5322 §3.6.4): dot-atom-text, a no-fold-literal, or obs-id-right.

    Both kinds return the position after the CFWS that follows them: lenient mode decides
    from that position whether the id-right ended where it should.
    """
    if text.startswith("[", pos):
        literal, after = read_domain_literal(text, pos, defects)
        return literal, skip_cfws(text, after, defects)
    return read_dotted(text, pos, defects, "obs-id-right", "id-right")


def _read_sloppy_right(text: str, pos: int, defects: list[Defect] | None) -> tuple[str, int]:
    """id-right as written when it is no dot-atom at all (``@.``, ``@a..b``), in lenient mode.

    Spam and broken mailers write these often enough that giving up on the whole message id
    would lose more than it protects.  What is kept can be written back by the encoder.
    """
    if defects is None:
        return _read_right(text, pos, None)
    scratch: list[Defect] = []
    try:
        right, after = _read_right(text, pos, scratch)
    except ParseError:
        pass
    else:
        if after == len(text) or text.startswith(">", after):
            defects.extend(scratch)
            return right, after
    match = _SLOPPY_RIGHT.match(text, pos)
    if match is None:
        raise ParseError("expected id-right", pos)
    report(defects, "invalid-id-right", pos, "id-right is neither a dot-atom nor a literal")
    return match.group(), skip_cfws(text, match.end(), defects)


def _read_msg_id(text: str, pos: int, defects: list[Defect] | None) -> tuple[MessageId, int]:
    """msg-id = [CFWS] "<" id-left "@" id-right ">" [CFWS], the ``<`` at ``pos``."""
    pos = skip_cfws(text, pos + 1, defects)
    if text.startswith('"', pos):
        report(defects, "obs-id-left", pos, "quoted-string id-left")
        left, pos = read_quoted_string(text, pos, defects)
    else:
        left, pos = read_dot_atom(text, pos)
        if not left:
            raise ParseError("expected id-left", pos)
    pos = skip_cfws(text, pos, defects)
    right = ""
    if text.startswith("@", pos):
        pos = skip_cfws(text, pos + 1, defects)
        right, pos = _read_sloppy_right(text, pos, defects)
    else:
        report(defects, "missing-id-right", pos, "msg-id without '@'")
    pos = skip_cfws(text, pos, defects)
    if text.startswith(">", pos):
        pos += 1
    elif pos >= len(text):
        report(defects, "missing-angle-bracket", pos, "msg-id is not closed by '>'")
    else:
        raise ParseError(f"unexpected {text[pos]!r} in msg-id", pos)
    return MessageId(left, right), skip_cfws(text, pos, defects)


def _read_bare_msg_id(text: str, pos: int, defects: list[Defect] | None) -> tuple[MessageId, int]:
    """``left@right`` without angle brackets, a common slip in Message-ID (lenient only)."""
    left, after = read_dot_atom(text, pos)
    if not left or defects is None or not text.startswith("@", after):
        raise ParseError("expected '<' to open a msg-id", pos)
    report(defects, "missing-angle-brackets", pos, "msg-id without '<' and '>'")
    right, after = _read_right(text, after + 1, defects)
    return MessageId(left, right), after


def decode_msg_id(text: str, defects: list[Defect] | None = None) -> MessageId:
    """Decode exactly one msg-id: Message-ID, Content-ID (RFC 5322 §3.6.4, RFC 2045 §7)."""
    check_text(text, defects)
    pos = skip_cfws(text, 0, defects)
    if text.startswith("<", pos):
        value, pos = _read_msg_id(text, pos, defects)
    else:
        value, pos = _read_bare_msg_id(text, pos, defects)
    if pos < len(text):
        report(defects, "trailing-garbage", pos, f"unexpected {text[pos]!r} after the msg-id")
    return value


def decode_msg_id_list(text: str, defects: list[Defect] | None = None) -> tuple[MessageId, ...]:
    """Decode ``1*msg-id`` (In-Reply-To, References), skipping obs- phrases with a defect."""
    check_text(text, defects)
    found: list[MessageId] = []
    end = len(text)
    pos = skip_cfws(text, 0, defects)
    while pos < end:
        if text[pos] == "<":
            try:
                value, pos = _read_msg_id(text, pos, defects)
            except ParseError as error:
                resume = max(pos + 1, error.offset)
                pos = recover(error, defects, "invalid-msg-id", text, resume, "<")
                continue
            found.append(value)
            continue
        # obs-in-reply-to / obs-references: phrases, or ids that lost their brackets.  The
        # skip starts at the phrase itself, so that a quoted-string's '<' stays in the phrase.
        report(defects, "obs-phrase-in-msg-id-list", pos, "text that is not a msg-id")
        pos = skip_cfws(text, skip_to(text, pos, "<"), defects)
    if not found:
        report(defects, "empty-msg-id-list", min(pos, end), "no msg-id in the list")
    return tuple(found)


def encode_msg_id(value: MessageId) -> str:
    """Write ``<left@right>``: id-left bare when it is dot-atom-text, else quoted.

    RFC 6532 UTF-8 is written raw; undecodable bytes (lone surrogates) are refused.
    """
    left = value.left
    if not (is_dot_atom_text(left) and is_text(left)):
        if not is_quotable(left):
            raise EncodeError(f"id-left {left!r} holds characters a msg-id cannot carry")
        left = quote_string(left)
    right = value.right
    if right and not (
        is_text(right)
        and (
            is_dot_atom_text(right)
            or is_domain_literal(right)
            or _SLOPPY_RIGHT.fullmatch(right) is not None
        )
    ):
        raise EncodeError(f"id-right {right!r} is neither a dot-atom nor a no-fold-literal")
    return f"<{left}@{right}>" if right else f"<{left}>"


def encode_msg_id_list(values: Sequence[MessageId]) -> str:
    """Write msg-ids separated by single spaces, where the folder may break the line.

    An empty list (a lenient reading of an In-Reply-To: holding only a phrase) is written
    as an empty value, which reads back as the same empty list and defect.
    """
    return " ".join(encode_msg_id(value) for value in values)
