"""RFC 2047 encoded-words and the charsets the grammar writes text in.

An encoded-word (RFC 2047 §2) is ``=?charset?encoding?encoded-text?=``, at most 75
characters.  The grammar writes them in several charsets (UTF-8, ISO-8859-1/2/5/7/15,
windows-1252, KOI8-R, Shift_JIS, GB2312, Big5, EUC-KR), with the charset name in varied case
(§2: charset names are case-insensitive), in B and in Q, and splits a text over several
adjacent words only between characters (§5: a word must hold whole characters).
"""

from __future__ import annotations

import base64
import string

from harness.strategies.source import Source

#: Printable ASCII (RFC 5322 VCHAR) and the space.
PRINTABLE_ASCII = "".join(chr(c) for c in range(32, 127))

#: Non-ASCII characters from many scripts: Latin, Greek, Cyrillic, Hebrew, Arabic, CJK, kana,
#: Hangul, emoji and a combining mark.  The candidates every charset's alphabet is cut from.
NON_ASCII = (
    "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿßÀÉÖÜŒœŠšŽžŸŁłŃńŚśŹźŻżČčĚěŘřŮůŐőŰű€£¥©®°±µ¶·¼½¾¿¡"
    "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΩάέή"
    "абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГДЖЯЁёЄєІіЇї"
    "שלוםעברית"
    "مرحبابالعربية"
    "日本語漢字中文字體東京大阪"
    "あいうえおかきくけこアイウエオカタカナ"
    "한국어안녕하세요"
    "😀🎉🚀💌"
    "\u0301"
)

#: Charsets for encoded-words, RFC 2231 values and text bodies.
CHARSETS = (
    "utf-8",
    "iso-8859-1",
    "iso-8859-2",
    "iso-8859-5",
    "iso-8859-7",
    "iso-8859-15",
    "windows-1252",
    "koi8-r",
    "shift_jis",
    "gb2312",
    "big5",
    "euc-kr",
)


def _alphabet(charset: str) -> str:
    """The characters of :data:`NON_ASCII` that ``charset`` writes and reads back unchanged."""
    held = []
    for char in NON_ASCII:
        try:
            if char.encode(charset).decode(charset) == char:
                held.append(char)
        except UnicodeError:
            continue
    return "".join(held)


#: For each charset, the non-ASCII characters it holds (computed once, in a fixed order).
NON_ASCII_IN = {charset: _alphabet(charset) for charset in CHARSETS}

#: RFC 2047 §5(3): the characters that may stand for themselves in a Q word inside a phrase.
Q_PHRASE_SAFE = frozenset(string.ascii_letters + string.digits + "!*+-/")
#: RFC 2047 §4.2: in unstructured text, any printable ASCII but "=", "?", "_" and space.
Q_TEXT_SAFE = frozenset(c for c in PRINTABLE_ASCII if c not in "=?_ ")
MAX_WORD = 75


def charset_label(source: Source, charset: str) -> str:
    """A charset name as senders write it: lower, upper or mixed case (RFC 2047 §2)."""
    form = source.integer(0, 3)
    if form == 1:
        return charset.upper()
    if form == 2:
        return charset.title()
    return charset


def text_in(source: Source, charset: str, min_size: int, max_size: int) -> str:
    """Text that ``charset`` can hold: printable ASCII and the charset's own letters."""
    own = NON_ASCII_IN[charset]
    if not own or source.chance(4):
        return source.text(PRINTABLE_ASCII, min_size, max_size)
    return source.text(own + own + "abc xyz ", min_size, max_size)


def _q(raw: bytes, safe: frozenset[str], underscore: bool) -> str:
    out = []
    for byte in raw:
        char = chr(byte)
        if byte == 0x20 and underscore:
            out.append("_")
        elif char in safe:
            out.append(char)
        else:
            out.append(f"={byte:02X}")
    return "".join(out)


def encoded_words(
    source: Source, text: str, *, charset: str | None = None, phrase: bool = False
) -> list[str]:
    """``text`` as adjacent encoded-words (RFC 2047 §2, §4, §5), to be written separated by
    white space, which a reader drops between them (§6.2).

    One charset that holds the whole text is chosen (``charset`` if it does), then each word
    takes B or Q and as many
    whole characters as fit in 75 characters (or in a smaller random budget, so that splits
    fall in varied places).
    """
    source.seen["rfc2047:encoded-word"] = None
    if charset is None or not _holds(charset, text):
        charset = source.choice([c for c in CHARSETS if _holds(c, text)])
    label = charset_label(source, charset)
    safe = Q_PHRASE_SAFE if phrase else Q_TEXT_SAFE
    words: list[str] = []
    index = 0
    while index < len(text) or not words:
        b_form = source.boolean()
        if b_form:
            source.mark("rfc2047:b-encoding")
        else:
            source.mark("rfc2047:q-encoding")
        underscore = source.boolean()
        budget = source.choice([MAX_WORD, MAX_WORD, 30, 20])
        prefix = f"=?{label}?{'B' if b_form else 'Q'}?"
        room = budget - len(prefix) - 2
        end = index
        payload = ""
        while end < len(text):
            raw = text[index : end + 1].encode(charset)
            candidate = base64.b64encode(raw).decode() if b_form else _q(raw, safe, underscore)
            if len(candidate) > room and end > index:
                break
            payload = candidate
            end += 1
            if len(candidate) > room:  # one character that fills a word on its own
                break
        if source.boolean() and not b_form:
            prefix = prefix.replace("?Q?", "?q?")
        words.append(f"{prefix}{payload}?=")
        index = end
    return words


def _holds(charset: str, text: str) -> bool:
    try:
        return text.encode(charset).decode(charset) == text
    except UnicodeError:
        return False
