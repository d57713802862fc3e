"""Marking adds two fields above the message and changes no other byte, for any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.strategies import wire_messages
from harness.strategies.mime import Entity
from stack.mime.safe import UnsafeTextError
from stack.spam.mark import mark
from stack.spam.tokenizer import tokenize
from stack.spam.verdict import Score, Verdict

SCORE = Score(Verdict.YES, 0.99871, (("cash", 0.99),))


def _split_marked(marked: bytes) -> tuple[bytes, bytes, bytes]:
    newline = b"\r\n" if marked.split(b"\n", 1)[0].endswith(b"\r") else b"\n"
    first, second, rest = marked.split(newline, 2)
    return first, second, rest


def test_the_fields_say_verdict_score_classifier_and_words() -> None:
    first, second, rest = _split_marked(mark(b"Subject: x\r\n\r\nbody\r\n", SCORE, "fisher"))
    assert first == b"X-Spamtacus: yes"
    assert second == b"X-Spamtacus-Score: 0.9987 (fisher; 1 word)"
    assert rest == b"Subject: x\r\n\r\nbody\r\n"


@settings(max_examples=30, deadline=None)
@given(wire_messages())
def test_marking_a_valid_message_keeps_every_original_byte(entity: Entity) -> None:
    _, _, rest = _split_marked(mark(entity.data, SCORE, "fisher"))
    assert rest == entity.data


@settings(max_examples=30, deadline=None)
@given(wire_messages())
def test_every_valid_message_tokenizes_to_storable_tokens(entity: Entity) -> None:
    for token in tokenize(entity.data):
        token.encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=500) | st.builds(bytes.__add__, st.just(b"From "), st.binary()))
def test_marking_any_bytes_inserts_two_whole_lines_and_nothing_else(data: bytes) -> None:
    marked = mark(data, SCORE, "graham")
    start = marked.find(b"X-Spamtacus: yes")
    assert start == 0 or marked[start - 1 : start] == b"\n"
    end = marked.index(b")", marked.index(b"X-Spamtacus-Score: ", start)) + 1
    end += 2 if marked[end : end + 2] == b"\r\n" else 1
    assert marked[:start] + marked[end:] == data


def test_an_unterminated_from_line_is_not_glued_to_the_new_fields() -> None:
    marked = mark(b"From ", SCORE, "graham")
    assert marked.startswith(b"X-Spamtacus: yes")
    assert marked.endswith(b"\nFrom ")


def test_a_classifier_name_with_a_line_break_is_refused_by_name() -> None:
    with pytest.raises(UnsafeTextError, match=r"^classifier: CR"):
        mark(b"Subject: x\r\n\r\nbody\r\n", SCORE, "fisher\r\nX-Injected: yes")
