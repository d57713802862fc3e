"""Text that is safe to write into a header field we build, whoever chose it.

Every field a hop writes (Received, Received-SPF, Authentication-Results, ARC and DKIM
fields, the spam filter's verdict) carries values that someone else chose: the HELO name and
MAIL FROM address of a remote client, a selector read from a signature, a remote server's
reply.  A CR or LF in such a value would end the field and start another one (header
injection), a NUL is refused or truncated by many MTAs, and other control characters confuse
the programs that read the field afterwards.  Two policies, one per kind of value:

- :func:`safe_text` is for values an attacker chose.  It never fails: the MX has to go on
  answering whatever the client sends, so a hostile value is *escaped*, not refused.  Every
  character that could break a line or a reader becomes a visible backslash escape, and a
  backslash itself is doubled so the escape can be undone without guessing.
- :func:`checked_text` is for values from our own configuration (the authserv-id, our
  signing domain and selector, the receiver name).  A control character there is an
  operator's mistake, and writing an escaped value would sign or report a name that is not
  the configured one; it is refused with :class:`UnsafeTextError`, which names the setting
  and the offset of the first forbidden character.

What is escaped (by both, refused by the second): the C0 controls U+0000-U+001F, including
TAB (folding inserts its own white space, so a value never needs its own tabs), DEL U+007F,
the C1 controls U+0080-U+009F (U+0085 is NEL, a line break to some readers), the Unicode
line and paragraph separators U+2028 and U+2029 (Python's ``str.splitlines`` breaks on them),
and lone surrogates (a value decoded with ``surrogateescape`` keeps a stray 8-bit byte that way,
and encoding it to UTF-8 would raise).  Other non-ASCII text stays as it is (RFC 6532).

The escapes: a stray byte kept by ``surrogateescape`` (U+DC80-U+DCFF) is written ``\\xHH``
with its byte value (80-FF); a C0 control or DEL is written ``\\xHH`` with its code point
(00-1F, 7F: a range the bytes cannot reach, so the two never collide); anything else is
written ``\\uHHHH``; a backslash is written ``\\\\``.  The result is printable,
single-line text.  A field builder still quotes or comment-escapes it for its own syntax, and
bounds it (``limit=``) when it may be longer than a line can hold.

:meth:`stack.mime.lossless.Field.build`, which every prepended field goes through, applies
:func:`checked_text` to the whole value and refuses a line over 998 octets: a builder that
forgets these functions gets an :class:`~stack.mime.errors.EncodeError`, never a field that
injects another.
"""

from __future__ import annotations

import re

from stack.mime.errors import EncodeError

#: Characters no written field value may contain: see the module's docstring.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_UNSAFE_OR_BACKSLASH = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\\\\]")

#: A run of characters kept as they are, or one character to escape.
_RUNS = re.compile(
    "(?P<plain>[^\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\\\\]+)|(?P<escaped>.)", re.DOTALL
)
#: How a value cut at ``limit`` ends: a backslash before a dot is no escape of ours.
_CUT = "\\..."

_NAMES = {"\0": "NUL", "\t": "TAB", "\n": "LF", "\r": "CR", "\x7f": "DEL"}


class UnsafeTextError(EncodeError):
    """A configured value that holds a character no header field may carry."""

    def __init__(self, what: str, offset: int, char: str) -> None:
        self.what = what
        self.offset = offset
        self.char = char
        name = _NAMES.get(char, "a control character")
        super().__init__(what, offset, char)
        self.reason = f"{name} (U+{ord(char):04X}) at character {offset}"

    def __str__(self) -> str:
        return (
            f"{self.what}: {self.reason}; a value written into a header field may not hold "
            "line breaks or control characters"
        )


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def safe_text(value: str, *, limit: int | None = None) -> str:
    """``value`` with every line break, NUL, control character and lone surrogate escaped
    (and every backslash doubled), so that it cannot end a header field or start another.

    For text an attacker chose: it never raises.  ``safe_text("a\\r\\nX: y")`` is
    ``"a\\\\x0d\\\\x0aX: y"``, one line.

    With ``limit``, the result takes at most that many octets in UTF-8: a longer one is cut
    between two characters (never inside an escape) and ends with ``\\...``, which no
    escape writes.  A field line may not pass 998 octets (RFC 5322 2.1.1), and an unbroken
    hostile value cannot be folded, so a builder that repeats one bounds it this way.
    """
    if limit is not None and limit < len(_CUT):
        raise ValueError(f"limit {limit} leaves no room for the cut mark {_CUT!r}")
    if _UNSAFE_OR_BACKSLASH.search(value) is None:
        text = value  # the common case: nothing to copy
    else:
        text = _UNSAFE_OR_BACKSLASH.sub(_escape, value)
    if limit is None or len(text) * 4 <= limit or len(text.encode("utf-8")) <= limit:
        return text
    return _clipped(value, limit)


def _clipped(value: str, limit: int) -> str:
    budget = max(limit - len(_CUT), 0)
    out: list[str] = []
    for match in _RUNS.finditer(value):
        run = match.group()
        piece = run if match.lastgroup == "plain" else _UNSAFE_OR_BACKSLASH.sub(_escape, run)
        size = len(piece.encode("utf-8"))
        if size > budget:
            if match.lastgroup == "plain":
                out.append(piece.encode("utf-8")[:budget].decode("utf-8", "ignore"))
            break
        out.append(piece)
        budget -= size
    return "".join(out) + _CUT


def checked_text(value: str, what: str) -> str:
    """``value`` unchanged if it holds no character :func:`safe_text` would escape (other
    than a backslash); otherwise :class:`UnsafeTextError` naming ``what`` and the offset.

    For text from our own configuration, which we must write exactly as configured or not
    at all.
    """
    match = _UNSAFE.search(value)
    if match is not None:
        raise UnsafeTextError(what, match.start(), match.group())
    return value


__all__ = ["UnsafeTextError", "checked_text", "safe_text"]
