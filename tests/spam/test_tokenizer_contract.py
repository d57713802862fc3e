"""What stack.spam.tokenizer promises beyond the main tests: each kind of token its docstring
names, the form it takes, and the limits that keep a message's work bounded.

The exact caps the module does not document (how many words of a field, how many links) are
tuning; these tests state that a cap holds, and the documented values exactly."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.strategies import address_list_wire, hostile_text
from stack.mime.fields import Group, Mailbox
from stack.spam.tokenizer import (
    MAX_HEADER_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_RECEIVED,
    MAX_TEXT_CHARS,
    MAX_TOKENS,
    tokenize,
)


def _message(headers: str, body: bytes = b"body\r\n") -> bytes:
    return headers.replace("\n", "\r\n").encode() + b"\r\n" + body


def _body_tokens(text: str, *, repeats: bool = True) -> list[str]:
    """The tokens of a plain-text body, without those every message has."""
    tokens = tokenize(_message("", text.encode()), repeats=repeats)
    return [t for t in tokens if t not in ("received-count:0", "content-type:text/plain")]


def _with(prefix: str, tokens: list[str]) -> list[str]:
    return [token for token in tokens if token.startswith(prefix)]


# -- body words --------------------------------------------------------------------------------


def test_words_of_three_to_twelve_characters_are_tokens_and_shorter_ones_are_dropped() -> None:
    assert _body_tokens("a to the twelve-chars thirteenchars") == [
        "the",
        "twelve-chars",
        "skip:t 10",
    ]


@pytest.mark.parametrize(
    ("length", "token"),
    [(13, "skip:x 10"), (19, "skip:x 10"), (20, "skip:x 20"), (99, "skip:x 90")],
)
def test_a_longer_word_is_its_first_letter_and_its_length_rounded_down_to_ten(
    length: int, token: str
) -> None:
    assert _body_tokens("x" + "y" * (length - 1)) == [token]


def test_words_are_lowercased_and_keep_their_punctuation() -> None:
    assert _body_tokens("FREE!! Free free. (Cash)") == ["free!!", "free", "free.", "(cash)"]


def test_with_repeats_a_word_or_long_word_counts_at_most_twice_and_without_once() -> None:
    long_word = "w" * 30
    address = "someone@spammer.example"
    text = f"cash cash cash {long_word} {long_word} {long_word} {address} {address} once"
    with_repeats = _body_tokens(text)
    assert with_repeats.count("cash") == 2
    assert with_repeats.count("skip:w 30") == 2
    assert with_repeats.count("email:spammer.example") == 2
    assert with_repeats.count("once") == 1
    without = _body_tokens(text, repeats=False)
    assert sorted(without) == sorted(set(with_repeats))


def test_repeats_are_the_default_as_spamoracle_reads_them() -> None:
    data = _message("", b"cash cash\r\n")
    assert tokenize(data) == tokenize(data, repeats=True) != tokenize(data, repeats=False)


def test_an_address_in_the_text_is_its_domain() -> None:
    assert _body_tokens("<someone@Mail.Spammer.Example>.") == ["email:mail.spammer.example"]
    assert _body_tokens("a@b@last-part.example") == ["email:last-part.example"]


# -- URLs --------------------------------------------------------------------------------------


def test_a_link_gives_its_scheme_its_host_and_parent_domains_and_its_first_path_pieces() -> None:
    tokens = _body_tokens(
        "HTTP://User@Deep.Win.Prizes.Example.BIZ:8080/claim-now/the_prize?id=77&x=ok"
    )
    assert _with("proto:", tokens) == ["proto:http"]
    assert _with("url:", tokens) == [
        "url:example.biz", "url:prizes.example.biz", "url:win.prizes.example.biz"
    ]  # fmt: skip
    assert _with("url-path:", tokens) == [
        "url-path:claim", "url-path:now", "url-path:the", "url-path:prize"
    ]  # fmt: skip


def test_a_link_to_an_address_gives_url_ip() -> None:
    tokens = _body_tokens("http://192.0.2.44/x.exe")
    assert _with("url:", tokens) == ["url:ip", "url:192.0.2.44"]


def test_a_link_without_a_scheme_starting_www_is_http() -> None:
    tokens = _body_tokens("www.pills.example/buy")
    assert _with("proto:", tokens) == ["proto:http"]
    assert "url:pills.example" in tokens and "url-path:buy" in tokens


def test_a_path_piece_is_at_most_thirty_characters_and_short_pieces_are_dropped() -> None:
    tokens = _body_tokens("http://a.example/" + "p" * 45 + "/ab/abc")
    assert _with("url-path:", tokens) == ["url-path:" + "p" * 30, "url-path:abc"]


def test_a_scheme_token_is_at_most_ten_characters() -> None:
    tokens = _body_tokens("verylongscheme://host.example/")
    assert _with("proto:", tokens) == ["proto:verylongsc"]


def test_html_links_give_the_same_tokens_and_mailto_gives_the_address_domain() -> None:
    html = (
        b"<a href='http://win.example/go'>x</a> <a href=\"mailto:Sales@Shop.Example\">y</a>"
        b" <a href=/local/page>z</a> <a href='mailto:nobody'>n</a>"
    )
    tokens = tokenize(_message("Content-Type: text/html\n", html))
    assert "html:links:4" in tokens
    assert _with("proto:", tokens) == [
        "proto:http",
        "proto:mailto",
        "proto:relative",
        "proto:mailto",
    ]
    assert _with("email:", tokens) == ["email:shop.example"]
    assert "url-path:local" in tokens and "url-path:page" in tokens


def test_the_link_count_and_the_links_read_are_capped() -> None:
    links = "".join(f"<a href='http://h{i}.example/'>x</a>" for i in range(80))
    tokens = tokenize(_message("Content-Type: text/html\n", links.encode()))
    assert _with("html:links:", tokens) == ["html:links:10"]
    protos = _with("proto:", tokens)
    assert 10 <= len(protos) < 80


# -- header fields -----------------------------------------------------------------------------


def test_subject_words_carry_the_field_and_long_ones_are_summarised() -> None:
    subject = "Win " + "z" * 40 + " " + "q" * 41 + " =?utf-8?q?caf=C3=A9?="
    tokens = tokenize(_message(f"Subject: {subject}\n"))
    assert _with("subject:", tokens) == [
        "subject:win",
        "subject:" + "z" * 40,
        "subject:skip 40",
        "subject:café",
    ]


def test_only_the_first_header_chars_of_a_subject_are_read() -> None:
    subject = "a " * (MAX_HEADER_CHARS // 2) + "beyond"
    tokens = tokenize(_message(f"Subject: {subject}\n"))
    assert "subject:a" in tokens and "subject:beyond" not in tokens


def test_a_subject_without_encoded_words_is_read_as_it_is() -> None:
    tokens = tokenize(_message("Subject: \t Plain  =? words\n"))
    assert _with("subject:", tokens) == ["subject:plain", "subject:=?", "subject:words"]


def test_a_mailer_is_a_token_whole_and_word_by_word() -> None:
    tokens = tokenize(_message("X-Mailer:  The   Bat! v3.5 \nUser-Agent: Mutt/1.5\n"))
    assert _with("x-mailer:", tokens) == [
        "x-mailer:the bat! v3.5", "x-mailer:the", "x-mailer:bat!", "x-mailer:v3.5"
    ]  # fmt: skip
    assert _with("user-agent:", tokens) == ["user-agent:mutt/1.5", "user-agent:mutt/1.5"]


def test_a_long_mailer_is_cut_and_gives_a_bounded_number_of_words() -> None:
    mailer = " ".join(f"Word{i}" for i in range(30))
    tokens = _with("x-mailer:", tokenize(_message(f"X-Mailer: {mailer}\n")))
    whole = tokens[0].removeprefix("x-mailer:")
    assert mailer.lower().startswith(whole) and len(whole) < len(mailer)
    assert 1 < len(tokens) - 1 < 30
    assert tokens[1:] == [f"x-mailer:{word}" for word in mailer.lower().split()[: len(tokens) - 1]]


@given(address_list_wire())
def test_an_address_field_gives_its_mailboxes_names_and_domains(
    wire: tuple[str, tuple[Mailbox | Group, ...]],
) -> None:
    text, addresses = wire
    tokens = _with("cc:", tokenize(_message(f"Cc: {text}\n")))
    mailboxes = [
        mailbox
        for address in addresses
        for mailbox in (address.members if isinstance(address, Group) else (address,))
    ]
    count = [token for token in tokens if token.startswith("cc:count:")]
    assert count == [f"cc:count:{min(len(mailboxes), 5)}"]
    assert tokens.count("cc:group") == sum(isinstance(a, Group) for a in addresses)
    for mailbox in mailboxes[:5]:
        assert f"cc:domain:{mailbox.domain.lower()}"[:70] in tokens
        assert f"cc:local:{mailbox.local.lower()[:40]}" in tokens
        if mailbox.name:
            assert all(f"cc:name:{word}" in tokens for word in mailbox.name.lower().split()[:6])
    assert len(_with("cc:domain:", tokens)) == min(len(mailboxes), 5)


def test_each_address_field_has_its_prefix() -> None:
    fields = "From: a@f.example\nReply-To: b@r.example\nSender: c@s.example\nTo: d@t.example\n"
    tokens = tokenize(_message(fields))
    for name, domain in (("from", "f"), ("reply-to", "r"), ("sender", "s"), ("to", "t")):
        assert f"{name}:domain:{domain}.example" in tokens
        assert f"{name}:no name" in tokens


def test_at_most_five_mailboxes_of_a_field_are_read_each_part_cut() -> None:
    local = "L" * 50
    addresses = ", ".join(f"Some Name {i} <{local}{i}@Host{i}.Example>" for i in range(7))
    tokens = _with("to:", tokenize(_message(f"To: {addresses}\n")))
    assert "to:count:5" in tokens
    assert _with("to:domain:", tokens) == [f"to:domain:host{i}.example" for i in range(5)]
    assert _with("to:local:", tokens) == ["to:local:" + "l" * 40] * 5


def test_an_address_field_without_a_readable_address_counts_none() -> None:
    tokens = tokenize(_message("From: <<<@@@>>>\n"))
    assert _with("from:", tokens) == ["from:count:0"]


@given(hostile_text())
def test_any_address_field_value_gives_one_count_and_never_raises(value: str) -> None:
    # The lenient reader skips what it cannot read, so every value, however hostile, gives
    # the field's count (of the mailboxes read, perhaps none).  LF is left out: it would end
    # the field; a bare CR stays in it.
    line = value.replace("\n", "").encode("utf-8", "surrogatepass")
    tokens = tokenize(b"From: " + line + b"\r\nTo: " + line + b"\r\n\r\nbody\r\n")
    for name in ("from", "to"):
        assert len(_with(f"{name}:count:", tokens)) == 1
    assert not _with("malformed:", tokens)


def test_a_return_path_is_its_domain() -> None:
    tokens = tokenize(_message("Return-Path: <Bounce@Mail.Example.NET>\n"))
    assert _with("return-path:", tokens) == ["return-path:domain:mail.example.net"]
    tokens = tokenize(_message("Return-Path: <>\n"))
    assert _with("return-path:", tokens) == ["return-path:no address"]
    tokens = tokenize(_message("Return-Path: <@relay.example:a@b.example>\n"))
    assert _with("return-path:", tokens) == ["return-path:domain:b.example"]


def test_a_bare_cr_in_an_address_field_reads_as_a_space() -> None:
    data = b"To: Ann\rLee <ann@a.example>\r\n\r\nbody\r\n"
    tokens = tokenize(data)
    assert "to:name:ann" in tokens and "to:name:lee" in tokens


def test_received_fields_are_counted_and_only_the_first_ones_are_read() -> None:
    received = "".join(f"Received: from h{i}.relay{i}.example by mx.example\n" for i in range(12))
    tokens = tokenize(_message(received))
    assert "received-count:10" in tokens  # "many"
    read = {f"received:relay{i}.example" for i in range(12)} & set(tokens)
    assert read == {f"received:relay{i}.example" for i in range(MAX_RECEIVED)}
    few = tokenize(_message("Received: from a.example\nReceived: from b.example\n"))
    assert "received-count:2" in few


def test_only_the_first_header_chars_of_a_received_field_are_read() -> None:
    padding = "x " * (MAX_HEADER_CHARS // 2)
    tokens = tokenize(_message(f"Received: from near.example {padding} far.example\n"))
    assert "received:near.example" in tokens and "received:far.example" not in tokens


def test_a_received_field_names_hosts_however_it_is_spelt() -> None:
    tokens = tokenize(_message("RECEIVED: from Relay.Big.EXAMPLE(HELO x)by\tmx.example\n"))
    assert "received:big.example" in tokens and "received:relay.big.example" in tokens
    assert "received:mx.example" in tokens
    assert "received-count:1" in tokens


def test_the_fields_are_read_whatever_the_case_of_their_names() -> None:
    tokens = tokenize(_message("SUBJECT: Hello\nfrom: x@y.example\n"))
    assert "subject:hello" in tokens and "from:domain:y.example" in tokens


# -- structure ---------------------------------------------------------------------------------


def test_a_part_gives_its_type_encoding_and_charset() -> None:
    body = base64.encodebytes("naïve text".encode())
    data = _message(
        "MIME-Version: 1.0\nContent-Type: Text/Plain; Charset=UTF-8\n"
        "Content-Transfer-Encoding: BASE64\n",
        body,
    )
    tokens = tokenize(data)
    assert "content-type:text/plain" in tokens
    assert "encoding:base64" in tokens
    assert "charset:utf-8" in tokens
    assert "naïve" in tokens


@pytest.mark.parametrize("encoding", ["7bit", "8bit"])
def test_the_identity_encodings_are_no_token(encoding: str) -> None:
    data = _message(f"Content-Transfer-Encoding: {encoding}\n")
    assert _with("encoding:", tokenize(data)) == []


def test_a_charset_token_is_lowercase_and_cut() -> None:
    data = _message("Content-Type: text/plain; charset=" + "X" * 40 + "\n")
    tokens = tokenize(data)
    assert "charset:" + "x" * 30 in tokens
    assert "charset:unknown" in tokens  # no codec: read as Latin-1
    assert "body" in tokens


def test_a_body_in_an_unknown_charset_is_read_as_latin1() -> None:
    data = _message("Content-Type: text/plain; charset=x-nonesuch\n", b"caf\xe9 ol\xe9\r\n")
    tokens = tokenize(data)
    assert "café" in tokens and "charset:unknown" in tokens


def test_a_multipart_gives_each_parts_tokens_and_an_embedded_message_its_own() -> None:
    inner = b"Subject: inner\r\nContent-Type: text/plain\r\n\r\ninside words\r\n"
    body = (
        b"--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"--b--\r\n"
    )
    tokens = tokenize(
        _message("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n", body)
    )
    assert _with("content-type:", tokens) == [
        "content-type:multipart/mixed", "content-type:text/plain", "content-type:message/rfc822",
        "content-type:text/plain",
    ]  # fmt: skip
    assert {"first", "part", "inside", "words"} <= set(tokens)
    assert _with("charset:", tokens) == []


def test_a_multipart_type_without_parts_is_read_as_a_leaf() -> None:
    # No boundary: there are no parts to follow, so the body is the part's own.
    tokens = tokenize(_message("Content-Type: multipart/mixed\n", b"lonely words\r\n"))
    assert "content-type:multipart/mixed" in tokens


def test_non_text_parts_give_no_words() -> None:
    data = _message("Content-Type: application/octet-stream\n", b"secret words\r\n")
    assert "secret" not in tokenize(data)


def test_the_body_text_read_is_bounded_across_parts() -> None:
    first = b"a" * 5 + b" " + b"bbb " * (MAX_TEXT_CHARS // 4)
    body = (
        b"--b\r\nContent-Type: text/plain\r\n\r\n" + first + b"\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nsecond-part\r\n--b--\r\n"
    )
    tokens = tokenize(_message("Content-Type: multipart/mixed; boundary=b\n", body))
    assert "bbb" in tokens and "second-part" not in tokens


def _after_a_part_of(length: int) -> list[str]:
    """The tokens of a text part of ``length`` characters followed by an HTML part."""
    body = (
        b"--b\r\nContent-Type: text/plain\r\n\r\n" + b"c" * (length - 1) + b" \r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n<a href='http://x.example/'>go</a>\r\n--b--\r\n"
    )
    return tokenize(_message("Content-Type: multipart/mixed; boundary=b\n", body))


def test_a_part_after_the_budget_is_spent_is_not_read_and_one_before_it_is() -> None:
    spent = _after_a_part_of(MAX_TEXT_CHARS)
    assert _with("html:", spent) == [] and "url:x.example" not in spent
    assert "content-type:text/html" in spent
    left = _after_a_part_of(MAX_TEXT_CHARS - 1)  # one character left: read, one character of it
    assert _with("html:", left) == ["html:links:0"]


def test_a_multibyte_body_is_read_to_the_budget_in_characters() -> None:
    text = ("é" * 10 + " ") * (MAX_TEXT_CHARS // 11 - 1) + "lastword"
    data = _message("Content-Type: text/plain; charset=utf-8\n", text.encode())
    assert "lastword" in tokenize(data)


def test_attachment_names_come_from_the_disposition_first() -> None:
    data = _message(
        'Content-Type: application/pdf; name="Type.PDF"\n'
        'Content-Disposition: attachment; filename="Invoice.2024.ZIP"\n'
    )
    tokens = tokenize(data)
    assert _with("filename", tokens) == ["filename:invoice.2024.zip", "filename-ext:.zip"]


def test_a_name_in_the_content_type_alone_is_the_attachment_name() -> None:
    data = _message(
        "Content-Type: application/pdf; name=Report.pdf\nContent-Disposition: attachment\n"
    )
    assert _with("filename", tokenize(data)) == ["filename:report.pdf", "filename-ext:.pdf"]


def test_a_name_without_a_dot_has_no_extension_and_a_leading_dot_is_one() -> None:
    data = _message("Content-Disposition: attachment; filename=README\n")
    assert _with("filename", tokenize(data)) == ["filename:readme"]
    data = _message("Content-Disposition: attachment; FILENAME=.profile\n")
    assert _with("filename", tokenize(data)) == ["filename:.profile", "filename-ext:.profile"]


def test_a_long_attachment_name_is_cut() -> None:
    name = "n" * 70 + ".exe"
    data = _message(f"Content-Disposition: attachment; filename={name}\n")
    assert _with("filename:", tokenize(data)) == ["filename:" + "n" * 60]


def test_unreadable_parameters_give_no_name_and_no_charset() -> None:
    data = _message('Content-Type: text/plain; charset="utf-8\nContent-Disposition: ;name=\n')
    tokens = tokenize(data)
    assert _with("filename", tokens) == [] and "body" in tokens


def test_a_long_encoding_token_is_cut() -> None:
    data = _message("Content-Transfer-Encoding: x-" + "e" * 40 + "\n")
    assert _with("encoding:", tokenize(data)) == ["encoding:x-" + "e" * 18]


def test_defects_are_tokens_once_each_in_order() -> None:
    data = _message(
        "Content-Type: multipart/mixed; boundary=zz\nContent-Type: text/plain\n",
        b"--zz\r\nContent-Type: text/plain\r\n\r\nno closing boundary\r\n",
    )
    defects = _with("defect:", tokenize(data))
    assert defects and defects == sorted(set(defects))


def test_a_message_past_the_size_limit_is_cut_and_says_so() -> None:
    body = b"word " * (MAX_MESSAGE_BYTES // 5)
    at_limit = _message("Subject: s\n", body)[:MAX_MESSAGE_BYTES]
    assert "truncated:yes" not in tokenize(at_limit)
    assert "truncated:yes" in tokenize(at_limit + b"x")


def test_a_message_gives_at_most_max_tokens() -> None:
    words = " ".join(f"w{i:06}" for i in range(MAX_TOKENS + 100))
    tokens = tokenize(_message("", words.encode()), repeats=False)
    assert len(tokens) == MAX_TOKENS


def test_undecodable_bytes_become_replacement_characters_in_tokens() -> None:
    data = _message("Content-Type: text/plain; charset=utf-8\n", b"bad\xff\xfe byte\r\n")
    tokens = tokenize(data)
    assert all(t.encode("utf-8") for t in tokens)
    assert "bad\ufffd\ufffd" in tokens


def test_surrogates_from_header_bytes_become_replacement_characters() -> None:
    data = b"Subject: caf\xe9 ok\r\nX-Mailer: m\xffm\r\n\r\nbody\r\n"
    tokens = tokenize(data)
    assert "subject:caf\ufffd" in tokens
    assert "x-mailer:m\ufffdm" in tokens
    assert "subject:ok" in tokens


@given(st.integers(0, 3))
def test_the_received_count_is_exact_for_a_few(count: int) -> None:
    received = "Received: from a.example\n" * count
    assert f"received-count:{count}" in tokenize(_message(received))


# -- more of the same contracts, at their edges -------------------------------------------------


def test_subject_words_are_read_whole_whatever_letters_they_hold() -> None:
    tokens = tokenize(_message("Subject: Xmas Sale Xx\n"))
    assert _with("subject:", tokens) == ["subject:xmas", "subject:sale", "subject:xx"]


def test_each_received_field_gives_its_hosts_the_last_word_included() -> None:
    tokens = tokenize(_message("Received: from a.example\nReceived: from b.example\n"))
    assert "received:a.example" in tokens and "received:b.example" in tokens


def test_a_word_or_long_word_seen_exactly_twice_is_there_twice() -> None:
    tokens = _body_tokens("twice twice " + "v" * 25 + " " + "v" * 25)
    assert tokens.count("twice") == 2 and tokens.count("skip:v 20") == 2


def test_a_link_in_brackets_is_read_and_the_words_after_it_too() -> None:
    tokens = _body_tokens("see <http://x.example/offer> (http://y.example/deal) " + "k" * 14)
    assert _with("proto:", tokens) == ["proto:http", "proto:http"]
    assert "url:x.example" in tokens and "url:y.example" in tokens
    assert "skip:k 10" in tokens


def test_a_link_whose_query_holds_another_link_is_read_by_its_own_scheme_and_host() -> None:
    tokens = _body_tokens("http://x.example/r?u=http://evil.example/")
    assert _with("proto:", tokens) == ["proto:http"]
    assert "url:x.example" in tokens


def test_a_mailto_link_gives_the_domain_after_the_last_at_sign_trimmed() -> None:
    html = b"<a href='mailto:Sales@Shop.Example.'>a</a><a href='mailto:x@y@Last.Example'>b</a>"
    tokens = tokenize(_message("Content-Type: text/html\n", html))
    assert _with("email:", tokens) == ["email:shop.example", "email:last.example"]


def test_a_return_path_is_the_domain_after_its_last_at_sign() -> None:
    tokens = tokenize(b"Return-Path:@Mail.BOX\r\n\r\nbody\r\n")
    assert _with("return-path:", tokens) == ["return-path:domain:mail.box"]


def test_a_body_without_a_charset_is_read_as_utf8() -> None:
    tokens = tokenize(_message("Subject: s\n", "café crème".encode()))
    assert "café" in tokens and "crème" in tokens
    assert _with("charset:", tokens) == []


def test_a_transfer_encoding_error_in_a_body_is_a_defect_token() -> None:
    data = _message("Content-Transfer-Encoding: quoted-printable\n", b"bad =ZZ escape\r\n")
    assert _with("defect:", tokenize(data)) == ["defect:invalid-qp-escape"]


def test_a_multipart_with_parts_is_a_container_and_one_without_is_a_leaf() -> None:
    body = b"--b\r\nContent-Type: text/plain\r\n\r\ninner\r\n--b--\r\n"
    container = _message(
        "Content-Type: multipart/mixed; boundary=b; charset=utf-8\n"
        "Content-Transfer-Encoding: binary\n",
        body,
    )
    tokens = tokenize(container)
    assert _with("encoding:", tokens) == [] and _with("charset:", tokens) == []
    assert "inner" in tokens
    leaf = _message("Content-Type: multipart/mixed\nContent-Transfer-Encoding: base64\n")
    assert _with("encoding:", tokenize(leaf)) == ["encoding:base64"]


def test_an_empty_quoted_local_part_is_an_empty_local_token() -> None:
    tokens = tokenize(_message('To: ""@example.com\n'))
    assert _with("to:local:", tokens) == ["to:local:"]


def test_parameters_are_read_leniently_defects_and_all() -> None:
    # Spamware writes broken MIME; what can be read of it is still evidence.
    data = _message(
        "Content-Type: text/plain; charset=ISO-8859-1;\n"
        "Content-Disposition: attachment; filename=my invoice.pdf\n",
        b"caf\xe9\r\n",
    )
    tokens = tokenize(data)
    assert "charset:iso-8859-1" in tokens and "café" in tokens
    assert _with("filename", tokens) == ["filename:my invoice.pdf", "filename-ext:.pdf"]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("=?x-nonesuch?q?abc?= free", ["subject:=?x-nonesuch?q?abc?=", "subject:free"]),
        ("=?utf-8?q?bad=ZZ?= free", ["subject:bad=zz", "subject:free"]),
        ("=?utf-8?q?caf=C3?= free", ["subject:caf\ufffd", "subject:free"]),
    ],
)
def test_a_broken_encoded_word_is_read_leniently_and_never_raises(
    subject: str, expected: list[str]
) -> None:
    # tokenize never raises: unreadable input gives what can be read of it.
    tokens = tokenize(_message(f"Subject: {subject}\nX-Mailer: {subject}\n"))
    assert _with("subject:", tokens) == expected
    assert _with("x-mailer:", tokens)[0] == "x-mailer:" + " ".join(e[8:] for e in expected)
