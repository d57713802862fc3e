"""Whole messages that made other codecs quadratic decode in time proportional to their size.

The cases of issue 3: a 10 MB header line, 100,000 parts, 10,000 nested comments, 1 MB of
``;``.  Each is decoded at size n and 4n; linear code takes about 4 times as long, quadratic
code about 16.  The bound is generous and no absolute time is asserted.
"""

from __future__ import annotations

import pytest
from linear_time import MAX_RATIO, growth

from stack.mime import decode, parse

pytestmark = pytest.mark.slow


def _long_header_line(n: int) -> str:
    return "Subject: " + "x" * n + "\r\n\r\nbody\r\n"


def _many_parts(n: int) -> str:
    parts = "".join("--b\r\n\r\np\r\n" for _ in range(n))
    return "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + "--b--\r\n"


def _nested_comments(n: int) -> str:
    return "From: " + "(" * n + "x" + ")" * n + " a@b.example\r\n\r\n"


def _semicolons(n: int) -> str:
    return "Content-Type: text/plain" + ";" * n + "\r\n\r\nbody\r\n"


def _lines_at_the_limit(n: int) -> str:
    # The worst case of the 998-octet rule: every line is read to its end.
    return "Subject: s\r\n\r\n" + ("y" * 998 + "\r\n") * n


def _repeated_fields(n: int) -> str:
    # Every Subject after the first is a defect of its own (RFC 5322 3.6).
    return "Subject: s\r\n" * n + "\r\nbody\r\n"


CASES = {
    # size n, and the message builder; 4n is what the ratio compares against.
    "10MB-header-line": (2_500_000, _long_header_line),
    "100k-parts": (25_000, _many_parts),
    "10k-nested-comments": (2_500, _nested_comments),
    "1MB-semicolons": (250_000, _semicolons),
    "10MB-of-998-octet-lines": (2_500, _lines_at_the_limit),
    "100k-repeated-fields": (25_000, _repeated_fields),
}


@pytest.mark.parametrize("case", list(CASES))
def test_decode_time_grows_linearly(case: str) -> None:
    size, build = CASES[case]
    small, large = build(size), build(4 * size)

    def run(text: str) -> object:
        return decode(text.encode())

    assert growth(run, small, large) < MAX_RATIO


@pytest.mark.parametrize("case", list(CASES))
def test_parse_keeps_every_byte_of_the_hostile_inputs(case: str) -> None:
    size, build = CASES[case]
    data = build(size).encode()
    message = parse(data)
    for _ in message.walk():
        pass
    assert bytes(message) == data
