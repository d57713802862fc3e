"""Charset names to text and back, shared by encoded-words (RFC 2047) and parameters (RFC 2231).

Two decisions live here so that both codecs make them the same way:

* ``unknown-8bit`` (RFC 1428) carries bytes whose charset nobody knows.  Its ASCII bytes are
  ASCII; every byte from 0x80 up becomes the lone surrogate U+DC80..U+DCFF, exactly what
  ``surrogateescape`` makes of a stray 8-bit byte in a raw header.  So a header that arrived
  with undeclared 8-bit bytes decodes to a ``str`` with surrogates, encodes to
  ``=?unknown-8bit?...?=`` and decodes again to the very same ``str``.
* A charset Python does not know, or knows only as a bytes-to-bytes codec (``base64``,
  ``rot13``, ``zlib``...), is *unknown*: :func:`lookup` returns ``None``.  So are ``punycode``
  and ``idna``: they encode domain labels, not text, and CPython's punycode decoder takes time
  quadratic in its input (each character is inserted into a list), which a hostile body or
  encoded-word would pick.
"""

from __future__ import annotations

import codecs
from typing import TypeVar

_Piece = TypeVar("_Piece", str, bytes)

__all__ = [
    "UNKNOWN_8BIT",
    "decode_bytes",
    "decode_unknown_8bit",
    "encode_unknown_8bit",
    "is_escaped_byte",
    "lookup",
    "pack",
    "unescape_hex",
]

_HEX = frozenset(b"0123456789ABCDEFabcdef")

UNKNOWN_8BIT = "unknown-8bit"

_LABEL_CODECS = frozenset({"punycode", "idna"})


def lookup(name: str) -> str | None:
    """The Python codec name for a MIME charset name, or ``None`` if it is not a text charset.

    Python's codec registry already knows the common aliases (``utf8``, ``latin1``,
    ``iso_8859-1``, ``cp1252``...).  ``unknown-8bit`` is answered by name.
    """
    lowered = name.strip().lower()
    if lowered == UNKNOWN_8BIT:
        return UNKNOWN_8BIT
    if not lowered.isascii():
        return None
    try:
        info = codecs.lookup(lowered)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _LABEL_CODECS:
        return None
    return info.name


def decode_unknown_8bit(data: bytes) -> str:
    """Bytes of no known charset as text: ASCII as ASCII, 8-bit bytes as lone surrogates."""
    return data.decode("ascii", "surrogateescape")


def encode_unknown_8bit(text: str) -> bytes:
    """The inverse of :func:`decode_unknown_8bit`; raises ``UnicodeEncodeError`` otherwise."""
    return text.encode("ascii", "surrogateescape")


def decode_bytes(data: bytes, codec: str) -> tuple[str, bool]:
    """``data`` as text in ``codec`` (a name from :func:`lookup`), and whether it was valid.

    Invalid bytes become U+FFFD: a reader wants text, and the raw bytes are still in the
    lossless layer.  A codec that fails even then (a few exotic ones do) falls back to UTF-8
    with undecodable bytes kept as surrogates.
    """
    if codec == UNKNOWN_8BIT:
        return decode_unknown_8bit(data), True
    try:
        return data.decode(codec), True
    except (UnicodeError, ValueError):
        pass
    try:
        return data.decode(codec, "replace"), False
    except (UnicodeError, ValueError):
        return data.decode("utf-8", "surrogateescape"), False


def pack(pieces: list[_Piece], room: int, used: int = 0) -> list[list[_Piece]]:
    """Group ``pieces`` greedily into runs whose lengths add up to at most ``room``.

    A piece is never split: callers make each piece one character's encoding (a Q escape,
    a multibyte character's bytes, a percent-escape), which is how encoded-words and RFC 2231
    sections never cut a character in two.  ``used`` is what the first run already holds.
    A piece longer than ``room`` gets a run of its own.
    """
    runs: list[list[_Piece]] = [[]]
    size = used
    for piece in pieces:
        if runs[-1] and size + len(piece) > room:
            runs.append([])
            size = 0
        runs[-1].append(piece)
        size += len(piece)
    return runs


def is_escaped_byte(char: str) -> bool:
    """Whether ``char`` is a lone surrogate that ``surrogateescape`` made from a byte."""
    return "\udc80" <= char <= "\udcff"


def unescape_hex(data: bytes, marker: bytes) -> tuple[bytes, int]:
    """Replace ``marker`` + two hex digits by that byte (RFC 2047 Q ``=``, RFC 2231 ``%``).

    A marker not followed by two hex digits stays literal; how many did is returned so the
    caller can report it.  One split and one join: linear however many escapes there are.
    """
    if marker not in data:
        return data, 0
    chunks = data.split(marker)
    out = [chunks[0]]
    bad = 0
    for chunk in chunks[1:]:
        if len(chunk) >= 2 and chunk[0] in _HEX and chunk[1] in _HEX:
            out.append(bytes((int(chunk[:2], 16),)) + chunk[2:])
        else:
            bad += 1
            out.append(marker + chunk)
    return b"".join(out), bad
