"""Bodies a hostile sender would choose decode in time proportional to their size.

Issue 13: the quoted-printable decoder stripped trailing white space with a pattern that
restarted at every blank of a long run, so 20 KB of blanks took seconds and 80 KB more than a
minute, through ``decode`` and the spam tokenizer alike.  Each case here decodes a body of
size n and of size 4n (see ``tests/linear_time.py``): linear code takes about 4 times as long,
quadratic code about 16.  Each n is chosen so that quadratic code would show: large for the
decoders written in C, smaller where a pattern or a Python loop does the work.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from linear_time import MAX_RATIO, settled_growth

from stack.mime import ParseError, decode, transfer
from stack.mime.lossless import MAX_DEPTH
from stack.mime.model import Data, Nested

Shape = Callable[[int], bytes]

# name: (encoded body of about n bytes, its Content-Transfer-Encoding, n)
TRANSFER_CASES: dict[str, tuple[Shape, str, int]] = {
    "qp-blank-run-then-text": (lambda n: b" " * n + b"x \r\n", "quoted-printable", 4_000),
    "qp-tab-run-then-text": (lambda n: b"\t" * n + b"x\t\n", "quoted-printable", 4_000),
    "qp-blank-run-before-bare-cr": (
        lambda n: b" " * n + b"\rx \r\n",
        "quoted-printable",
        4_000,
    ),
    "qp-blank-runs-between-words": (
        lambda n: (b"x" + b" " * 99) * (n // 100) + b" \r\n",
        "quoted-printable",
        64_000,
    ),
    "qp-blank-lines": (lambda n: b" \r\n" * (n // 3), "quoted-printable", 256_000),
    "qp-blank-run-at-end": (lambda n: b"x \r\n" + b" " * n, "quoted-printable", 256_000),
    "qp-equals-run": (lambda n: b"=" * n, "quoted-printable", 256_000),
    "qp-equals-blank-pairs": (lambda n: b"= " * (n // 2) + b"\r\n", "quoted-printable", 256_000),
    "qp-soft-breaks": (lambda n: b"=\r\n" * (n // 3), "quoted-printable", 256_000),
    "qp-escapes": (lambda n: b"=3D" * (n // 3), "quoted-printable", 256_000),
    "qp-invalid-escapes": (lambda n: b"=G" * (n // 2), "quoted-printable", 256_000),
    "qp-long-line": (lambda n: b"a" * n + b" \r\n", "quoted-printable", 256_000),
    "qp-bare-lf-lines": (lambda n: b"a \n" * (n // 3), "quoted-printable", 256_000),
    "qp-bare-cr-run": (lambda n: b"\r" * n + b" \n", "quoted-printable", 256_000),
    "base64-invalid-run": (lambda n: b"!" * n, "base64", 256_000),
    "base64-one-stray-character": (lambda n: b"QUJD" * (n // 4) + b"Q", "base64", 256_000),
    "base64-padding-run": (lambda n: b"=" * n, "base64", 256_000),
    "base64-stray-padding": (lambda n: b"QQ=" * (n // 3), "base64", 256_000),
    "base64-blank-run": (lambda n: b"QUJD" + b" " * n + b"QUJD", "base64", 256_000),
    "8bit-long-line": (lambda n: b"\xe9" * n, "8bit", 256_000),
    "unknown-encoding": (lambda n: b" " * n, "x-uuencode", 256_000),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRANSFER_CASES))
def test_transfer_decoding_time_grows_linearly(name: str) -> None:
    make, encoding, n = TRANSFER_CASES[name]

    def run(data: bytes) -> object:
        return transfer.decode(data, encoding, [])

    ratio = settled_growth(run, make(n), make(4 * n))
    assert ratio < MAX_RATIO, f"{name}: 4x the body took {ratio:.1f}x the time"


def _text(body: bytes, *, charset: str = "utf-8", encoding: str = "8bit") -> bytes:
    return (
        b"Content-Type: text/plain; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n"
        % (charset.encode(), encoding.encode())
    ) + body


def _qp_parts(n: int) -> bytes:
    part = b"--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + b" " * 40 + b"x \r\n"
    parts = part * (n // len(part))
    return b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + b"--b--\r\n"


def _nested_multiparts(n: int) -> bytes:
    """Multiparts within multiparts, far deeper than the parser follows, around a body of
    blanks."""
    levels = n // 100
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (level, level)
        for level in range(levels)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % level for level in reversed(range(levels)))
    return opening + b"\r\n" + b" " * n + b"x \r\n" + closing


def _nested_messages(encoding: str) -> Shape:
    """message/rfc822 within message/rfc822, n // 80 levels: deeper than MAX_DEPTH."""

    def make(n: int) -> bytes:
        head = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: %s\r\n\r\n"
        return head % encoding.encode() * (n // 80) + b"Subject: x\r\n\r\nbody\r\n"

    return make


def _near_boundaries(line: bytes) -> Shape:
    """A multipart whose body is lines that a boundary scan must look at and pass over."""

    def make(n: int) -> bytes:
        head = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        return head + line * (n // len(line)) + b"--b--\r\n"

    return make


def _prefix_boundaries(n: int) -> bytes:
    """Sixty multiparts within each other, each boundary a prefix of the next one's, around
    lines that every level's scan starts to match."""
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=%s\r\n\r\n--%s\r\n" % (b"b" * k, b"b" * k)
        for k in range(1, 61)
    )
    return opening + b"\r\n" + b"--b\r\n" * (n // 5)


# name: (whole message of about n bytes, n)
MESSAGE_CASES: dict[str, tuple[Shape, int]] = {
    "qp-blank-run": (lambda n: _text(b" " * n + b"x \r\n", encoding="quoted-printable"), 4_000),
    "invalid-utf-8": (lambda n: _text(b"\xff" * n), 256_000),
    "invalid-utf-8-after-text": (lambda n: _text(b"a\xc3" * (n // 2)), 256_000),
    "utf-7-shift-run": (lambda n: _text(b"+" * n, charset="utf-7"), 256_000),
    "utf-16-odd-length": (lambda n: _text(b"a" * (n + 1), charset="utf-16"), 256_000),
    "punycode-letters": (lambda n: _text(b"a" * n, charset="punycode"), 16_000),
    "punycode-encoded-word": (
        lambda n: b"Subject: =?punycode?q?" + b"a" * n + b"?=\r\n\r\nx\r\n",
        128_000,
    ),
    "unicode-escape-backslashes": (lambda n: _text(b"\\" * n, charset="unicode-escape"), 256_000),
    "many-qp-parts": (_qp_parts, 64_000),
    "near-boundaries": (_near_boundaries(b"--bx\r\n"), 64_000),
    "bare-cr-before-boundaries": (_near_boundaries(b"\r--b"), 64_000),
    "dash-lines": (_near_boundaries(b"--\r\n"), 64_000),
    "prefix-boundaries": (_prefix_boundaries, 64_000),
    "nested-multiparts": (_nested_multiparts, 64_000),
    "nested-messages": (_nested_messages("7bit"), 16_000),
    "nested-base64-messages": (_nested_messages("base64"), 16_000),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MESSAGE_CASES))
def test_message_decoding_time_grows_linearly(name: str) -> None:
    make, n = MESSAGE_CASES[name]
    ratio = settled_growth(decode, make(n), make(4 * n))
    assert ratio < MAX_RATIO, f"{name}: 4x the message took {ratio:.1f}x the time"


def test_blanks_before_a_line_break_are_stripped_and_blanks_inside_a_line_are_kept() -> None:
    data = b" " * 5_000 + b"x \t\r\n" + b"\t" * 5_000 + b"\r\n" + b" " * 5_000 + b"\ry\n z  "
    expected = b" " * 5_000 + b"x\r\n\r\n" + b" " * 5_000 + b"\ry\r\n z"
    assert transfer.decode_quoted_printable(data) == expected


def test_messages_nested_past_the_depth_limit_are_read_without_recursing() -> None:
    # Every level used to be parsed again below the lossless layer's limit: a RecursionError
    # (a traceback for bad input) at about a thousand levels, quadratic time below that.
    message = _nested_messages("7bit")(80 * 5_000)
    mail = decode(message)
    depth = 0
    body = mail.body
    while isinstance(body, Nested):
        body = body.mail.body
        depth += 1
    assert depth == MAX_DEPTH
    assert isinstance(body, Data)
    assert any(defect.kind == "nesting-too-deep" for defect in mail.all_defects())


_FROM_AND_DATE = b"From: a@b.example\r\nDate: Thu, 3 Dec 2026 19:30:00 +0000\r\n"


@pytest.mark.parametrize(
    ("charset", "body"),
    [
        ("utf-16", b"odd"),  # half a UTF-16 code unit at the end
        ("utf-7", b"a+AA"),  # a shift that never ends
        ("unicode-escape", b"a\\"),  # a backslash that escapes nothing
    ],
)
def test_a_text_body_its_charset_cannot_read_is_kept_as_bytes_with_a_defect(
    charset: str, body: bytes
) -> None:
    # surrogateescape cannot stand for bytes below 0x80, so these used to raise
    # UnicodeDecodeError out of lenient decode.
    message = _FROM_AND_DATE + _text(body, charset=charset)
    mail = decode(message)
    assert mail.body == Data(body)
    assert [defect.kind for defect in mail.defects] == ["undecodable-text"]
    with pytest.raises(ParseError, match="undecodable-text"):
        decode(message, strict=True)


@pytest.mark.parametrize("charset", ["punycode", "idna"])
def test_domain_label_codecs_are_not_charsets(charset: str) -> None:
    mail = decode(_FROM_AND_DATE + _text(b"abc-", charset=charset))
    assert mail.body == Data(b"abc-")
    assert [defect.kind for defect in mail.defects] == ["unknown-charset"]
