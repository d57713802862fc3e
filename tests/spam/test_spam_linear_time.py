"""The tokenizer reads a hostile message in time proportional to its size.

Issue 13: a quoted-printable body of blanks took the tokenizer seconds, through the transfer
decoder it shares with ``stack.mime``.  Each case tokenizes a message of size n and of size 4n
(see ``tests/linear_time.py``): linear code takes about 4 times as long, quadratic code about
16.  The tokenizer stops at :data:`MAX_MESSAGE_BYTES` and :data:`MAX_TEXT_CHARS`, and a cap
makes any code look linear, so every 4n stays under the cap that applies to its shape: the
message for what is decoded whole, the text for what is split into words.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from linear_time import MAX_RATIO, settled_growth

from stack.spam.tokenizer import MAX_MESSAGE_BYTES, MAX_TEXT_CHARS, tokenize

pytestmark = pytest.mark.slow

Shape = Callable[[int], bytes]

WHOLE = MAX_MESSAGE_BYTES // 5  # decoded whole: 4n is under the message cap
TEXT = MAX_TEXT_CHARS // 5  # split into words: 4n is under the text cap


def _text(body: bytes, *, subtype: str = "plain", encoding: str = "8bit") -> bytes:
    return (
        b"Subject: x\r\nContent-Type: text/%s; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: %s\r\n\r\n" % (subtype.encode(), encoding.encode())
    ) + body


def _html(make: Callable[[int], str]) -> Shape:
    return lambda n: _text(make(n).encode(), subtype="html")


def _many_parts(n: int) -> bytes:
    part = b"--b\r\nContent-Type: text/plain\r\n\r\nsome words in a part\r\n"
    return (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        + part * (n // len(part))
        + b"--b--\r\n"
    )


def _nested_multiparts(n: int) -> bytes:
    levels = n // 100
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (level, level)
        for level in range(levels)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % level for level in reversed(range(levels)))
    return opening + b"\r\n" + b"word " * (n // 10) + closing


def _nested_messages(n: int) -> bytes:
    head = b"Content-Type: message/rfc822\r\n\r\n"
    return head * (n // 200) + b"Subject: x\r\n\r\n" + b"word " * (n // 10)


# name: (message of about n bytes, n)
CASES: dict[str, tuple[Shape, int]] = {
    "qp-blank-run": (
        lambda n: _text(b" " * n + b"x \r\n", encoding="quoted-printable"),
        6_000,
    ),
    "qp-blank-runs-between-words": (
        lambda n: _text((b"x" + b" " * 99) * (n // 100) + b" \r\n", encoding="quoted-printable"),
        WHOLE,
    ),
    "qp-equals-run": (lambda n: _text(b"=" * n, encoding="quoted-printable"), WHOLE),
    "qp-soft-breaks": (lambda n: _text(b"=\r\n" * (n // 3), encoding="quoted-printable"), WHOLE),
    "base64-invalid-run": (lambda n: _text(b"!" * n, encoding="base64"), WHOLE),
    "base64-one-stray-character": (
        lambda n: _text(b"d29yZCBi" * (n // 8) + b"Q", encoding="base64"),
        WHOLE,
    ),
    "invalid-utf-8": (lambda n: _text(b"\xff" * n), TEXT),
    "punycode-body": (
        lambda n: b"Content-Type: text/plain; charset=punycode\r\n\r\n" + b"a" * n,
        WHOLE,  # decoded whole (up to 4 bytes a character) before the text is cut
    ),
    "one-long-word": (lambda n: _text(b"q" * n), TEXT),
    "long-words": (lambda n: _text((b"q" * 50 + b" ") * (n // 51)), TEXT),
    "distinct-words": (lambda n: _text(b" ".join(b"w%07d" % i for i in range(n // 9))), TEXT),
    "one-long-url": (lambda n: _text(b"http://a.example/" + b"p/" * (n // 2)), TEXT),
    "long-url-host": (lambda n: _text(b"http://" + b"a." * (n // 2)), TEXT),
    "many-urls": (
        lambda n: _text(b" ".join(b"http://h%06d.example/a/b?c=d" % i for i in range(n // 30))),
        TEXT,
    ),
    "long-address": (lambda n: _text(b"user@" + b"b." * (n // 2)), TEXT),
    "html-angle-run": (_html(lambda n: "<" * n), TEXT),
    "html-angle-text-run": (_html(lambda n: "< a " * (n // 4)), TEXT),
    "html-unclosed-tags": (_html(lambda n: "<a" * (n // 2)), TEXT),
    "html-unclosed-comments": (_html(lambda n: "<!--" * (n // 4)), TEXT),
    "html-comment-of-dashes": (_html(lambda n: "<!--" + "-" * n), TEXT),
    "html-closed-comments": (_html(lambda n: "v<!-- -->a " * (n // 11)), TEXT),
    "html-unclosed-styles": (_html(lambda n: "<style" * (n // 6)), TEXT),
    "html-closing-without-angle": (_html(lambda n: "<script>" + "</script" * (n // 8)), TEXT),
    "html-href-blank-run": (_html(lambda n: "<a href" + " " * n + ">x"), TEXT),
    "html-href-blank-runs": (_html(lambda n: ("href" + " " * 96) * (n // 100)), TEXT),
    "html-many-links": (
        _html(lambda n: "".join(f"<a href='http://h{i}.example/p'>x</a>" for i in range(n // 40))),
        TEXT,
    ),
    "html-long-link": (_html(lambda n: "<a href=http://a.example/" + "p" * n + ">x</a>"), TEXT),
    "html-entity-run": (_html(lambda n: "&" * n), TEXT),
    "html-numeric-entities": (_html(lambda n: "&#65;" * (n // 5)), TEXT),
    "html-open-entities": (_html(lambda n: "&#" * (n // 2)), TEXT),
    "many-parts": (_many_parts, WHOLE),
    "nested-multiparts": (_nested_multiparts, WHOLE),
    "nested-messages": (_nested_messages, WHOLE),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_tokenize_time_grows_linearly(name: str) -> None:
    make, n = CASES[name]
    small, large = make(n), make(4 * n)
    assert len(large) <= MAX_MESSAGE_BYTES, f"{name}: the cap would hide the growth"
    ratio = settled_growth(tokenize, small, large)
    assert ratio < MAX_RATIO, f"{name}: 4x the message took {ratio:.1f}x the time"
