"""The hop's SMTP policy without sockets: where mail data ends, limits, replies, addresses."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from linear_time import MAX_RATIO, growth

from harness.strategies import wire_messages
from harness.strategies.grammar.mime import Entity
from stack.smtp.policy import (
    DATA_TRANSITIONS,
    BareLineEnds,
    Byte,
    DataReader,
    DataState,
    Limits,
    check_address,
    check_command_line,
    check_helo,
    check_hops,
    check_recipient_count,
    with_enhanced,
)

LIMITS = Limits()


def dot_stuff(message: bytes) -> bytes:
    """The message as a client sends it after 354 (RFC 5321 4.5.2), with its end."""
    lines = message.split(b"\r\n")
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)
    if not stuffed.endswith(b"\r\n") and stuffed:
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


def read(
    data: bytes, mode: BareLineEnds = BareLineEnds.REFUSE, cuts: list[int] | None = None
) -> tuple[DataReader, int]:
    reader = DataReader(LIMITS, mode)
    consumed = 0
    edges = sorted({0, *(cuts or []), len(data)})
    for start, stop in itertools.pairwise(edges):
        consumed += reader.feed(data[start:stop])
        if reader.done:
            break
    return reader, consumed


# -- the table ------------------------------------------------------------------------------


def test_every_state_and_byte_class_has_one_transition() -> None:
    live = [state for state in DataState if state is not DataState.DONE]
    assert set(DATA_TRANSITIONS) == {(state, byte) for state in live for byte in Byte}


def test_only_dot_cr_lf_at_the_start_of_a_line_ends_the_data() -> None:
    ends = [key for key, t in DATA_TRANSITIONS.items() if t.next is DataState.DONE]
    assert ends == [(DataState.DOT_CR, Byte.LF)]
    into_line_start = {key for key, t in DATA_TRANSITIONS.items() if t.next is DataState.LINE_START}
    # A line starts only after a real CRLF: never after a bare CR or a bare LF.
    assert into_line_start == {(DataState.CR, Byte.LF)}


# -- end of data ----------------------------------------------------------------------------


@given(wire_messages(), st.lists(st.integers(min_value=0, max_value=5000), max_size=8))
def test_a_dot_stuffed_message_reads_back_exactly_in_any_chunking(
    entity: Entity, cuts: list[int]
) -> None:
    message = entity.data if entity.data.endswith(b"\r\n") else entity.data + b"\r\n"
    # A binary body may have longer lines, or a CR or LF alone: it needs BINARYMIME and
    # CHUNKING (RFC 3030), which the hop does not offer; DATA cannot carry it.
    assume(max(map(len, message.split(b"\r\n"))) + 2 <= LIMITS.line)
    unbroken = message.replace(b"\r\n", b"")
    assume(b"\r" not in unbroken and b"\n" not in unbroken)
    wire = dot_stuff(message)
    reader, consumed = read(wire + b"QUIT\r\n", cuts=cuts)
    assert reader.done and reader.problem is None
    assert consumed == len(wire), "the bytes after the end are the next command's"
    assert reader.message() == message


# Bytes that matter to the end of data, and some that do not, in any order.
_DATA_BYTES = st.lists(
    st.sampled_from([b"\r", b"\n", b".", b"\r\n", b"\r\n.\r\n", b"a", b"\x00", b" "]),
    max_size=40,
).map(b"".join)


@given(_DATA_BYTES, st.lists(st.integers(min_value=0, max_value=200), max_size=6))
def test_data_ends_exactly_after_the_first_crlf_dot_crlf(data: bytes, cuts: list[int]) -> None:
    if data.startswith(b".\r\n"):
        expected: int | None = 3
    elif b"\r\n.\r\n" in data:
        expected = data.find(b"\r\n.\r\n") + 5
    else:
        expected = None
    for mode in BareLineEnds:
        reader, consumed = read(data, mode, cuts)
        if expected is None:
            assert not reader.done and consumed == len(data)
        else:
            assert reader.done and consumed == expected
            if reader.problem is None:
                # What is stored has no line end but CRLF, whatever the client sent.
                stored = reader.message()
                assert b"\r" not in stored.replace(b"\r\n", b"")
                assert b"\n" not in stored.replace(b"\r\n", b"")


def test_dot_stuffed_line_is_unstuffed_once() -> None:
    reader, _ = read(b"..x\r\n...\r\n.\r\n")
    assert reader.message() == b".x\r\n..\r\n"


def test_empty_message_ends_at_the_first_dot_line() -> None:
    reader, consumed = read(b".\r\nRSET\r\n")
    assert reader.done and reader.message() == b"" and consumed == 3


# Every way a lenient server has been fooled into ending the data early (SMTP smuggling).
# (forged end, whether it holds a bare line end)
SMUGGLED_ENDS = [
    (b"\n.\n", True),
    (b"\r.\r", True),
    (b"\n.\r\n", True),
    (b"\r\n.\n", True),
    (b"\r.\r\n", True),
    (b"\r\n.\r", True),
    (b"\n.\r", True),
    (b"\r.\n", True),
    (b"\r\n.\x00\r\n", False),
    (b"\r\n\x00.\r\n", False),
    (b"\r\n .\r\n", False),
]


# Ids in printable ASCII without backslashes (CR, LF, NUL spelt out): pytest escapes any other
# id again each time it collects in one process, as mutmut does, and then cannot find the test.
END_IDS = [
    e.decode().replace("\r", "<CR>").replace("\n", "<LF>").replace("\x00", "<NUL>")
    for e, _ in SMUGGLED_ENDS
]


@pytest.mark.parametrize(("end", "bare"), SMUGGLED_ENDS, ids=END_IDS)
@pytest.mark.parametrize("mode", list(BareLineEnds))
def test_a_forged_end_never_ends_the_data(end: bytes, bare: bool, mode: BareLineEnds) -> None:
    forged = b"MAIL FROM:<evil@bad.test>\r\nRCPT TO:<victim@castle.test>\r\nDATA\r\nforged\r\n"
    wire = b"Subject: first\r\n\r\nbody" + end + forged + b".\r\n"
    reader, consumed = read(wire + b"QUIT\r\n", mode)
    assert reader.done and consumed == len(wire), "only the real <CRLF>.<CRLF> ends it"
    assert (reader.problem is not None) == (bare and mode is BareLineEnds.REFUSE)
    if mode is BareLineEnds.REFUSE and bare:
        assert reader.problem is not None and reader.problem.reply.code == 521
    if reader.problem is None:
        # Normalised (or a NUL/space, which is text): the forged commands are body text.
        assert b"MAIL FROM:<evil@bad.test>" in reader.message()
        assert b"\r" not in reader.message().replace(b"\r\n", b"")
        assert b"\n" not in reader.message().replace(b"\r\n", b"")


@pytest.mark.parametrize(("data", "offset"), [(b"ab\ncd\r\n.\r\n", 2), (b"ab\rcd\r\n.\r\n", 2)])
def test_bare_line_end_is_refused_with_its_offset(data: bytes, offset: int) -> None:
    reader, _ = read(data)
    assert reader.done and reader.problem is not None
    assert reader.problem.offset == offset
    assert str(reader.problem.reply).startswith("521 5.5.2 Bare <")
    assert reader.problem.closes
    assert f"byte {offset}" in reader.problem.reply.text


def test_bare_line_ends_are_normalised_to_crlf_when_configured() -> None:
    reader, _ = read(b"a\nb\rc\r\r\n.\r\n", BareLineEnds.NORMALISE)
    assert reader.problem is None
    assert reader.message() == b"a\r\nb\r\nc\r\n\r\n"


def test_a_cr_split_from_its_lf_across_chunks_is_not_bare() -> None:
    data = b"line\r\n.\r\n"
    for cut in range(1, len(data)):
        reader, consumed = read(data, cuts=[cut])
        assert reader.problem is None and reader.message() == b"line\r\n", cut
        assert consumed == len(data)


# -- limits ---------------------------------------------------------------------------------


def test_line_of_1000_octets_with_crlf_is_accepted_and_1001_refused() -> None:
    ok, _ = read(b"x" * 998 + b"\r\n.\r\n")
    assert ok.problem is None
    long, _ = read(b"x" * 999 + b"\r\n.\r\n")
    assert long.done and long.problem is not None
    assert "Line too long" in long.problem.reply.text
    assert not long.problem.closes, "the framing is intact: the reply comes after the end"
    # The transparent dot does not count toward the line.
    stuffed, _ = read(b"." + b"." * 998 + b"\r\n.\r\n")
    assert stuffed.problem is None


def test_message_over_size_is_refused_but_read_to_its_end() -> None:
    reader = DataReader(Limits(size=100))
    wire = b"x\r\n" * 100 + b".\r\nQUIT\r\n"
    consumed = reader.feed(wire)
    assert reader.done and consumed == len(wire) - len(b"QUIT\r\n")
    assert reader.problem is not None and str(reader.problem.reply).startswith("552 5.3.4")
    assert reader.message() == b""


def test_reading_data_takes_linear_time() -> None:
    def run(data: bytes) -> None:
        DataReader(Limits(size=1 << 30)).feed(data)

    line = b"some text of a line, and . dots .. here\r\n..stuffed\r\n"
    assert growth(run, line * 2000 + b".\r\n", line * 8000 + b".\r\n") < MAX_RATIO


# -- replies and envelope -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("250 OK", "250 2.0.0 OK"),
        ("503 Error: need RCPT command", "503 5.5.1 Error: need RCPT command"),
        ("553 5.1.3 Error: malformed address", "553 5.1.3 Error: malformed address"),
        ("354 End data with <CR><LF>.<CR><LF>", "354 End data with <CR><LF>.<CR><LF>"),
        ("221 Bye", "221 2.0.0 Bye"),
        ("500 Error: bad syntax", "500 5.5.2 Error: bad syntax"),
    ],
)
def test_every_2xx_4xx_5xx_reply_gets_an_enhanced_status_code(line: str, expected: str) -> None:
    assert with_enhanced(line) == expected


@pytest.mark.parametrize("name", ["mx.castle.test", "[127.0.0.1]", "[IPv6:::1]", "bücher.test"])
def test_helo_of_one_word_is_accepted(name: str) -> None:
    assert check_helo(name) is None


@pytest.mark.parametrize("name", ["two words", "a\x00b", ""])
def test_helo_with_spaces_or_controls_is_refused(name: str) -> None:
    reply = check_helo(name)
    assert reply is not None and reply.code == 501


def test_null_sender_is_accepted_and_null_recipient_is_not() -> None:
    assert check_address("", LIMITS, sender=True) is None
    reply = check_address("", LIMITS, sender=False)
    assert reply is not None and reply.code == 553


@pytest.mark.parametrize(
    "address", ["a" * 65 + "@castle.test", "a@" + "b" * 256, "no-at-sign", "a b@castle.test"]
)
def test_address_over_limits_or_malformed_is_refused(address: str) -> None:
    reply = check_address(address, LIMITS, sender=False)
    assert reply is not None and reply.code == 553 and reply.enhanced == "5.1.3"


def test_recipient_limit_answers_452() -> None:
    limits = Limits(recipients=2)
    assert check_recipient_count(1, limits) is None
    reply = check_recipient_count(2, limits)
    assert reply is not None and str(reply) == "452 4.5.3 Too many recipients"


def test_hop_limit_refuses_at_the_limit() -> None:
    assert check_hops(49, LIMITS) is None
    reply = check_hops(50, LIMITS)
    assert reply is not None and (reply.code, reply.enhanced) == (554, "5.4.6")


@pytest.mark.parametrize(
    ("line", "mode", "refused"),
    [
        (b"NOOP\r\n", BareLineEnds.REFUSE, False),
        (b"NOOP\n", BareLineEnds.REFUSE, True),
        (b"\n", BareLineEnds.REFUSE, True),
        (b"NOOP x\ry\r\n", BareLineEnds.REFUSE, False),  # the argument checks judge a CR
        (b"NOOP\n", BareLineEnds.NORMALISE, False),
    ],
)
def test_a_command_line_ending_in_bare_lf_is_refused_unless_normalised(
    line: bytes, mode: BareLineEnds, refused: bool
) -> None:
    reply = check_command_line(line, mode)
    assert (reply is not None) == refused
    if reply is not None:
        assert (reply.code, reply.enhanced) == (521, "5.5.2")
