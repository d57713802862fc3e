"""The tokenizer reads what a person would read, through stack.mime, and no more than its
limits allow."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from linear_time import MAX_RATIO, settled_growth

from stack.spam import html, tokenizer
from stack.spam.html import strip_html
from stack.spam.tokenizer import MAX_TOKENS, tokenize


def _message(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode() + b"\r\n" + body


def test_base64_body_is_decoded_before_splitting_words() -> None:
    body = base64.encodebytes(b"Incredible mortgage opportunity")
    data = _message(
        "From: a@example.com\nSubject: hi\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n",
        body,
    )
    tokens = tokenize(data)
    assert "incredible" in tokens
    assert "mortgage" in tokens
    assert "encoding:base64" in tokens


def test_quoted_printable_latin1_body_is_decoded_by_its_charset() -> None:
    data = _message(
        "Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n",
        b"caf=E9 gratuit\r\n",
    )
    assert "café" in tokenize(data)
    assert "charset:iso-8859-1" in tokenize(data)


def test_html_is_stripped_to_text_and_links_become_host_tokens() -> None:
    html = (
        b"<html><head><style>p{color:red}</style></head><body>"
        b"<p>Buy <b>cheap</b> V<!-- x -->iagra</p>"
        b"<a href='http://win.prizes.example.biz/claim?id=7'>claim</a></body></html>"
    )
    data = _message("Subject: x\nMIME-Version: 1.0\nContent-Type: text/html\n", html)
    tokens = tokenize(data)
    assert "viagra" in tokens  # a comment cannot split a word
    assert "cheap" in tokens
    assert "color:red}" not in " ".join(tokens)  # style sheets are not text
    assert "url:example.biz" in tokens
    assert "url:prizes.example.biz" in tokens
    assert "url-path:claim" in tokens


def test_header_tokens_carry_their_field_as_prefix() -> None:
    data = _message(
        'From: "Prize Team" <winner@lottery.example>\nSubject: You won FREE money\n'
        "X-Mailer: Mass Mailer 3.1\n"
        "Received: from relay.bad.example (relay.bad.example [192.0.2.77]) by mx.example.org\n",
        b"hello there friend\r\n",
    )
    tokens = tokenize(data)
    assert "subject:free" in tokens
    assert "from:domain:lottery.example" in tokens
    assert "from:name:prize" in tokens
    assert "x-mailer:mass mailer 3.1" in tokens
    assert "received:bad.example" in tokens
    assert "received:192.0.2" in tokens
    assert "free" not in tokens  # the subject's words are not the body's


def test_attachment_names_and_types_are_tokens() -> None:
    body = (
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b\r\nContent-Type: application/octet-stream; name=invoice.exe\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b--\r\n"
    )
    data = _message(
        "Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n", body
    )
    tokens = tokenize(data)
    assert "filename:invoice.exe" in tokens
    assert "filename-ext:.exe" in tokens
    assert "content-type:application/octet-stream" in tokens
    assert "content-type:multipart/mixed" in tokens


def test_other_filters_verdicts_are_not_learned() -> None:
    data = _message("X-Spam-Status: Yes, score=20\nX-Spamtacus: yes\nSubject: a\n", b"b\r\n")
    assert not any("spam-status" in token or "spamtacus" in token for token in tokenize(data))


def test_long_words_are_summarised_and_a_word_counts_at_most_twice() -> None:
    data = _message("Subject: x\n", b"hello hello hello " + b"q" * 45 + b"\r\n")
    tokens = tokenize(data)
    assert tokens.count("hello") == 2
    assert "skip:q 40" in tokens


def test_work_is_bounded_for_huge_messages() -> None:
    words = b" ".join(b"w%06d" % i for i in range(400_000))
    tokens = tokenize(_message("Subject: big\n", words))
    assert len(tokens) <= MAX_TOKENS
    assert "truncated:yes" in tokens or len(tokens) == MAX_TOKENS


def test_strip_html_survives_unclosed_markup_in_linear_time() -> None:
    text, _ = strip_html("<!--" + "<" * 100_000)
    assert text == ""
    text, _ = strip_html("a <a href=" + "x" * 100_000)
    assert text.strip() == "a"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_tokens_that_are_valid_unicode(data: bytes) -> None:
    for token in tokenize(data):
        token.encode("utf-8")  # storable in SQLite and Redis


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="<>!-/=\"' ahrefsc:", max_size=300))
def test_strip_html_never_fails_on_tag_soup(markup: str) -> None:
    text, urls = strip_html(markup)
    assert isinstance(text, str)
    assert all(isinstance(url, str) for url in urls)


_MARKUP_PIECES = ["href", "src", "action", "background", "=", " ", "\n", '"', "'", "<a ", ">"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*_MARKUP_PIECES, "x", "/?", "\u00e9"]), max_size=40).map("".join))
def test_links_are_found_as_one_alternation_of_the_attribute_names_finds_them(markup: str) -> None:
    # The names are looked for one by one, which must change nothing: not the order, and not
    # a name inside another's value (the alternation reads on past it).
    assert html._urls(markup) == html._URL.findall(markup)


def test_an_attribute_name_inside_a_link_is_not_a_link_of_its_own() -> None:
    _, urls = strip_html('<a href="http://x.example/?src=y">go</a> <img src=http://y.example/>')
    assert urls == ["http://x.example/?src=y", "http://y.example/"]


def test_decoder_defects_become_tokens() -> None:
    data = _message(
        "Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n",
        b"--zz\r\nContent-Type: text/plain\r\n\r\nno closing boundary\r\n",
    )
    assert any(token.startswith("defect:") for token in tokenize(data))


def test_received_hosts_are_whole_dotted_words_and_addresses_are_not_hosts() -> None:
    data = _message(
        "Received: from relay.example.org ([198.51.100.23]) by mx.example.net"
        " (8.12.2/8.12.2) with ESMTP id g83K2b; for <user@mailbox.example.com>\n"
        "Subject: x\n",
        b"body\r\n",
    )
    received = {token for token in tokenize(data) if token.startswith("received:")}
    received.discard("received-count:1")
    assert received == {
        "received:example.org", "received:relay.example.org", "received:198.51.100",
        "received:198.51", "received:example.net", "received:mx.example.net",
    }  # fmt: skip


def test_strip_html_drops_an_unclosed_tag_at_the_end_but_keeps_text_after_a_bare_angle() -> None:
    text, urls = strip_html("<p>1 < 2 and <b>bold</b> <img src='http://x.example/a.gif'")
    assert text.split() == ["1", "<", "2", "and", "bold"]
    assert urls == ["http://x.example/a.gif"]


def test_without_repeats_each_token_is_there_once_and_no_token_is_lost() -> None:
    data = _message(
        "Subject: x\n",
        b"hello hello world " + b"q" * 45 + b" " + b"q" * 45 + b" www.a.example/x\r\n",
    )
    with_repeats = tokenize(data)
    without = tokenize(data, repeats=False)
    assert len(without) == len(set(without))
    assert set(without) == set(with_repeats)
    assert without.count("hello") == 1 and with_repeats.count("hello") == 2


HOSTILE_MARKUP = {
    "unclosed-tags": lambda n: "<a" * n,
    "unclosed-comments": lambda n: "<!--" * n,
    "unclosed-styles": lambda n: "<style" * n,
    "url-attributes": lambda n: "<a href=" * n,
    "attributes-without-values": lambda n: "src src= " * n,
    "entities": lambda n: "&amp" * n,
}


@pytest.mark.parametrize("name", sorted(HOSTILE_MARKUP))
def test_strip_html_time_grows_linearly(name: str) -> None:
    make = HOSTILE_MARKUP[name]
    ratio = settled_growth(strip_html, make(5_000), make(20_000))
    assert ratio < MAX_RATIO, f"{name}: 4x the markup took {ratio:.1f}x the time"


def test_tokenize_time_grows_linearly_with_the_number_of_header_fields() -> None:
    def fields(n: int) -> bytes:
        return _message("Received: from a.example by b.example\nTo: c@d.example\n" * n, b"x")

    ratio = settled_growth(tokenize, fields(500), fields(2_000))
    assert ratio < MAX_RATIO, f"4x the fields took {ratio:.1f}x the time"


def test_tokens_come_out_in_the_same_order_whatever_the_hash_seed(tmp_path: Path) -> None:
    data = _message(
        "Received: from a.example (a.example [192.0.2.1]) by b.example\n"
        "Received: from c.example by d.example; x.example y.example\n"
        "From: Prize <p@win.example>\nSubject: free free offer\n"
        "Content-Type: text/html\n",
        b"<a href='http://x.example/a'>win</a> cash cash now <img src=http://y.example/b>",
    )
    sample = tmp_path / "message.eml"
    sample.write_bytes(data)
    script = (
        "import sys; from stack.spam.tokenizer import tokenize; "
        "print(tokenize(open(sys.argv[1], 'rb').read(), repeats=False))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, str(sample)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True, check=True, text=True,
        ).stdout
        for seed in ("1", "2", "3")
    }  # fmt: skip
    assert len(outputs) == 1


def test_address_fields_read_the_same_cached_or_not_and_long_ones_stay_out_of_the_cache() -> None:
    short = b"To: Reader <me@example.org>\n"
    long = b"To: " + b", ".join(b"u%d@example.org" % i for i in range(200)) + b"\n"
    body = b"Subject: s\n\nhello there\n"
    tokenizer._cached_address_tokens.cache_clear()
    first = tokenize(short + body)
    assert tokenize(short + body) == first  # the second read comes from the cache
    assert "to:local:me" in first and "to:name:reader" in first
    assert tokenizer._cached_address_tokens.cache_info().hits >= 1
    for i in range(50):  # distinct long fields, read in full but none of them kept
        assert f"to:local:v{i}" in tokenize(long.replace(b"u0@", b"v%d@" % i, 1) + body)
    assert tokenizer._cached_address_tokens.cache_info().currsize == 1


def test_content_type_parameters_read_the_same_cached_or_not_and_long_ones_stay_out() -> None:
    short = b'Content-Type: text/plain; charset="ISO-8859-1"; name="Offer.TXT"\n'
    body = b"\nhello there\n"
    tokenizer._cached_charset_and_name.cache_clear()
    first = tokenize(short + body)
    assert tokenize(short + body) == first  # the second read comes from the cache
    assert {"charset:iso-8859-1", "filename:offer.txt", "filename-ext:.txt"} <= set(first)
    assert tokenizer._cached_charset_and_name.cache_info().hits >= 1
    padding = "x" * tokenizer.MAX_CACHED_FIELD_BYTES
    for i in range(50):  # distinct long fields, read in full but none of them kept
        long = f'Content-Type: text/plain; charset=koi8-r; name="{i}{padding}.doc"\n'.encode()
        tokens = tokenize(long + body)
        assert {"charset:koi8-r", f"filename:{i}{padding}"[:69]} <= set(tokens)
    assert tokenizer._cached_charset_and_name.cache_info().currsize == 1
