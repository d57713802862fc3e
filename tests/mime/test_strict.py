"""What strict mode means: what RFC 5322 and RFC 2045-2049 say a reader MUST accept, it
accepts (obsolete syntax included); what they say a message MUST NOT be, it refuses with a
ParseError naming the field, the byte and the section.  Lenient mode reads the same messages
and records the same violations as defects."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given

from harness.strategies import Entity, wire_messages
from stack.mime import DateTime, Malformed, ParseError, decode
from stack.mime.cli import mime

FROM = b"From: hamlet@castle.test\r\n"
DATE = b"Date: Thu, 1 Jan 2026 10:00:00 +0000\r\n"
HEAD = FROM + DATE


@pytest.mark.parametrize(
    ("data", "kinds"),
    [
        # RFC 5322 4.3: two-digit years and zone names.
        (FROM + b"Date: 1 Jan 99 10:00 EST\r\n\r\nhi\r\n", {"obs-year", "obs-zone"}),
        # 4.4: a source route, a dotted display name, CFWS around the dots of a local-part.
        (b"From: <@relay.test:hamlet@castle.test>\r\n" + DATE + b"\r\nhi\r\n", {"obs-route"}),
        (b"From: Mr. Hamlet <hamlet@castle.test>\r\n" + DATE + b"\r\n", {"obs-phrase"}),
        (b"From: hamlet . prince@castle.test\r\n" + DATE + b"\r\n", {"obs-local-part"}),
        # 4.5.4: phrases between the msg-ids of References; a quoted-string id-left.
        (
            HEAD + b"References: see <a@b.test> and <c@d.test>\r\n\r\n",
            {"obs-phrase-in-msg-id-list"},
        ),
        (HEAD + b'Message-ID: <"quoted"@castle.test>\r\n\r\n', {"obs-id-left"}),
    ],
    ids=["year-and-zone", "route", "dotted-phrase", "local-part-cfws", "references", "id-left"],
)
def test_obsolete_syntax_is_read_in_strict_mode_as_lenient_mode_reads_it(
    data: bytes, kinds: set[str]
) -> None:
    strict = decode(data, strict=True)
    lenient = decode(data)
    assert strict == lenient
    assert {defect.kind for defect in lenient.all_defects()} == kinds
    assert {defect.kind for defect in strict.all_defects()} == kinds


LONG = b"x" * 1200
EIGHT_BIT = HEAD + b"Subject: s\r\n\r\nna\xefve\r\n"

# (message, field named, byte offset, the section the reason cites)
VIOLATIONS = [
    pytest.param(b"", None, 0, "RFC 5322 3.6", id="empty"),
    pytest.param(DATE + b"\r\nhi\r\n", "From", len(DATE), "RFC 5322 3.6", id="no-from"),
    pytest.param(FROM + b"\r\nhi\r\n", "Date", len(FROM), "RFC 5322 3.6", id="no-date"),
    pytest.param(HEAD + FROM + b"\r\n", "From", len(HEAD), "RFC 5322 3.6", id="two-from"),
    pytest.param(HEAD + DATE + b"\r\n", "Date", len(HEAD), "RFC 5322 3.6", id="two-date"),
    pytest.param(
        HEAD + b"Subject: a\r\nSubject: b\r\n\r\n",
        "Subject",
        len(HEAD) + 12,
        "RFC 5322 3.6",
        id="two-subject",
    ),
    pytest.param(
        HEAD + b"Subject: " + LONG + b"\r\n\r\n",
        "Subject",
        len(HEAD),
        "RFC 5322 2.1.1",
        id="long-header-line",
    ),
    pytest.param(
        HEAD + b"\r\nshort\r\n" + LONG + b"\r\n",
        None,
        len(HEAD) + 9,
        "RFC 5322 2.1.1",
        id="long-body-line",
    ),
    pytest.param(
        EIGHT_BIT, None, EIGHT_BIT.index(b"\xef"), "RFC 2045 2.7", id="unlabelled-8bit-body"
    ),
    pytest.param(
        HEAD.replace(b"\r\n", b", ophelia@castle.test\r\n", 1) + b"\r\n",
        "From",
        0,
        "RFC 5322 3.6.2",
        id="two-authors-no-sender",
    ),
    pytest.param(
        b"Resent-To: horatio@castle.test\r\nResent-From: ophelia@castle.test\r\n" + HEAD + b"\r\n",
        "Resent-Date",
        0,
        "RFC 5322 3.6.6",
        id="resent-without-resent-date",
    ),
    pytest.param(
        HEAD + b"Sender: hamlet@castle.test, horatio@castle.test\r\n\r\n",
        "Sender",
        len(HEAD),
        "RFC 5322 3.6.2",
        id="sender-of-two",
    ),
]


@pytest.mark.parametrize(("data", "field", "offset", "section"), VIOLATIONS)
def test_strict_mode_refuses_what_rfc_5322_and_2045_forbid(
    data: bytes, field: str | None, offset: int, section: str
) -> None:
    with pytest.raises(ParseError) as caught:
        decode(data, strict=True)
    assert (caught.value.field, caught.value.offset) == (field, offset)
    assert section in caught.value.reason


@pytest.mark.parametrize(("data", "field", "offset", "section"), VIOLATIONS)
def test_lenient_mode_records_the_same_violations(
    data: bytes, field: str | None, offset: int, section: str
) -> None:
    found = [d for d in decode(data).all_defects() if section in d.detail]
    assert [(d.field, d.offset) for d in found][:1] == [(field, offset)]


def test_a_line_of_998_octets_is_allowed_and_one_of_999_is_not() -> None:
    head = HEAD + b"Subject: "
    decode(
        head + b"x" * (998 - len(b"Subject: ")) + b"\r\n\r\n" + b"y" * 998 + b"\r\n", strict=True
    )
    decode(head + b"s\r\n\r\n" + b"y" * 998, strict=True)  # no line break at the end
    with pytest.raises(ParseError, match=r"2\.1\.1"):
        decode(head + b"s\r\n\r\n" + b"y" * 999 + b"\r\n", strict=True)
    with pytest.raises(ParseError, match=r"2\.1\.1"):
        decode(head + b"s\r\n\r\n" + b"y" * 999, strict=True)


def test_lf_only_lines_are_counted_the_same_way() -> None:
    decode(HEAD.replace(b"\r\n", b"\n") + b"\n" + b"y" * 998 + b"\n", strict=True)
    with pytest.raises(ParseError, match=r"2\.1\.1"):
        decode(HEAD.replace(b"\r\n", b"\n") + b"\n" + b"y" * 999 + b"\n", strict=True)


def test_a_binary_body_may_have_long_lines_and_8bit_bytes() -> None:
    # RFC 2045 2.9: binary data has no line length limit (RFC 3030 carries it).
    head = HEAD + b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
    decode(head + b"\r\n" + b"\xff" * 5000, strict=True)


def test_an_8bit_label_allows_8bit_bytes() -> None:
    head = HEAD + b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    decode(head + b"\r\nna\xc3\xafve\r\n", strict=True)


def test_8bit_bytes_in_a_quoted_printable_body_are_refused() -> None:
    head = HEAD + b"Content-Transfer-Encoding: quoted-printable\r\n"
    with pytest.raises(ParseError, match=r"RFC 2045 6\.7"):
        decode(head + b"\r\nna\xefve\r\n", strict=True)


def test_mime_parts_need_no_from_or_date() -> None:
    data = HEAD + (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\n\r\npart one\r\n--b\r\nContent-Type: text/plain\r\n\r\npart two\r\n--b--\r\n"
    )
    assert len(decode(data, strict=True).body.parts) == 2  # type: ignore[union-attr]


def test_an_encapsulated_message_needs_from_subject_or_date() -> None:
    # RFC 2046 5.2.1 relaxes RFC 5322 3.6 for a message/rfc822 body: one of the three.
    head = HEAD + b"Content-Type: message/rfc822\r\n\r\n"
    decode(head + b"Subject: forwarded\r\n\r\nhi\r\n", strict=True)
    inner = b"X-Note: nothing else\r\n\r\nhi\r\n"
    with pytest.raises(ParseError, match=r"RFC 2046 5\.2\.1") as caught:
        decode(head + inner, strict=True)
    assert caught.value.offset == len(head) + len(b"X-Note: nothing else\r\n")


def test_several_authors_need_a_sender() -> None:
    authors = b"From: hamlet@castle.test, ophelia@castle.test\r\n"
    decode(authors + b"Sender: hamlet@castle.test\r\n" + DATE + b"\r\n", strict=True)


def test_resent_and_trace_fields_may_repeat() -> None:
    resent = b"Resent-Date: Fri, 2 Jan 2026 10:00:00 +0000\r\nResent-From: horatio@castle.test\r\n"
    received = b"Received: from a by b; Thu, 1 Jan 2026 10:00:00 +0000\r\n"
    decode(received * 2 + resent * 2 + HEAD + b"\r\n", strict=True)


# A malformed first Date and a good one later: the reader takes the good one.
TWO_DATES = FROM + b"Date: the day after tomorrow\r\n" + DATE + b"\r\nhi\r\n"


def test_lenient_mode_reads_the_first_readable_date() -> None:
    mail = decode(TWO_DATES)
    assert mail.get_all("date")[0] == Malformed("the day after tomorrow")
    assert mail.date == DateTime(2026, 1, 1, 10, 0, 0, 0)
    later = [d for d in mail.defects if d.kind == "later-date-read"]
    assert [(d.field, d.offset) for d in later] == [("Date", TWO_DATES.index(DATE))]


def test_strict_mode_refuses_the_malformed_first_date() -> None:
    with pytest.raises(ParseError) as caught:
        decode(TWO_DATES, strict=True)
    assert caught.value.field == "Date"
    assert len(FROM) < caught.value.offset < TWO_DATES.index(DATE)


def test_mail_date_is_none_without_a_readable_date() -> None:
    assert decode(FROM + b"Date: never\r\n\r\n").date is None
    assert decode(HEAD + b"\r\n").date == DateTime(2026, 1, 1, 10, 0, 0, 0)


def test_mime_check_strict_names_the_section_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "long.eml").write_bytes(HEAD + b"Subject: " + LONG + b"\r\n\r\n")
    (tmp_path / "good.eml").write_bytes(HEAD + b"Subject: s\r\n\r\nhi\r\n")
    result = CliRunner().invoke(mime, ["check", "--strict", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[-1] == "1 passed, 1 failed"
    [failure] = [line for line in lines if "FAIL" in line]
    assert f"Subject field, byte {len(HEAD)}: line-too-long: RFC 5322 2.1.1" in failure


@pytest.mark.parametrize("value", [b"", b" ", b" (undisclosed)"])
@pytest.mark.parametrize("name", [b"Bcc", b"Resent-Bcc"])
def test_an_empty_bcc_is_valid(name: bytes, value: bytes) -> None:
    # RFC 5322 3.6.3: bcc = "Bcc:" [address-list / CFWS]; Resent-Bcc likewise (3.6.6).
    resent = b"Resent-From: horatio@castle.test\r\nResent-Date: " + DATE[len(b"Date: ") :]
    head = resent + HEAD if name.startswith(b"Resent") else HEAD
    mail = decode(head + name + b":" + value + b"\r\n\r\n", strict=True)
    assert mail.get(name.decode()) == ()
    assert mail.defects == ()


def test_an_empty_to_is_not() -> None:
    with pytest.raises(ParseError) as caught:
        decode(HEAD + b"To:\r\n\r\n", strict=True)
    assert caught.value.field == "To"


# ../shared/notes/mime.md: where mrmime's users hit a wall, strict mode must not.
@pytest.mark.parametrize(
    "data",
    [
        # An empty MIME part (no header, no body) between two boundaries (RFC 2046 5.1.1).
        HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b--\r\n",
        # A type nobody registered is still a type (RFC 2045 5.1).
        HEAD + b"Content-Type: binary/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"AAEC\r\n",
        # LF-only line endings: mail at rest uses the host's.
        HEAD.replace(b"\r\n", b"\n") + b"Subject: s\n\nline one\nline two\n",
    ],
    ids=["empty-part", "unregistered-type", "lf-only"],
)
def test_what_other_codecs_refused_strict_mode_reads(data: bytes) -> None:
    assert decode(data, strict=True) == decode(data)


OUTLOOK_NAME = b'"=?iso-8859-1?Q?HasenundFr=F6sche=2Etxt?="'
OUTLOOK_ATTACHMENT = HEAD + (
    b"Content-Type: text/plain;\r\n\tname=" + OUTLOOK_NAME + b"\r\n"
    b"Content-Disposition: attachment;\r\n\tfilename=" + OUTLOOK_NAME + b"\r\n"
    b"\r\nhi\r\n"
)


def test_outlooks_encoded_file_name_is_read_leniently_and_refused_strictly(
    tmp_path: Path,
) -> None:
    mail = decode(OUTLOOK_ATTACHMENT)
    assert mail.filename == "HasenundFrösche.txt"
    assert {d.kind for d in mail.defects} == {"encoded-word-in-parameter"}
    with pytest.raises(ParseError, match="RFC 2047") as caught:
        decode(OUTLOOK_ATTACHMENT, strict=True)
    assert caught.value.field == "Content-Type"
    (tmp_path / "outlook.eml").write_bytes(OUTLOOK_ATTACHMENT)
    described = CliRunner().invoke(mime, ["descr", str(tmp_path / "outlook.eml")])
    assert '"HasenundFrösche.txt"' in described.output


@given(wire_messages())
def test_strict_mode_reads_every_message_the_grammar_writes(message: Entity) -> None:
    strict = decode(message.data, strict=True)
    assert strict == decode(message.data)
    assert all(defect.obsolete for defect in strict.all_defects())
