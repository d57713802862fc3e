"""Reading a server's reply into a result: the enhanced status code and one line of text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.strategies import hostile_text
from stack.smtp.client import MAX_TEXT, read_reply


def test_the_enhanced_code_comes_off_every_line_of_a_multiline_reply() -> None:
    # aiosmtplib hands over a multiline reply's texts joined with LF, codes removed.
    assert read_reply(550, "5.1.1 no such user\n5.1.1 try another") == (
        "5.1.1",
        "no such user try another",
    )


def test_a_reply_without_an_enhanced_code_keeps_its_text() -> None:
    assert read_reply(451, "try again later") == (None, "try again later")


def test_an_enhanced_code_of_another_class_than_the_reply_is_not_believed() -> None:
    # RFC 3463 section 2: the class digit of the enhanced code is the reply code's first.
    assert read_reply(250, "5.1.1 fine, really") == (None, "5.1.1 fine, really")


@given(
    code=st.sampled_from([0, 250, 421, 450, 451, 550, 554]),
    lines=st.lists(hostile_text(max_pieces=4), max_size=5),
)
def test_any_reply_text_becomes_one_bounded_line(code: int, lines: list[str]) -> None:
    enhanced, text = read_reply(code, "\n".join(lines))
    assert text.splitlines() == ([text] if text else [])
    assert len(text) <= MAX_TEXT
    assert enhanced is None or enhanced[0] == str(code)[0]


def test_a_reply_without_text_is_read_as_no_text() -> None:
    # RFC 5321 4.2: the text after the code is optional.
    assert read_reply(250, "") == (None, "")
