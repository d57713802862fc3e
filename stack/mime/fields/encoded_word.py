"""RFC 2047 encoded-words: unstructured text (Subject:, Comments:...) and display-name phrases.

Decoding follows RFC 2047 §6: an encoded-word is recognised only as a whole white-space
delimited word (§5(1)); white space between two adjacent encoded-words is dropped (§6.2),
while white space between an encoded-word and plain text is kept.  The RFC 2231 §5 language
suffix (``=?utf-8*en?q?...?=``) is accepted and dropped: it tags the text, it is not text.

Decisions, so that ``decode_unstructured(encode_unstructured(s)) == s`` holds for every ``s``:

* Leading and trailing white space of a field value is syntax (the space after the colon,
  RFC 5322 §3.2.2 FWS), not value: the decoder strips it, and the encoder puts any white
  space that belongs to the value inside an encoded-word, where unfolding cannot touch it.
* A word is written plain only if it is printable ASCII, at most 75 characters, and does not
  contain ``=?`` (which a reader could take for an encoded-word).  Everything else, including
  TAB, CR and LF (so no header injection, CVE-2024-6923) and runs of spaces, is encoded.
* Encoded text is UTF-8, in Q or B, whichever is shorter; a word never exceeds 75 characters
  (§2) and never splits a multibyte character.
* Lone surrogates U+DC80..U+DCFF (undeclared 8-bit bytes kept by ``surrogateescape``) are
  written in ``=?unknown-8bit?...?=`` words and decode back to the same surrogates.  Any other
  surrogate is not text and raises :class:`EncodeError`.
* An unknown charset leaves the word literal (``unknown-charset`` defect).  Bytes invalid for a
  known charset decode with U+FFFD replacement characters (``invalid-encoded-word-bytes``):
  the reader wants text, and the raw field is still in the lossless layer.
* Glued encoded-words without white space between them (``=?a?q?x?==?a?q?y?=``), a common
  producer bug, are decoded and reported (``encoded-word-not-delimited``).
"""

from __future__ import annotations

import base64
import binascii
import re

from stack.mime.errors import Defect, EncodeError
from stack.mime.fields.charset import (
    UNKNOWN_8BIT,
    decode_bytes,
    is_escaped_byte,
    lookup,
    pack,
    unescape_hex,
)
from stack.mime.fields.lexer import (
    check_controls,
    check_text,
    is_atext_word,
    quote_string,
    report,
)

__all__ = [
    "ENCODED_WORD",
    "decode_encoded_words",
    "decode_unstructured",
    "decode_words",
    "encode_phrase",
    "encode_unstructured",
    "encode_words",
]

# RFC 2047 §2: "=?" charset ["*" language] "?" encoding "?" encoded-text "?=".  Each part is a
# run of a character class that excludes its own delimiter, so a match attempt never
# backtracks further than the next "?".
ENCODED_WORD = re.compile(r"=\?([^?*\s]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?\s]*)\?=")
_WORDS = re.compile(r"[ \t]+|[^ \t]+")
_B_TEXT = re.compile(r"[A-Za-z0-9+/]*")

# RFC 2047 §5(3): the characters that may stand for themselves in a Q-encoded word in a
# phrase.  Using the strictest set everywhere means one encoder serves every context.
_Q_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_MAX_WORD = 75  # RFC 2047 §2
_MAX_PLAIN = 75  # a longer plain word could not be folded, so it is encoded instead


def _q_decode(payload: str, defects: list[Defect] | None, offset: int) -> bytes:
    """RFC 2047 §4.2: ``_`` is a space, ``=XX`` a byte; a stray ``=`` stays literal."""
    data, bad = unescape_hex(payload.encode("utf-8", "surrogateescape").replace(b"_", b" "), b"=")
    if bad:
        report(defects, "invalid-q-escape", offset, "'=' not followed by two hex digits")
    return data


def _b_decode(payload: str, defects: list[Defect] | None, offset: int) -> bytes | None:
    """RFC 2047 §4.1 base64; missing padding is repaired and reported."""
    body = payload.rstrip("=")
    if _B_TEXT.fullmatch(body) is None or len(body) % 4 == 1:
        report(defects, "invalid-base64", offset, "encoded-word is not valid base64")
        return None
    padded = body + "=" * (-len(body) % 4)
    if padded != payload:
        report(defects, "invalid-base64-padding", offset, "encoded-word has wrong padding")
    try:
        return base64.b64decode(padded, validate=True)
    except binascii.Error:  # pragma: no cover - the pattern above already rules this out
        report(defects, "invalid-base64", offset, "encoded-word is not valid base64")
        return None


def _decode_one(match: re.Match[str], defects: list[Defect] | None, offset: int) -> str | None:
    """The text of one encoded-word, or ``None`` if it must stay literal."""
    charset, encoding, payload = match.groups()
    codec = lookup(charset)
    if codec is None:
        report(defects, "unknown-charset", offset, f"unknown charset {charset!r}")
        return None
    data = (
        _q_decode(payload, defects, offset)
        if encoding in "Qq"
        else _b_decode(payload, defects, offset)
    )
    if data is None:
        return None
    text, valid = decode_bytes(data, codec)
    if not valid:
        report(defects, "invalid-encoded-word-bytes", offset, f"bytes invalid for {charset!r}")
    return text


def decode_encoded_words(word: str, defects: list[Defect] | None, offset: int = 0) -> str | None:
    """Decode ``word`` if the whole of it is one encoded-word (or several glued together).

    Returns ``None`` when ``word`` is plain text, or when an encoded-word in it must stay
    literal (unknown charset, bad base64): then the whole word is left as written.
    """
    if not word.startswith("=?") or not word.endswith("?="):
        return None
    match = ENCODED_WORD.fullmatch(word)
    if match is not None:
        return _decode_one(match, defects, offset)
    pieces: list[str] = []
    pos = 0
    for match in ENCODED_WORD.finditer(word):
        if match.start() != pos:
            return None
        pieces.append(match.group())
        pos = match.end()
    if pos != len(word):
        return None
    report(defects, "encoded-word-not-delimited", offset, "encoded-words without white space")
    decoded: list[str] = []
    start = 0
    for piece in pieces:
        one = ENCODED_WORD.fullmatch(piece)
        assert one is not None
        text = _decode_one(one, defects, offset + start)
        if text is None:
            return None
        decoded.append(text)
        start += len(piece)
    return "".join(decoded)


def decode_unstructured(text: str, defects: list[Defect] | None = None) -> str:
    """Decode an unstructured field value (RFC 5322 §3.2.5) with its RFC 2047 encoded-words."""
    check_text(text, defects)
    stripped = text.strip(" \t")
    base = len(text) - len(text.lstrip(" \t"))
    check_controls(stripped, base, defects, "obs-utext")
    return decode_words(stripped, defects, base)


def decode_words(text: str, defects: list[Defect] | None, offset: int = 0) -> str:
    """``text`` with every white-space delimited encoded-word in it decoded (RFC 2047 §6.2:
    the white space between two adjacent encoded-words goes, the rest stays)."""
    if "=?" not in text:
        return text
    out: list[str] = []
    pending = ""
    after_word = False
    for match in _WORDS.finditer(text):
        token = match.group()
        if token[0] in " \t":
            pending = token
            continue
        decoded = decode_encoded_words(token, defects, offset + match.start())
        if decoded is None:
            out.append(pending)
            out.append(token)
            after_word = False
        else:
            if not after_word:
                out.append(pending)
            out.append(decoded)
            after_word = True
        pending = ""
    # White space after the last word is text as well: a quoted parameter value hands it over.
    out.append(pending)
    return "".join(out)


def _q_char(char: str, raw: bytes) -> str:
    if char in _Q_SAFE:
        return char
    if char == " ":
        return "_"
    return "".join(f"={byte:02X}" for byte in raw)


def _encode_run(run: str, charset: str) -> list[str]:
    """Encoded-words for ``run`` in ``charset``, Q or B by length, each at most 75 chars."""
    if charset == UNKNOWN_8BIT:
        raws = [char.encode("ascii", "surrogateescape") for char in run]
    else:
        raws = [char.encode("utf-8") for char in run]
    q_forms = [_q_char(char, raw) for char, raw in zip(run, raws, strict=True)]
    q_length = sum(map(len, q_forms))
    b_length = 4 * -(-sum(map(len, raws)) // 3)
    room = _MAX_WORD - len(f"=?{charset}?q??=")
    if q_length <= b_length:
        return [f"=?{charset}?q?{''.join(run)}?=" for run in pack(q_forms, room)]
    return [
        f"=?{charset}?b?{base64.b64encode(b''.join(run)).decode()}?="
        for run in pack(raws, room // 4 * 3)
    ]


def encode_words(text: str) -> list[str]:
    """``text`` as a list of encoded-words to be written separated by single spaces.

    ASCII text with escaped 8-bit bytes (an undeclared legacy header) goes into
    ``unknown-8bit`` words; otherwise runs of escaped bytes go into ``unknown-8bit`` words and
    the rest into UTF-8 words.  Adjacent encoded-words lose the space between them on
    decoding, so the list decodes back to exactly ``text``.
    """
    escaped = [is_escaped_byte(char) for char in text]
    if any(escaped) and all(c.isascii() or e for c, e in zip(text, escaped, strict=True)):
        return _encode_run(text, UNKNOWN_8BIT)
    words: list[str] = []
    start = 0
    for index in range(1, len(text) + 1):
        if index < len(text) and escaped[index] == escaped[start]:
            continue
        run = text[start:index]
        if escaped[start]:
            words.extend(_encode_run(run, UNKNOWN_8BIT))
        else:
            try:
                run.encode("utf-8")
            except UnicodeEncodeError as error:
                raise EncodeError(
                    f"surrogate U+{ord(run[error.start]):04X} is not text and cannot be encoded"
                ) from None
            words.extend(_encode_run(run, "utf-8"))
        start = index
    return words


def _is_plain(word: str) -> bool:
    return (
        0 < len(word) <= _MAX_PLAIN and word.isascii() and word.isprintable() and "=?" not in word
    )


def encode_unstructured(value: str) -> str:
    """Write ``value`` as unstructured text on one line: plain words, encoded where needed."""
    parts = value.split(" ")
    needs = [not _is_plain(part) for part in parts]
    last = len(parts) - 1
    for index, part in enumerate(parts):
        # An empty part is an extra space; it survives only inside an encoded-word, so it
        # pulls a neighbour into one.
        if not part and last:
            needs[index + 1 if index < last else index - 1] = True
    out: list[str] = []
    index = 0
    while index <= last:
        if not needs[index]:
            out.append(parts[index])
            index += 1
            continue
        end = index
        while end + 1 <= last and needs[end + 1]:
            end += 1
        out.extend(encode_words(" ".join(parts[index : end + 1])))
        index = end + 1
    return " ".join(out)


def encode_phrase(value: str) -> str:
    """Write a display name (RFC 5322 §3.2.5 phrase) so that it reads back as ``value``.

    Bare atoms when every word is atext; a quoted-string when the name is printable ASCII
    (so a ``,`` or ``@`` in a name is always inside quotes, gh-80222/gh-121284); encoded-words
    otherwise (RFC 2047 §5(3)), which a phrase decoder joins without the separating spaces.
    Encoded-words are also used when a word would be too long to fold (over 75 characters).
    """
    words = value.split(" ")
    if value.isascii() and all(len(word) <= _MAX_PLAIN - 2 for word in words):
        if all(is_atext_word(word) and "=?" not in word for word in words):
            return value
        if value.isprintable():
            return quote_string(value)
    return " ".join(encode_words(value))
