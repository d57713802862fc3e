"""The charset helpers' contract: which names are text charsets, how ``pack`` groups pieces,
which characters are escaped bytes, and how hex escapes are undone.

Written for issue 18 from the mutants of stack/mime/fields/charset.py that no test noticed.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.fields.charset import (
    UNKNOWN_8BIT,
    decode_bytes,
    decode_unknown_8bit,
    encode_unknown_8bit,
    is_escaped_byte,
    lookup,
    pack,
    unescape_hex,
)


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("UTF-8", "utf-8"),
        ("  iso-8859-1\t", "iso8859-1"),
        (" Unknown-8BIT ", UNKNOWN_8BIT),
        ("latin1", "iso8859-1"),
    ],
)
def test_a_mime_charset_name_is_matched_without_case_or_surrounding_space(
    name: str, codec: str
) -> None:
    assert lookup(name) == codec


@pytest.mark.parametrize(
    "name", ["x-no-such-charset", "utf\x008", "ütf-8", "base64", "rot13", "punycode", "IDNA"]
)
def test_names_that_are_no_text_charset_are_unknown(name: str) -> None:
    assert lookup(name) is None


def test_unknown_8bit_bytes_are_ascii_and_escaped_bytes_both_ways() -> None:
    data = bytes(range(256))
    text = decode_unknown_8bit(data)
    assert text[:128] == data[:128].decode("ascii")
    assert all(is_escaped_byte(char) for char in text[128:])
    assert encode_unknown_8bit(text) == data
    assert decode_bytes(data, UNKNOWN_8BIT) == (text, True)


def test_bytes_invalid_for_their_charset_become_replacement_characters() -> None:
    assert decode_bytes(b"caf\xc3\xa9", "utf-8") == ("café", True)
    assert decode_bytes(b"caf\xe9", "utf-8") == ("caf\ufffd", False)


@pytest.mark.parametrize(
    ("char", "escaped"),
    [("\udc7f", False), ("\udc80", True), ("\udcc0", True), ("\udcff", True), ("\udd00", False)],
)
def test_only_the_surrogates_surrogateescape_makes_are_escaped_bytes(
    char: str, escaped: bool
) -> None:
    assert is_escaped_byte(char) is escaped


@given(
    st.lists(st.text(min_size=1, max_size=6), max_size=30),
    st.integers(1, 20),
    st.integers(0, 20),
)
def test_pack_groups_pieces_greedily_and_never_splits_one(
    pieces: list[str], room: int, used: int
) -> None:
    runs = pack(pieces, room, used)
    assert [piece for run in runs for piece in run] == pieces
    sizes = [sum(map(len, run)) for run in runs]
    sizes[0] += used
    for index, run in enumerate(runs):
        assert run or (index == 0 and not pieces)
        # A run is over the room only when it is one piece too long for any run.
        assert sizes[index] <= room or len(run) <= 1
        if index + 1 < len(runs):  # greedy: the next piece did not fit
            assert sizes[index] + len(runs[index + 1][0]) > room


@pytest.mark.parametrize(
    ("data", "marker", "expected", "bad"),
    [
        (b"caf=C3=A9", b"=", b"caf\xc3\xa9", 0),
        (b"50%25 off%2e", b"%", b"50% off.", 0),
        (b"=3d=3D", b"=", b"==", 0),
        (b"no escapes", b"=", b"no escapes", 0),
        (b"a=", b"=", b"a=", 1),
        (b"a=4", b"=", b"a=4", 1),
        (b"a=4G=G4=41", b"=", b"a=4G=G4A", 2),
        (b"==41", b"=", b"=A", 1),
    ],
)
def test_a_marker_without_two_hex_digits_stays_literal_and_is_counted(
    data: bytes, marker: bytes, expected: bytes, bad: int
) -> None:
    assert unescape_hex(data, marker) == (expected, bad)
