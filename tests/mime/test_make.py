"""``elsinore make``: a message it composes is valid RFC 5322/MIME whatever bytes the body is,
or the command says in one line what is missing."""

from __future__ import annotations

import codecs
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import example, given
from hypothesis import strategies as st

from harness.strategies.grammar.mime import BODY_CHARSETS
from stack.cli import cli
from stack.errors import ElsinoreError
from stack.mime import ContentType, Data, Mail, Mailbox, MessageId, Parts, Text, decode

SENDER = ["--from", "Hamlet <hamlet@castle.test>", "--to", "ophelia@castle.test"]


def _make(args: list[str], body: bytes = b"") -> Result:
    return CliRunner().invoke(cli(), ["make", *args], input=body)


def _made(args: list[str], body: bytes = b"") -> Mail:
    """The message ``make`` writes, decoded in strict mode (any defect raises)."""
    result = _make(args, body)
    assert result.exit_code == 0, result.exception
    return decode(result.stdout_bytes, strict=True)


def _refused(args: list[str], body: bytes = b"") -> str:
    result = _make(args, body)
    assert isinstance(result.exception, ElsinoreError), result.exception
    return str(result.exception)


def _console(args: list[str], body: bytes) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-c", "from harness.cli import main; main()", "make", *args]
    return subprocess.run(command, input=body, capture_output=True, check=False)


def _canonical(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _written(mail: Mail) -> bytes:
    """A decoded text body back in its declared charset, with CRLF line breaks."""
    assert isinstance(mail.body, Text)
    charset = mail.content_type.param("charset")
    assert charset is not None
    return mail.body.text.replace("\n", "\r\n").encode(charset)


def test_a_latin1_body_without_charset_is_one_line_that_asks_for_it() -> None:
    proc = _console(SENDER, b"caf\xe9\n")
    assert proc.returncode == 1
    assert proc.stdout == b""
    err = proc.stderr.decode()
    assert err.startswith("elsinore: error: the body is not UTF-8 (byte 3 is 0xe9)"), err
    assert "--charset" in err
    assert err.count("\n") == 1


def test_a_latin1_body_with_its_charset_is_labelled_8bit_and_read_back() -> None:
    mail = _made([*SENDER, "--charset", "iso-8859-1"], b"caf\xe9\n")
    assert mail.content_type == ContentType("text", "plain", (("charset", "iso-8859-1"),))
    assert mail.transfer_encoding == "8bit"
    assert mail.body == Text("caf\u00e9\n")


def test_an_ascii_body_is_us_ascii_7bit_and_a_utf8_body_is_utf8_8bit() -> None:
    ascii_mail = _made(SENDER, b"To be, or not to be\n")
    assert ascii_mail.content_type.param("charset") == "us-ascii"
    assert ascii_mail.transfer_encoding == "7bit"
    utf8_mail = _made(SENDER, "caf\u00e9\n".encode())
    assert utf8_mail.content_type.param("charset") == "utf-8"
    assert utf8_mail.transfer_encoding == "8bit"
    assert utf8_mail.body == Text("caf\u00e9\n")


def test_a_forced_transfer_encoding_keeps_the_charset() -> None:
    mail = _made([*SENDER, "--charset", "latin1", "--encoding", "quoted-printable"], b"\xe9\n")
    assert mail.transfer_encoding == "quoted-printable"
    assert mail.body == Text("\u00e9\n")


def test_a_binary_body_as_text_asks_for_its_charset() -> None:
    reason = _refused(SENDER, bytes(range(256)))
    assert reason.startswith("the body is not UTF-8 (byte 128 is 0x80)")


def test_a_binary_body_of_a_non_text_type_travels_as_base64() -> None:
    data = bytes(range(256)) * 3
    mail = _made([*SENDER, "--type", "application/octet-stream"], data)
    assert mail.content_type == ContentType("application", "octet-stream", ())
    assert mail.transfer_encoding == "base64"
    assert mail.body == Data(data)


def test_bytes_the_named_charset_cannot_read_are_refused_with_their_offset() -> None:
    reason = _refused([*SENDER, "--charset", "utf-8"], b"fine\n\xff")
    assert reason.startswith("the body is not utf-8: byte 5 (0xff)")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--charset", "klingon"], "--charset klingon: not a charset"),
        (["--charset", "utf-16"], "--charset utf-16: not a MIME text charset"),
        (["--type", "image/png", "--charset", "utf-8"], "--charset is for a text body"),
        (["--type", "multipart/mixed"], "--type multipart/mixed: make writes"),
        (["--type", "plain"], "--type wants type/subtype"),
    ],
)
def test_options_that_cannot_describe_the_body_are_refused(args: list[str], reason: str) -> None:
    assert _refused([*SENDER, *args], b"x\n").startswith(reason)


def test_without_from_the_command_names_what_is_missing() -> None:
    proc = _console(["--to", "ophelia@castle.test"], b"hi\n")
    assert proc.returncode == 1
    assert proc.stdout == b""
    assert proc.stderr.decode() == (
        "elsinore: error: a message needs a From field (RFC 5322 3.6): give --from ADDRESS "
        "(Date and Message-ID are filled in)\n"
    )


def test_the_message_id_is_made_at_the_from_domain() -> None:
    mail = _made(SENDER, b"hi\n")
    message_id = mail.get("message-id")
    assert isinstance(message_id, MessageId)
    assert message_id.right == "castle.test"
    assert mail.get("date") is not None


def test_a_from_given_as_a_field_is_enough() -> None:
    mail = _made(["--field", "From: horatio@wittenberg.test"], b"hi\n")
    message_id = mail.get("message-id")
    assert isinstance(message_id, MessageId) and message_id.right == "wittenberg.test"


def test_a_date_or_message_id_given_as_a_field_is_not_doubled() -> None:
    args = ["--field", "Message-ID: <one@castle.test>", "--field", "Date: 1 Jan 2026 00:00 +0000"]
    mail = _made([*SENDER, *args], b"hi\n")
    assert mail.get_all("message-id") == [MessageId("one", "castle.test")]
    assert len(mail.get_all("date")) == 1


def test_a_field_rfc_5322_allows_once_is_refused_twice() -> None:
    reason = _refused([*SENDER, "--field", "To: laertes@castle.test"], b"hi\n")
    assert reason == "To is given twice (RFC 5322 3.6 allows it once)"


def test_a_from_of_two_mailboxes_needs_a_sender() -> None:
    two = ["--from", "hamlet@castle.test, horatio@castle.test"]
    assert _refused(two, b"hi\n").startswith("From holds 2 mailboxes: RFC 5322 3.6.2")
    mail = _made([*two, "--field", "Sender: hamlet@castle.test"], b"hi\n")
    assert mail.get("sender") == (Mailbox(None, "hamlet", "castle.test"),)


def test_an_8bit_body_and_an_attachment_label_the_multipart_8bit(tmp_path: Path) -> None:
    play = tmp_path / "play.pdf"
    play.write_bytes(b"%PDF-1.7\n\x00\xff")
    mail = _made([*SENDER, "-a", str(play)], "caf\u00e9\n".encode())
    assert mail.content_type.mime_type == "multipart/mixed"
    # RFC 2045 6.4: a multipart holding an 8bit part is itself 8bit, never the 7bit default.
    assert mail.transfer_encoding == "8bit"
    assert isinstance(mail.body, Parts)
    text, attachment = mail.body.parts
    assert text.transfer_encoding == "8bit" and text.body == Text("caf\u00e9\n")
    assert attachment.transfer_encoding == "base64"
    assert attachment.body == Data(b"%PDF-1.7\n\x00\xff")


def test_an_ascii_body_and_an_attachment_leave_the_multipart_7bit(tmp_path: Path) -> None:
    play = tmp_path / "play.pdf"
    play.write_bytes(b"\x00\xff")
    mail = _made([*SENDER, "-a", str(play)], b"hi\n")
    assert mail.transfer_encoding == "7bit"
    assert mail.get("content-transfer-encoding") is None


def test_a_text_attachment_in_an_unknown_charset_is_attached_as_its_bytes(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"caf\xe9\n")
    mail = _made([*SENDER, "--no-body", "-a", str(notes)])
    assert isinstance(mail.body, Parts)
    (attachment,) = mail.body.parts
    assert attachment.content_type.mime_type == "application/octet-stream"
    assert attachment.filename == "notes.txt"
    assert attachment.body == Data(b"caf\xe9\n")


def test_a_utf8_text_attachment_is_text_and_labels_the_multipart(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes("caf\u00e9\n".encode())
    mail = _made([*SENDER, "--no-body", "-a", str(notes)])
    assert mail.transfer_encoding == "8bit"
    assert isinstance(mail.body, Parts)
    (attachment,) = mail.body.parts
    assert attachment.content_type.param("charset") == "utf-8"
    assert attachment.body == Text("caf\u00e9\n")


def _readable(data: bytes, charset: str) -> bool:
    """Whether ``data`` is text in ``charset`` that reads back as the same bytes."""
    try:
        text = data.decode(charset)
        return text.encode(charset) == data
    except UnicodeError:
        return False


@given(
    charset=st.sampled_from(BODY_CHARSETS),
    body=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    ),
)
@example(charset="iso-8859-1", body=bytes(range(256)))
@example(charset="us-ascii", body=b"line\r\nbare CR\r and a very long line " + b"x" * 1200)
def test_any_body_in_any_charset_reads_back_as_its_bytes_or_is_refused(
    charset: str, body: bytes
) -> None:
    result = _make([*SENDER, "--charset", charset], body)
    canonical = _canonical(body)
    if result.exit_code != 0:
        assert isinstance(result.exception, ElsinoreError), result.exception
        assert not _readable(canonical, codecs.lookup(charset).name)
        return
    mail = decode(result.stdout_bytes, strict=True)
    assert _written(mail) == canonical
