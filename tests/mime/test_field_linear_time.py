"""Guards against quadratic time in the field decoders (CPython gh-136063, gh-87075).

Each case decodes an input of size n and of size 4n and compares the times: linear code takes
about 4 times as long, quadratic code about 16 times.  The bound, 8, is generous so that a
busy shared machine does not make the test flaky, and no absolute time is asserted.  Small
inputs are timed over enough repetitions to be measurable, and a ratio spoiled by a busy
neighbour is measured again (up to three times) before the test fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from linear_time import MAX_RATIO, settled_growth

from stack.mime.errors import Defect, ParseError
from stack.mime.fields import (
    decode_address_list,
    decode_content_type,
    decode_date,
    decode_msg_id_list,
    decode_transfer_encoding,
    decode_unstructured,
    encode_unstructured,
)


def _lenient(decoder: Callable[[str, list[Defect] | None], object]) -> Callable[[str], object]:
    def run(text: str) -> object:
        with contextlib.suppress(ParseError):
            return decoder(text, [])
        return None

    return run


CASES: dict[str, tuple[Callable[[int], str], Callable[[str], object], int]] = {
    # name: (input of size about n, what to run, n)
    "content-type-semicolon-run": (
        lambda n: "text/plain" + ";" * n,
        _lenient(decode_content_type),
        256_000,  # 4n = 1 MB of ';'
    ),
    "content-type-many-params": (
        lambda n: "text/plain" + "; a=b" * (n // 5),
        _lenient(decode_content_type),
        25_000,
    ),
    "content-type-many-2231-sections": (
        lambda n: "text/plain" + "".join(f"; a*{i}*=x" for i in range(n // 10)),
        _lenient(decode_content_type),
        25_000,
    ),
    "address-semicolon-run": (lambda n: ";" * n, _lenient(decode_address_list), 256_000),
    "address-comma-run": (lambda n: "," * n, _lenient(decode_address_list), 256_000),
    "address-one-token": (lambda n: "a" * n, _lenient(decode_address_list), 2_500_000),
    "address-nested-comments": (
        lambda n: "(" * n + ")" * n + "a@b",
        _lenient(decode_address_list),
        2_500,  # 4n = 10,000 nested comments
    ),
    "address-unclosed-comments": (lambda n: "(" * n, _lenient(decode_address_list), 2_500),
    "address-many-mailboxes": (lambda n: "a@b, " * (n // 5), _lenient(decode_address_list), 25_000),
    "address-many-bad-elements": (
        lambda n: "x y, " * (n // 5),
        _lenient(decode_address_list),
        25_000,
    ),
    "address-many-words": (lambda n: "a " * (n // 2), _lenient(decode_address_list), 25_000),
    "address-unclosed-angle": (
        lambda n: "a <" + "b." * (n // 2),
        _lenient(decode_address_list),
        25_000,
    ),
    "content-type-unclosed-quote": (
        lambda n: 'text/plain; a="' + "x" * n,
        _lenient(decode_content_type),
        2_500_000,
    ),
    "date-long-comment": (
        lambda n: "Tue, 1 Jul 2003 10:52 +0200 (" + "x" * n + ")",
        _lenient(decode_date),
        2_500_000,
    ),
    "address-dots": (lambda n: "." * n, _lenient(decode_address_list), 25_000),
    "address-quoted-pairs": (
        lambda n: '"' + "\\a" * (n // 2),
        _lenient(decode_address_list),
        256_000,
    ),
    "unstructured-one-token": (lambda n: "a" * n, _lenient(decode_unstructured), 2_500_000),
    "unstructured-encoded-words": (
        lambda n: "=?utf-8?q?a?= " * (n // 14),
        _lenient(decode_unstructured),
        25_000,
    ),
    "unstructured-open-markers": (
        lambda n: "=?" * (n // 2),
        _lenient(decode_unstructured),
        256_000,
    ),
    # Encoded-words with specials look ahead for the angle-addr that makes them a name.
    "address-encoded-words-with-dots-before-an-angle-addr": (
        lambda n: "=?utf-8?q?a.b?= " * (n // 16) + "<x@y>",
        _lenient(decode_address_list),
        25_000,
    ),
    "address-encoded-words-with-dots-before-no-angle-addr": (
        lambda n: "=?utf-8?q?a.b?= " * (n // 16) + "x@y",
        _lenient(decode_address_list),
        25_000,
    ),
    "msg-id-list-phrases": (lambda n: "x " * (n // 2), _lenient(decode_msg_id_list), 25_000),
    "msg-id-list-open-brackets": (lambda n: "<" * n, _lenient(decode_msg_id_list), 5_000),
    "date-unclosed-comment": (
        lambda n: "1 Jul 2003 10:52 +0000 " + "(" * n,
        _lenient(decode_date),
        25_000,
    ),
    "transfer-encoding-one-token": (
        lambda n: "a" * n,
        _lenient(decode_transfer_encoding),
        2_500_000,  # 4n = 10 MB
    ),
    "encode-unstructured": (lambda n: "é " * (n // 2), encode_unstructured, 5_000),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_decoding_time_grows_linearly(name: str) -> None:
    make, run, n = CASES[name]
    small, large = make(n), make(4 * n)
    ratio = settled_growth(run, small, large)
    assert ratio < MAX_RATIO, f"{name}: 4x the input took {ratio:.1f}x the time"


def test_ten_thousand_nested_comments_do_not_recurse() -> None:
    # A recursive comment reader would hit the interpreter's recursion limit here.
    defects: list[Defect] = []
    text = "(" * 10_000 + ")" * 10_000 + " a@b"
    assert len(decode_address_list(text, defects)) == 1
    assert defects == []
