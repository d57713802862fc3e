"""The equality oracle allows exactly the differences it lists, each with its RFC reason."""

from __future__ import annotations

from hypothesis import given

from harness import iso
from harness.strategies import messages
from stack.mime import ContentType, Defect, Header, Mail, Parts, Text, decode, encode

PART = Mail((), Text("hi\n"))


def _multipart(boundary: str, subject: str = "s") -> Mail:
    return Mail(
        (
            Header("Subject", subject),
            Header("Content-Type", ContentType("multipart", "mixed", (("boundary", boundary),))),
        ),
        Parts((PART,)),
    )


def test_every_allowance_names_its_rfc_clause_and_reason() -> None:
    assert [a.name for a in iso.ALLOWED] == ["multipart boundary", "defects"]
    for allowance in iso.ALLOWED:
        assert allowance.clause.startswith("RFC ")
        assert len(allowance.reason) > 40


def test_a_new_boundary_is_an_allowed_difference() -> None:
    assert iso.equivalent(_multipart("one"), _multipart("two"))
    assert iso.difference(_multipart("one"), _multipart("two")) is None


def test_a_boundary_the_parts_contain_is_replaced_and_still_equivalent() -> None:
    unsafe = Mail(
        (Header("Content-Type", ContentType("multipart", "mixed", (("boundary", "x"),))),),
        Parts((Mail((), Text("--x\n")),)),
    )
    again = decode(encode(unsafe))
    assert again.content_type.boundary != "x"
    assert iso.equivalent(unsafe, again)


def test_defects_are_not_part_of_the_mail() -> None:
    with_defect = Mail((Header("Subject", "s"),), Text("x"), (Defect("obs-zone", 0, "EST"),))
    assert iso.equivalent(with_defect, Mail((Header("Subject", "s"),), Text("x")))


def test_any_other_difference_is_reported_with_where_it_is() -> None:
    found = iso.difference(_multipart("one", "Hello"), _multipart("one", "Hallo"))
    assert found is not None
    assert "Subject" in found


def test_a_different_part_count_is_not_equivalent() -> None:
    two = Mail(_multipart("b").headers, Parts((PART, PART)))
    assert not iso.equivalent(_multipart("b"), two)


@given(messages())
def test_the_stack_equality_agrees_with_the_oracle(mail: Mail) -> None:
    assert iso.stack_agrees(mail, decode(encode(mail)))
    assert iso.stack_agrees(mail, Mail(mail.headers[1:], mail.body))
    assert not iso.equivalent(mail, Mail(mail.headers[1:], mail.body))
