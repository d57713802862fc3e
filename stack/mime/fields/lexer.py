"""RFC 5322 §3.2 lexical tokens, shared by every structured field codec.

Every reader takes the unfolded field value and a position, and returns what it read together
with the position just after it.  Nothing here allocates per character on the hot path: runs
of ordinary characters are taken by simple character-class regular expressions (which cannot
backtrack), and only the rare characters (``\\``, parentheses, brackets) are handled one at a
time.  Nested comments are counted with an integer depth, never by recursion, so 10,000
nested ``(`` cost 10,000 steps and no stack.

Problems go through :func:`report`: with a ``defects`` list the problem is recorded and the
reader recovers; without one (strict mode) it raises :class:`ParseError` at once.
"""

from __future__ import annotations

import functools
import re

from stack.mime.errors import Defect, ParseError

__all__ = [
    "ATEXT_CLASS",
    "PLAIN_QTEXT",
    "TOKEN_CHARS",
    "check_controls",
    "check_text",
    "is_atext_word",
    "is_domain_literal",
    "is_dot_atom_text",
    "is_quotable",
    "is_text",
    "is_token",
    "quote_string",
    "read_atom",
    "read_domain_literal",
    "read_dot_atom",
    "read_dotted",
    "read_quoted_string",
    "read_token",
    "recover",
    "report",
    "skip_cfws",
    "skip_run",
    "skip_to",
    "skip_wsp",
]

# RFC 5322 §3.2.3 atext, widened by RFC 6532 §3.2 to every non-ASCII character.  Lone
# surrogates (stray 8-bit bytes that arrived through surrogateescape) are included so that a
# broken byte never splits a word; callers that care detect them separately.
#
# The class is spelled as its complement: every character but the ASCII controls, SPACE,
# DEL and the specials.  Spelled out (``A-Za-z0-9!#...~\x80-\U0010ffff``), every use cost the
# re compiler 2 ms, because it fills a 65,536-entry table one code point at a time; the fast
# mailbox pattern alone used it ten times, 25 ms of every program's start-up.  Both spellings
# match the same characters (a test compares them over every code point); the complement
# costs about 1 ns more per character matched, which decoding addresses does not show.
ATEXT_CLASS = r'[^\x00-\x20"(),.:;<>@\[\\\]\x7f]'
_ATEXT_RUN = re.compile(f"{ATEXT_CLASS}+")
_DOT_ATOM_TEXT = re.compile(f"{ATEXT_CLASS}+(?:\\.{ATEXT_CLASS}+)*+")

# RFC 2045 §5.1 token: any (ASCII) CHAR except SPACE, CTLs and tspecials.  RFC 6532 widens
# atext, qtext, ctext and dtext to UTF-8, but not MIME tokens.
TOKEN_CHARS = "!#$%&'*+\\-.0-9A-Z^_`a-z{|}~"
_TOKEN_RUN = re.compile(f"[{TOKEN_CHARS}]+")

_WSP_RUN = re.compile(r"[ \t]+")
# Inside a comment everything but the three characters that change the nesting or escape is
# skipped in one step (ctext and FWS, RFC 5322 §3.2.2; obs-ctext, §4.1).
_CTEXT_RUN = re.compile(r"[^()\\]+")
# qtext and FWS inside a quoted-string (RFC 5322 §3.2.4; obs-qtext, §4.1).
_QTEXT_RUN = re.compile(r'[^"\\]+')
# dtext inside a domain literal (RFC 5322 §3.4.1; obs-dtext, §4.4).
_DTEXT_RUN = re.compile(r"[^\[\]\\ \t]+")
# ASCII controls other than TAB: only the obs- productions (obs-qtext, obs-ctext, obs-dtext,
# obs-qp, obs-utext; RFC 5322 §4.1, §4.4) let them into a field.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# For fast paths: a run of quoted-string content that needs no unescaping and no report.
PLAIN_QTEXT = r'[^"\\\x00-\x08\x0a-\x1f\x7f]*+'


def check_text(text: str, defects: list[Defect] | None) -> None:
    """Report undecodable bytes: lone surrogates that ``surrogateescape`` made of 8-bit
    bytes that are not UTF-8.  No RFC allows them (RFC 6532 allows UTF-8 only); lenient
    decoders keep them, so that they can be written back (``unknown-8bit``) where possible.
    """
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        report(defects, "invalid-utf8", error.start, "8-bit bytes that are not UTF-8")


def check_controls(run: str, offset: int, defects: list[Defect] | None, kind: str) -> None:
    """Report an ASCII control character (other than TAB) in ``run`` as obs- syntax."""
    found = _CONTROL.search(run)
    if found is not None:
        report(defects, kind, offset + found.start(), f"control character {found.group()!r}")


def report(defects: list[Defect] | None, kind: str, offset: int, detail: str = "") -> None:
    """Record a recoverable problem, or raise it when the caller asked for strict parsing.

    Centralising the choice here keeps every production's recovery path identical: the
    strict decoder is exactly the lenient one that refuses to record anything.
    """
    if defects is None:
        raise ParseError(detail or kind.replace("-", " "), offset)
    defects.append(Defect(kind, offset, detail))


def skip_wsp(text: str, pos: int) -> int:
    """Skip spaces and tabs (WSP, RFC 5234 B.1); the value is already unfolded."""
    match = _WSP_RUN.match(text, pos)
    return match.end() if match else pos


def skip_cfws(text: str, pos: int, defects: list[Defect] | None) -> int:
    """Skip CFWS (RFC 5322 §3.2.2): white space and comments, which may nest.

    The nesting depth is a counter, so the cost is linear in the comment's length whatever
    its depth.  An unterminated comment swallows the rest of the value (there is nothing
    else it could mean) and is reported as ``unterminated-comment``; this is what stops
    ``alice@example.org(<bob@example.org>`` from ever yielding bob (CVE-2023-27043).
    """
    pos = skip_wsp(text, pos)
    if not text.startswith("(", pos):
        return pos  # the hot path: no comment here
    end = len(text)
    while pos < end:
        char = text[pos]
        if char in " \t":
            pos = skip_wsp(text, pos)
            continue
        if char != "(":
            return pos
        start = pos
        depth = 1
        pos += 1
        while depth and pos < end:
            char = text[pos]
            if char == "(":
                depth += 1
                pos += 1
            elif char == ")":
                depth -= 1
                pos += 1
            elif char == "\\":
                # quoted-pair (§3.2.1) or obs-qp (§4.1): the next character, whatever it is.
                check_controls(text[pos + 1 : pos + 2], pos + 1, defects, "obs-qp")
                pos += 2
            else:
                match = _CTEXT_RUN.match(text, pos)
                assert match is not None  # char is none of the three stop characters
                check_controls(match.group(), pos, defects, "obs-ctext")
                pos = match.end()
        if depth:
            report(defects, "unterminated-comment", start, "comment is never closed")
            return end
    return min(pos, end)


def skip_to(text: str, pos: int, stops: str) -> int:
    """The position of the next character in ``stops`` outside quotes, comments and literals.

    Only for recovering after an unreadable element: what is skipped was already reported,
    so problems met on the way are not reported again.
    """
    scratch: list[Defect] = []
    plain = _skip_pattern(stops)
    end = len(text)
    while pos < end:
        char = text[pos]
        if char in stops:
            return pos
        if char == '"':
            _, pos = read_quoted_string(text, pos, scratch)
        elif char == "(":
            pos = skip_cfws(text, pos, scratch)
        elif char == "[":
            _, pos = read_domain_literal(text, pos, scratch)
        else:
            match = plain.match(text, pos)
            pos = match.end() if match else pos + 1
    return end


@functools.cache
def _skip_pattern(stops: str) -> re.Pattern[str]:
    """A run of characters that :func:`skip_to` can pass over without looking at them."""
    return re.compile("[^" + re.escape(stops + '"([') + "]+")


def skip_run(text: str, pos: int, chars: str) -> int:
    """Skip every character in ``chars`` from ``pos`` on, in one regular-expression step."""
    match = _skip_run_pattern(chars).match(text, pos)
    return match.end() if match else pos


@functools.cache
def _skip_run_pattern(chars: str) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(chars)}]+")


def recover(
    error: ParseError, defects: list[Defect] | None, kind: str, text: str, resume: int, stops: str
) -> int:
    """Give up on one unreadable list element: strict mode re-raises ``error``; lenient mode
    records it as ``kind`` and returns where reading resumes (the next separator in
    ``stops`` from ``resume`` on), so one bad element never costs the rest of the list.
    """
    if defects is None:
        raise error
    defects.append(Defect(kind, error.offset, error.reason))
    return skip_to(text, resume, stops)


def read_atom(text: str, pos: int) -> tuple[str, int]:
    """Read the atext run of an atom (RFC 5322 §3.2.3) at ``pos``; ``""`` if there is none."""
    match = _ATEXT_RUN.match(text, pos)
    if match is None:
        return "", pos
    return match.group(), match.end()


def read_dot_atom(text: str, pos: int) -> tuple[str, int]:
    """Read dot-atom-text (RFC 5322 §3.2.3) at ``pos``; ``""`` if there is none.

    The pattern is possessive, so a trailing dot (``a.b.``) is left for the caller to see
    rather than retried character by character.
    """
    match = _DOT_ATOM_TEXT.match(text, pos)
    if match is None:
        return "", pos
    return match.group(), match.end()


def read_dotted(
    text: str, pos: int, defects: list[Defect] | None, obs_kind: str, what: str
) -> tuple[str, int]:
    """Read ``atom *("." atom)`` at ``pos`` and the CFWS after it.

    CFWS around a dot is obsolete syntax (obs-domain §4.4, obs-id-right §4.5.4): it is
    allowed, dropped from the value, and reported once as ``obs_kind``.
    """
    labels: list[str] = []
    start = pos
    obsolete = False
    while True:
        label, after = read_atom(text, pos)
        if not label:
            raise ParseError(f"expected {what}", pos)
        labels.append(label)
        pos = skip_cfws(text, after, defects)
        if not text.startswith(".", pos):
            break
        dot = pos
        pos = skip_cfws(text, dot + 1, defects)
        obsolete = obsolete or dot != after or pos != dot + 1
    if obsolete:
        report(defects, obs_kind, start, f"CFWS around '.' in {what}")
    return ".".join(labels), pos


def read_token(text: str, pos: int) -> tuple[str, int]:
    """Read an RFC 2045 §5.1 token at ``pos``; ``""`` if there is none."""
    match = _TOKEN_RUN.match(text, pos)
    if match is None:
        return "", pos
    return match.group(), match.end()


def read_quoted_string(text: str, pos: int, defects: list[Defect] | None) -> tuple[str, int]:
    """Read a quoted-string (RFC 5322 §3.2.4) whose opening ``"`` is at ``pos``.

    The value is returned unquoted: quoted-pairs lose their backslash and white space inside
    the quotes is kept, since after unfolding it is part of the value.  An unterminated
    string runs to the end of the value (``To: "`` no longer crashes anyone).
    """
    start = pos
    pos += 1
    end = len(text)
    pieces: list[str] = []
    while pos < end:
        char = text[pos]
        if char == '"':
            return "".join(pieces), pos + 1
        if char == "\\":
            if pos + 1 >= end:
                report(defects, "unterminated-quoted-pair", pos, "backslash at end of value")
                pos += 1
                break
            # quoted-pair (§3.2.1); obs-qp (§4.1) also allows NUL and controls.
            check_controls(text[pos + 1], pos + 1, defects, "obs-qp")
            pieces.append(text[pos + 1])
            pos += 2
            continue
        match = _QTEXT_RUN.match(text, pos)
        assert match is not None  # char is neither '"' nor '\\'
        check_controls(match.group(), pos, defects, "obs-qtext")
        pieces.append(match.group())
        pos = match.end()
    report(defects, "unterminated-quoted-string", start, "quoted-string is never closed")
    return "".join(pieces), end


def read_domain_literal(text: str, pos: int, defects: list[Defect] | None) -> tuple[str, int]:
    """Read a domain-literal (RFC 5322 §3.4.1) whose ``[`` is at ``pos``, brackets included.

    White space inside the brackets is folding, not content, so it is dropped; an obs-dtext
    quoted-pair (§4.4) loses its backslash and is reported.
    """
    start = pos
    pos += 1
    end = len(text)
    pieces = ["["]
    while pos < end:
        char = text[pos]
        if char == "]":
            pieces.append("]")
            return "".join(pieces), pos + 1
        if char in " \t":
            pos = skip_wsp(text, pos)
        elif char == "\\" and pos + 1 < end:
            report(defects, "obs-dtext", pos, "quoted-pair inside a domain literal")
            pieces.append(text[pos + 1])
            pos += 2
        elif char in "[\\":
            report(defects, "invalid-domain-literal", pos, f"unexpected {char!r}")
            pos += 1
        else:
            match = _DTEXT_RUN.match(text, pos)
            assert match is not None
            check_controls(match.group(), pos, defects, "obs-dtext")
            pieces.append(match.group())
            pos = match.end()
    report(defects, "unterminated-domain-literal", start, "domain literal is never closed")
    pieces.append("]")
    return "".join(pieces), end


def is_atext_word(word: str) -> bool:
    """Whether ``word`` is one non-empty run of atext, writable as a bare atom."""
    return _ATEXT_RUN.fullmatch(word) is not None


def is_dot_atom_text(value: str) -> bool:
    """Whether ``value`` is dot-atom-text (RFC 5322 §3.2.3), writable without quotes."""
    return _DOT_ATOM_TEXT.fullmatch(value) is not None


def is_domain_literal(value: str) -> bool:
    """Whether ``value`` is ``[`` dtext* ``]`` (RFC 5322 §3.4.1), writable as it is."""
    inner = value[1:-1]
    return (
        value[:1] == "["
        and value[-1:] == "]"
        and is_quotable(inner)
        and not any(char in "[]\\ \t" for char in inner)
    )


def is_quotable(value: str) -> bool:
    """Whether ``value`` can sit in a quoted-string or literal without obs- syntax.

    That is any UTF-8 text (RFC 6532) without ASCII controls; TAB is white space.
    """
    return is_text(value) and _CONTROL.search(value) is None


def is_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8, i.e. holds no lone surrogate."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_token(value: str) -> bool:
    """Whether ``value`` is an RFC 2045 token, writable as a bare parameter value."""
    return _TOKEN_RUN.fullmatch(value) is not None


def quote_string(value: str) -> str:
    """Write ``value`` as a quoted-string, escaping only ``\\`` and ``"`` (RFC 5322 §3.2.4).

    The caller guarantees that ``value`` holds no CR, LF or other control character: those
    would need obs-qp, which a conformant encoder never writes.
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
