"""Charset names to text and back, shared by encoded-words (RFC 2047) and parameters (RFC 2231).

Two decisions live here so that both codecs make them the same way:

* ``unknown-8bit`` (RFC 1428) carries bytes whose charset nobody knows.  Its ASCII bytes are
  ASCII; every byte from 0x80 up becomes the lone surrogate U+DC80..U+DCFF, exactly what
  ``surrogateescape`` makes of a stray 8-bit byte in a raw header.  So a header that arrived
  with undeclared 8-bit bytes decodes to a ``str`` with surrogates, encodes to
  ``=?unknown-8bit?...?=`` and decodes again to the very same ``str``.
* A charset Python does not know, or knows only as a bytes-to-bytes codec (``base64``,
  ``rot13``, ``zlib``...), is *unknown*: :func:`lookup` returns ``None``.
"""

from __future__ import annotations

import codecs

__all__ = ["UNKNOWN_8BIT", "decode_unknown_8bit", "encode_unknown_8bit", "lookup"]

UNKNOWN_8BIT = "unknown-8bit"


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
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def decode_unknown_8bit(data: bytes) -> str:
    """Bytes of no known charset as text: ASCII as ASCII, 8-bit bytes as lone surrogates."""
    return data.decode("ascii", "surrogateescape")


def encode_unknown_8bit(text: str) -> bytes:
    """The inverse of :func:`decode_unknown_8bit`; raises ``UnicodeEncodeError`` otherwise."""
    return text.encode("ascii", "surrogateescape")


def is_escaped_byte(char: str) -> bool:
    """Whether ``char`` is a lone surrogate that ``surrogateescape`` made from a byte."""
    return "\udc80" <= char <= "\udcff"
