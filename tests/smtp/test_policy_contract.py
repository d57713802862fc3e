"""The hop policy's contract for replies and envelopes: which replies are positive
(RFC 5321 4.2.1), which carry an enhanced status code (RFC 2034), and where each limit of
RFC 5321 4.5.3.1 falls, counted in octets, with a refusal that says what is wrong and where."""

from __future__ import annotations

import pytest

from stack.smtp.policy import (
    BareLineEnds,
    DataReader,
    Limits,
    Reply,
    check_address,
    check_command_line,
    check_helo,
    check_hops,
    check_recipient_count,
    queued,
    with_enhanced,
)

LIMITS = Limits()


# -- replies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "positive"),
    [(199, False), (200, True), (250, True), (354, True), (399, True), (400, False), (554, False)],
)
def test_2xx_and_3xx_replies_are_positive_and_no_other(code: int, positive: bool) -> None:
    # RFC 5321 4.2.1: 2yz positive completion, 3yz positive intermediate; 4yz and 5yz refuse.
    assert Reply(code, None, "x").positive is positive


def test_a_reply_without_an_enhanced_code_is_the_code_and_the_text() -> None:
    assert str(Reply(354, None, "End data with <CR><LF>.<CR><LF>")) == (
        "354 End data with <CR><LF>.<CR><LF>"
    )
    assert str(Reply(250, "2.1.0", "Sender OK")) == "250 2.1.0 Sender OK"


def test_a_queued_reply_names_the_queue_id() -> None:
    reply = queued("0123456789ABCDEF")
    assert reply.positive and reply.code == 250
    assert reply.enhanced is not None and reply.enhanced.startswith("2.")  # RFC 2034
    assert str(reply).endswith(" 0123456789ABCDEF")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # A continuation line keeps its hyphen; the code goes after it.
        ("250-SIZE 10", "250-2.0.0 SIZE 10"),
        # A code with no entry of its own gets its class's x.0.0 (RFC 3463 3.1).
        ("259 fine", "2.0.0"),
        ("459 later", "4.0.0"),
        ("599 never", "5.0.0"),
        ("200 fine", "2.0.0"),
        ("401 no", "4.0.0"),
        # A reply of only a code and a space does not end in a space.
        ("250 ", "250 2.0.0"),
    ],
)
def test_an_enhanced_code_is_added_after_the_reply_code(line: str, expected: str) -> None:
    written = with_enhanced(line)
    if " " in expected:
        assert written == expected
    else:
        assert written == f"{line[:3]} {expected} {line[4:]}"


@pytest.mark.parametrize(
    "line",
    [
        "334 VXNlcm5hbWU6",  # an AUTH challenge: RFC 2034 codes only 2xx, 4xx and 5xx replies
        "354 Start mail input",
        "300 any 3xx at all",
        "250 2.1.0 Sender OK",  # has one already
        "550 5.1.1 no such user",
        "421 4.3.2 shutting down",
        "not a reply",
        "25 short",
    ],
)
def test_a_3xx_a_coded_reply_or_a_line_that_is_no_reply_is_left_as_it_is(line: str) -> None:
    assert with_enhanced(line) == line


# -- envelope -------------------------------------------------------------------------------


def test_helo_refusal_says_what_helo_takes() -> None:
    reply = check_helo("two words")
    assert reply is not None and (reply.code, reply.enhanced) == (501, "5.5.4")
    assert reply.text.startswith("HELO/EHLO takes one domain name"), reply.text
    assert reply.text.endswith("address literal"), reply.text


@pytest.mark.parametrize(
    ("sender", "enhanced", "what"), [(True, "5.1.7", "sender"), (False, "5.1.3", "recipient")]
)
@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("a b@castle.test", "syntax: forbidden character at 1"),
        ("a<b@castle.test", "syntax: forbidden character at 1"),
        ("ab@castle.test\x7f", "syntax: forbidden character at 14"),
        ("ab\udc80@castle.test", "not UTF-8 at character 2"),
        ("castle.test", "syntax: no local-part@domain"),
        ("@castle.test", "syntax: no local-part@domain"),
        ("alice@", "syntax: no local-part@domain"),
    ],
)
def test_a_refused_address_says_whose_it_is_what_is_wrong_and_where(
    address: str, says: str, sender: bool, enhanced: str, what: str
) -> None:
    # RFC 3463: 5.1.7 is a bad sender's address, 5.1.3 a bad destination address.
    reply = check_address(address, LIMITS, sender=sender)
    assert reply is not None, address
    assert (reply.code, reply.enhanced) == (553, enhanced)
    assert reply.text.startswith(f"Bad {what} address"), reply.text
    assert reply.text.endswith(says), reply.text


def test_a_bare_postmaster_is_a_recipient_in_any_case_but_never_a_sender() -> None:
    # RFC 5321 4.5.1: RCPT TO:<Postmaster> needs no domain; a reverse-path always does.
    for written in ("postmaster", "Postmaster", "POSTMASTER"):
        assert check_address(written, LIMITS, sender=False) is None
        reply = check_address(written, LIMITS, sender=True)
        assert reply is not None and "no local-part@domain" in reply.text
    assert check_address("postmistress", LIMITS, sender=False) is not None


def test_the_path_limit_counts_the_angle_brackets() -> None:
    # RFC 5321 4.5.3.1.3: 256 octets for the path, "<" and ">" included.
    limits = Limits(path=256, local_part=300, domain=300)
    fits = "a" * (254 - len("@castle.test")) + "@castle.test"
    assert check_address(fits, limits, sender=False) is None
    reply = check_address("a" + fits, limits, sender=True)
    assert reply is not None and (reply.code, reply.enhanced) == (553, "5.1.7")
    assert reply.text == "Bad sender address: longer than 254 octets"


def test_the_local_part_limit_is_64_octets_not_characters() -> None:
    # RFC 5321 4.5.3.1.1; "é" is two octets in UTF-8 (RFC 6531).
    assert check_address("a" * 64 + "@castle.test", LIMITS, sender=False) is None
    assert check_address("é" * 32 + "@castle.test", LIMITS, sender=False) is None
    for local in ("a" * 65, "é" * 32 + "a"):
        reply = check_address(local + "@castle.test", LIMITS, sender=False)
        assert reply is not None and reply.text == (
            "Bad recipient address: local-part over 64 octets"
        )


def test_the_domain_limit_is_255_octets_not_characters() -> None:
    # RFC 5321 4.5.3.1.2; a path limit out of the way so that the domain's own shows.
    limits = Limits(path=1000)
    assert check_address("a@" + "b" * 255, limits, sender=False) is None
    assert check_address("a@" + "ü" * 127 + "b", limits, sender=False) is None
    for domain in ("b" * 256, "ü" * 128):
        reply = check_address("a@" + domain, limits, sender=True)
        assert reply is not None and reply.text == "Bad sender address: domain over 255 octets"
        assert (reply.code, reply.enhanced) == (553, "5.1.7")


def test_the_local_part_is_what_stands_before_the_last_at_sign() -> None:
    # A quoted local part may hold "@" (RFC 5321 4.1.2); the domain never does.
    reply = check_address('"' + "a" * 62 + '@b"@castle.test', LIMITS, sender=False)
    assert reply is not None and "local-part over 64 octets" in reply.text
    assert check_address('"a@b"@castle.test', LIMITS, sender=False) is None


def test_the_path_limit_is_counted_in_octets() -> None:
    limits = Limits(path=256, local_part=300, domain=300)
    fits = "é" * ((254 - len("@castle.test")) // 2) + "@castle.test"
    assert len(fits.encode()) == 254
    assert check_address(fits, limits, sender=False) is None
    assert check_address("a" + fits, limits, sender=False) is not None


def test_the_recipient_limit_leaves_room_for_exactly_that_many() -> None:
    limits = Limits(recipients=3)
    assert [check_recipient_count(count, limits) is None for count in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_the_hop_refusal_counts_the_received_fields_and_names_a_loop() -> None:
    limits = Limits(hops=5)
    assert check_hops(4, limits) is None
    for count in (5, 6):
        reply = check_hops(count, limits)
        assert reply is not None
        assert f"{count} Received fields" in reply.text and "loop" in reply.text


# -- what a refused DATA says -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "bare", "offset"),
    [(b"ab\ncd\r\n.\r\n", "Bare <LF>", 2), (b"abc\rd\r\n.\r\n", "Bare <CR>", 3)],
)
def test_a_bare_line_end_refusal_names_it_its_byte_the_rule_and_the_close(
    data: bytes, bare: str, offset: int
) -> None:
    reader = DataReader(LIMITS)
    reader.feed(data)
    assert reader.problem is not None and reader.problem.closes
    text = reader.problem.reply.text
    assert text.startswith(f"{bare} in message data at byte {offset}: "), text
    assert ": lines must end with <CRLF> (RFC 5321 2.3.8)" in text, text
    assert text.endswith("; closing the connection"), text


def test_a_line_too_long_refusal_names_the_byte_and_the_limit() -> None:
    reader = DataReader(Limits(line=10))
    reader.feed(b"12345678\r\n123456789\r\n.\r\n")
    assert reader.problem is not None and not reader.problem.closes
    reply = reader.problem.reply
    assert (reply.code, reply.enhanced) == (500, "5.5.2")
    assert reply.text.startswith("Line too long at byte "), reply.text
    assert "at most 10 octets with its CRLF" in reply.text, reply.text


def test_a_message_of_exactly_the_size_limit_is_taken_and_one_octet_more_is_not() -> None:
    # RFC 1870: SIZE is the largest message the server accepts, so that one fits.
    message = b"x" * 8 + b"\r\n"
    taken = DataReader(Limits(size=len(message)))
    taken.feed(message + b".\r\n")
    assert taken.done and taken.problem is None and taken.message() == message
    refused = DataReader(Limits(size=len(message) - 1))
    refused.feed(message + b".\r\n")
    assert refused.done and refused.problem is not None
    assert (refused.problem.reply.code, refused.problem.reply.enhanced) == (552, "5.3.4")


def test_a_command_line_refusal_says_why_and_that_the_connection_closes() -> None:
    reply = check_command_line(b"NOOP\n", BareLineEnds.REFUSE)
    assert reply is not None
    assert reply.text.startswith("Bare <LF> in a command line: lines must end with <CRLF>")
    assert reply.text.endswith("(RFC 5321 2.3.8); closing the connection"), reply.text


def test_the_size_limit_counts_the_whole_message_however_it_is_fed() -> None:
    message = b"12345678\r\n" * 3
    data = message + b".\r\n"
    cases = [(size, chunk) for size in (len(message), len(message) - 1) for chunk in (1, len(data))]
    for size, chunk in cases:
        refused = size < len(message)
        reader = DataReader(Limits(size=size))
        for start in range(0, len(data), chunk):
            reader.feed(data[start : start + chunk])
        assert reader.done and (reader.problem is not None) is refused, (size, chunk)
        if reader.problem is not None:
            # Where the message passed the limit, in the data as the client sent it.
            assert size <= reader.problem.offset <= len(message), reader.problem
        else:
            assert reader.message() == message


def test_a_line_over_the_limit_is_refused_however_it_is_fed() -> None:
    line = b"." + b"x" * 9  # a dot first: read through the table, not the fast path
    for limit, refused in ((len(line) + 1, False), (len(line) + 2, False), (len(line), True)):
        for chunks in ([line + b"\r\n.\r\n"], [bytes([b]) for b in line + b"\r\n.\r\n"]):
            reader = DataReader(Limits(line=limit))
            for chunk in chunks:
                reader.feed(chunk)
            assert reader.done and (reader.problem is not None) is refused, (limit, chunks)
            if reader.problem is not None:
                assert "Line too long at byte " in reader.problem.reply.text
                # Refused where the line passed the limit: within its text, not at its end.
                assert limit <= reader.problem.offset <= len(line), reader.problem


def test_a_line_at_the_limit_after_a_run_of_plain_lines_is_taken() -> None:
    # The plain lines are read in one go; the dot-stuffed line after them is counted afresh.
    limit = 12
    stuffed = b".." + b"x" * (limit - 3)  # un-stuffed: limit - 2 octets, then CRLF
    reader = DataReader(Limits(line=limit))
    reader.feed(b"abc\r\ndef\r\n" + stuffed + b"\r\n.\r\n")
    assert reader.done and reader.problem is None, reader.problem
    assert reader.message() == b"abc\r\ndef\r\n" + stuffed[1:] + b"\r\n"


SAMPLES = [
    b"abc\r\ndef\r\n.\r\n",
    b"..a\r\n..bc\r\n.\r\n",  # dot-stuffed lines, read through the table
    b"a\nb\rc\r\n.\r\n",  # bare line ends
    b".\n.\rx\r\n.\r\n",  # a dot, then a bare line end
    b"\r\r\n.\r\n",
    b"x.y\r\n..\r\n.\r\n",
]


@pytest.mark.parametrize("mode", list(BareLineEnds))
@pytest.mark.parametrize("limits", [Limits(line=2), Limits(line=3), Limits(size=0), Limits(size=2)])
def test_every_refusal_points_at_a_byte_of_the_data_however_it_is_fed(
    mode: BareLineEnds, limits: Limits
) -> None:
    for data in SAMPLES:
        for chunk in (1, 2, len(data)):
            reader = DataReader(limits, mode)
            fed = sum(
                reader.feed(data[start : start + chunk]) for start in range(0, len(data), chunk)
            )
            assert reader.done and fed == len(data), (data, chunk)
            problem = reader.problem
            if problem is None:
                continue
            assert 0 <= problem.offset <= len(data), (data, chunk, problem)
            if problem.reply.code != 552:
                assert f" at byte {problem.offset}" in problem.reply.text, (data, chunk, problem)


def test_a_normalised_bare_line_end_after_a_dot_keeps_the_dot() -> None:
    # ".<LF>" and ".<CR>" at the start of a line are no end: the dot is text, not stuffing.
    reader = DataReader(LIMITS, BareLineEnds.NORMALISE)
    reader.feed(b"a\r\n.\nb\r\n.\rc\r\n.\r\n")
    assert reader.problem is None
    assert reader.message() == b"a\r\n.\r\nb\r\n.\r\nc\r\n"


def test_a_normalised_dot_line_counts_its_dot_toward_the_line_limit() -> None:
    # The line "." with its CRLF is three octets: over a limit of two, at the bare LF.
    reader = DataReader(Limits(line=2), BareLineEnds.NORMALISE)
    reader.feed(b".\n.\r\n")
    assert reader.problem is not None and reader.problem.reply.code == 500
    assert reader.problem.offset == 1, reader.problem


def test_each_line_is_counted_afresh_after_a_line_the_table_ended() -> None:
    limit = 12
    at_limit = b".." + b"x" * (limit - 3)  # un-stuffed: limit - 2 octets, then CRLF
    reader = DataReader(Limits(line=limit))
    reader.feed(b"..a\r\n" + at_limit + b"\r\n" + at_limit + b"\r\n.\r\n")
    assert reader.done and reader.problem is None, reader.problem
