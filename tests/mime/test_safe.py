"""``safe_text`` turns any text into one printable line that can be undone; ``checked_text``
lets configured values through unchanged or names the setting and the offending offset."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.strategies.hostile import hostile_text
from stack.errors import ElsinoreError
from stack.mime import EncodeError, Field, parse
from stack.mime.safe import UnsafeTextError, checked_text, safe_text

_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _unescape(text: str) -> str:
    """The inverse of safe_text, written from its documented escapes."""

    def one(match: re.Match[str]) -> str:
        escape = match.group()
        if escape == "\\\\":
            return "\\"
        code = int(escape[2:], 16)
        if escape[1] == "x" and code >= 0x80:
            return chr(0xDC00 + code)  # a byte kept by surrogateescape
        return chr(code)

    return re.sub(r"\\\\|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}", one, text)


@given(hostile_text())
def test_safe_text_is_one_printable_line(value: str) -> None:
    text = safe_text(value)
    assert _FORBIDDEN.search(text) is None, repr(text)
    assert text.splitlines() in ([text], [])
    text.encode("utf-8")  # no lone surrogate left to make encoding raise


@given(hostile_text())
def test_safe_text_can_be_undone(value: str) -> None:
    assert _unescape(safe_text(value)) == value


@given(hostile_text())
def test_a_field_built_from_safe_text_is_one_field(value: str) -> None:
    message = parse(b"Subject: hi\r\n\r\nbody\r\n")
    message.prepend("X-Test", safe_text(value)[:900])
    again = parse(bytes(message))
    assert [field.name for field in again.fields if field.is_field] == ["X-Test", "Subject"]
    assert again.body_bytes() == b"body\r\n"


@given(hostile_text(), st.integers(4, 1200))
def test_a_limited_value_fits_and_is_cut_between_escapes(value: str, limit: int) -> None:
    whole, text = safe_text(value), safe_text(value, limit=limit)
    assert len(text.encode("utf-8")) <= limit
    if len(whole.encode("utf-8")) <= limit:
        assert text == whole
    else:
        assert text.endswith("\\...") and whole.startswith(text[:-4])
        # Read left to right, the mark is a backslash that starts no escape.
        assert _unescape(text[:-4]) == value[: len(_unescape(text[:-4]))]


def test_a_limit_too_small_for_the_cut_mark_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="no room"):
        safe_text("abcdef", limit=3)


def test_an_injected_field_becomes_visible_escapes() -> None:
    assert safe_text("a@castle.test\r\nX-Injected: yes") == "a@castle.test\\x0d\\x0aX-Injected: yes"
    assert safe_text("nul\0tab\tdel\x7fnel\x85ls\u2028") == (
        "nul\\x00tab\\x09del\\x7fnel\\u0085ls\\u2028"
    )


def test_a_stray_byte_is_written_as_its_byte_value() -> None:
    hostile = b"s\xe9l".decode("utf-8", "surrogateescape")
    assert safe_text(hostile) == "s\\xe9l"


def test_a_backslash_is_doubled_so_escapes_are_not_ambiguous() -> None:
    assert safe_text("\\x0d") == "\\\\x0d"
    assert safe_text("\r") == "\\x0d"


def test_ordinary_text_is_returned_as_it_is() -> None:
    for value in ("mx.castle.test", "a+b@castle.test", "sél", "été à Paris", ""):
        assert safe_text(value) is value


@given(st.text())
def test_checked_text_refuses_exactly_what_safe_text_escapes(value: str) -> None:
    unsafe = _FORBIDDEN.search(value)
    if unsafe is None:
        assert checked_text(value, "selector") is value
    else:
        with pytest.raises(UnsafeTextError) as caught:
            checked_text(value, "selector")
        assert caught.value.offset == unsafe.start()


def test_checked_text_names_the_setting_and_the_offset() -> None:
    with pytest.raises(ElsinoreError) as caught:
        checked_text("castle.test\r\nX: y", "authserv-id")
    assert isinstance(caught.value, UnsafeTextError)
    assert str(caught.value).startswith("authserv-id: CR (U+000D) at character 11;")
    assert "\n" not in str(caught.value)


def test_checked_text_keeps_a_backslash() -> None:
    assert checked_text("a\\b", "receiver") == "a\\b"


def test_field_build_still_refuses_a_raw_line_break() -> None:
    with pytest.raises(ElsinoreError):
        Field.build("X-Test", "a\r\nX-Injected: yes")


@pytest.mark.parametrize("value", ["a\0b", "a\x85b", "a\u2028b", "a\x1bb", "a\udcffb"])
def test_a_field_is_never_built_with_a_nul_or_control_character(value: str) -> None:
    # Every builder goes through Field.build: the last guard for values nobody escaped.
    with pytest.raises(UnsafeTextError) as caught:
        parse(b"X: y\r\n\r\n").prepend("X-Test", value)
    assert caught.value.offset == 1


def test_a_field_may_still_be_folded_and_hold_tabs() -> None:
    field = Field.build("X-Test", "a\tb\r\n\tc")
    assert bytes(field) == b"X-Test: a\tb\r\n\tc\r\n"


def test_a_field_line_over_998_octets_is_refused() -> None:
    # RFC 5322 2.1.1: a line MUST NOT pass 998 octets; an unbroken value cannot be folded.
    Field.build("X-Test", "x" * 990)  # 998 octets with the name, colon and space
    with pytest.raises(EncodeError, match="998"):
        Field.build("X-Test", "x" * 991)
    with pytest.raises(EncodeError, match="998"):
        Field.build("X-Test", "short\r\n " + "é" * 500)
