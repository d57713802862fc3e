"""atext (RFC 5322 §3.2.3, widened to UTF-8 by RFC 6532 §3.2) as the lexer spells it.

The lexer writes the class as its complement because that compiles in microseconds, where
the class written out costs milliseconds per use at import.  These tests pin that both
spellings mean the same characters.
"""

from __future__ import annotations

import re
import string
import sys

import pytest

from stack.mime.fields.lexer import ATEXT_CLASS, is_atext_word, read_atom

_ASCII_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"


def _is_atext(char: str) -> bool:
    # Every non-ASCII code point, lone surrogates included: a stray 8-bit byte decoded with
    # surrogateescape must not split a word.
    return char in _ASCII_ATEXT or ord(char) >= 0x80


def test_atext_class_matches_exactly_the_rfc_atext_over_every_code_point() -> None:
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    expected = "".join(char for char in every if _is_atext(char))
    assert "".join(re.findall(f"{ATEXT_CLASS}+", every)) == expected


@pytest.mark.parametrize("stop", list('()<>[]:;@\\,." \t\x00\x1f\x7f'))
def test_every_special_space_and_control_ends_an_atom(stop: str) -> None:
    assert read_atom(f"ab{stop}cd", 0) == ("ab", 2)
    assert not is_atext_word(f"ab{stop}cd")


@pytest.mark.parametrize("word", ["Jürgen", "日本語", "a\udcff", "\U0010ffff", "{|}~"])
def test_non_ascii_and_ascii_atext_make_one_word(word: str) -> None:
    assert read_atom(word, 0) == (word, len(word))
    assert is_atext_word(word)
