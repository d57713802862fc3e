"""The SMTP policy of a hop, without I/O: limits, replies, envelope checks and strict DATA.

Theory of operation
-------------------
The asyncio shell (:mod:`stack.smtp.server`) moves bytes; everything it decides comes from
here, as plain values, so that every rule can be tested without a socket.

The one rule that matters most is where a message ends.  RFC 5321 4.1.1.4 ends the mail data
at ``<CRLF>.<CRLF>`` and nowhere else.  Servers that also ended it at ``<LF>.<LF>``,
``<CR>.<CR>`` or mixtures of the two let a client hide a second transaction inside the first
one's data, which a more lenient or stricter server down the line then split differently:
SMTP smuggling (CVE-2023-51764, -51765, -51766).  :class:`DataReader` is a state machine over
bytes whose only end is ``<CRLF>.<CRLF>``.  A CR that is not followed by LF, or an LF that is
not preceded by CR, is a *bare line end*: it never ends the data and never starts a line that
could end it.  The hop then refuses the message at once and closes the connection
(:attr:`BareLineEnds.REFUSE`, the default, like Postfix's ``smtpd_forbid_bare_newline``), or
stores it with every bare line end written as CRLF (:attr:`BareLineEnds.NORMALISE`); either
way the forged second message is never a message of its own.  A command line that ends in a
bare LF is refused or read the same way (:func:`check_command_line`).

Rules of this module: every state of :class:`DataReader` and every transition between them
lives in :data:`DATA_TRANSITIONS`; the reader's loop only applies that table (with one fast
path, the run of ordinary bytes inside a line, which the table maps to itself).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# -- limits ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """What a hop accepts (RFC 5321 4.5.3.1).

    ``line`` counts a text line of the message with its CRLF, after un-dot-stuffing;
    ``command`` a command line with its CRLF; ``size`` the message as stored (SIZE, RFC 1870);
    ``hops`` the ``Received:`` fields a message may already have (Postfix's
    ``hopcount_limit``).
    """

    line: int = 1000
    command: int = 512
    recipients: int = 100
    size: int = 32 * 1024 * 1024
    local_part: int = 64
    domain: int = 255
    path: int = 256
    hops: int = 50


#: The most octets of one value chosen by a client or a remote server that a log line repeats:
#: escaped by ``safe_text`` and cut there, so that one log line stays one and stays short.
LOG_LIMIT = 200


# -- replies --------------------------------------------------------------------------------

_ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3}(?: |$)")
_REPLY = re.compile(r"(\d{3})([ -])(.*)", re.DOTALL)

#: The enhanced status code (RFC 3463) a reply gets when the text that made it had none:
#: by reply code, from RFC 5321 4.2.2 and RFC 3463's classes.
DEFAULT_ENHANCED: dict[int, str] = {
    211: "2.0.0",
    214: "2.0.0",
    220: "2.0.0",
    221: "2.0.0",
    235: "2.7.0",
    250: "2.0.0",
    251: "2.1.5",
    252: "2.5.0",
    421: "4.3.0",
    450: "4.2.0",
    451: "4.3.0",
    452: "4.3.1",
    454: "4.7.0",
    455: "4.5.4",
    500: "5.5.2",
    501: "5.5.4",
    502: "5.5.1",
    503: "5.5.1",
    504: "5.5.4",
    530: "5.7.0",
    534: "5.7.9",
    535: "5.7.8",
    538: "5.7.11",
    550: "5.0.0",
    551: "5.1.6",
    552: "5.3.4",
    553: "5.1.3",
    554: "5.0.0",
    555: "5.5.4",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply: the code, the enhanced status code (RFC 2034) and one line of text."""

    code: int
    enhanced: str | None
    text: str

    def __str__(self) -> str:
        if self.enhanced is None:
            return f"{self.code} {self.text}"
        return f"{self.code} {self.enhanced} {self.text}"

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 400


def with_enhanced(line: str) -> str:
    """``line`` (one reply line, ``"250 OK"`` or ``"250-SIZE 10"``) with an enhanced status
    code after the reply code when it has none, so that every 2xx, 4xx and 5xx reply carries
    one as ENHANCEDSTATUSCODES promises (RFC 2034 3).  3xx replies and lines that are not
    replies are returned as they are."""
    match = _REPLY.fullmatch(line)
    if match is None:
        return line
    code = int(match.group(1))
    text = match.group(3)
    if code // 100 == 3 or _ENHANCED.match(text):
        return line
    enhanced = DEFAULT_ENHANCED.get(code, f"{code // 100}.0.0")
    return f"{match.group(1)}{match.group(2)}{enhanced} {text}".rstrip()


OK = Reply(250, "2.0.0", "OK")
SENDER_OK = Reply(250, "2.1.0", "Sender OK")
RECIPIENT_OK = Reply(250, "2.1.5", "Recipient OK")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")
MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds the fixed maximum message size")
SPOOL_TROUBLE = Reply(451, "4.3.0", "Temporary failure writing the queue; try again later")
ACCESS_DENIED = Reply(554, "5.7.1", "Access denied: this hop takes mail from its upstream only")
NO_RECIPIENTS = Reply(554, "5.5.1", "No valid recipients")
SHUTTING_DOWN = Reply(421, "4.3.2", "Service shutting down; try again later")


def queued(queue_id: str) -> Reply:
    return Reply(250, "2.0.0", f"OK queued as {queue_id}")


# -- envelope -------------------------------------------------------------------------------

# What may stand in an address after aiosmtpd has parsed the path: printable text (UTF-8 is
# allowed under SMTPUTF8), no space, no controls, no angle brackets.
_ADDRESS_UNSAFE = re.compile(r"[\x00-\x20\x7f<>]")
# aiosmtpd keeps a byte that is not UTF-8 as a lone surrogate (surrogateescape).  RFC 6531
# allows UTF-8 only, and the spool stores addresses as UTF-8: accepted, such an address
# would make every DATA after it fail with 451, and the client try again for days.
_NOT_UTF8 = re.compile("[\ud800-\udfff]")
_HELO = re.compile(r"[!-~\u0080-\U0010ffff]+")


def check_helo(name: str) -> Reply | None:
    """None when ``name`` can stand in EHLO/HELO (one word, RFC 5321 4.1.1.1), else the
    501 to answer.  The name is not looked up: RFC 5321 4.1.4 forbids refusing a client for
    a HELO that does not match its address."""
    if not _HELO.fullmatch(name):
        return Reply(501, "5.5.4", "HELO/EHLO takes one domain name or address literal")
    return None


def check_address(address: str, limits: Limits, *, sender: bool) -> Reply | None:
    """None when ``address`` (a reverse-path when ``sender``, else a forward-path, without
    its angle brackets) is acceptable, else the reply that refuses it (RFC 5321 4.5.3.1)."""
    if sender and address == "":
        return None  # the null reverse-path of bounces
    what = "sender" if sender else "recipient"
    code = "5.1.7" if sender else "5.1.3"
    position = _ADDRESS_UNSAFE.search(address)
    if position is not None:
        return Reply(
            553, code, f"Bad {what} address syntax: forbidden character at {position.start()}"
        )
    position = _NOT_UTF8.search(address)
    if position is not None:
        return Reply(553, code, f"Bad {what} address: not UTF-8 at character {position.start()}")
    local, at, domain = address.rpartition("@")
    if not at and not sender and address.lower() == "postmaster":
        return None  # RFC 5321 4.5.1: RCPT TO:<Postmaster>, in any case, needs no domain
    if not at or not local or not domain:
        return Reply(553, code, f"Bad {what} address syntax: no local-part@domain")
    if len(address.encode("utf-8", "surrogateescape")) + 2 > limits.path:
        return Reply(553, code, f"Bad {what} address: longer than {limits.path - 2} octets")
    if len(local.encode("utf-8", "surrogateescape")) > limits.local_part:
        return Reply(553, code, f"Bad {what} address: local-part over {limits.local_part} octets")
    if len(domain.encode("utf-8", "surrogateescape")) > limits.domain:
        return Reply(553, code, f"Bad {what} address: domain over {limits.domain} octets")
    return None


def check_recipient_count(count: int, limits: Limits) -> Reply | None:
    """None while another recipient fits, else 452 (RFC 5321 4.5.3.1.10: the client sends
    the rest in another transaction)."""
    return TOO_MANY_RECIPIENTS if count >= limits.recipients else None


def check_hops(received_fields: int, limits: Limits) -> Reply | None:
    """None while a message has passed fewer hops than the limit, else 554 5.4.6: a message
    that went round a loop of forwards (RFC 5321 6.3) stops here instead of going round
    forever."""
    if received_fields >= limits.hops:
        return Reply(554, "5.4.6", f"Too many hops: {received_fields} Received fields (loop?)")
    return None


# -- strict DATA ----------------------------------------------------------------------------


class BareLineEnds(enum.Enum):
    """What to do with a message whose data, or a command line, has a CR or LF that is not
    part of a CRLF."""

    REFUSE = "refuse"
    NORMALISE = "normalise"


def check_command_line(line: bytes, bare_line_ends: BareLineEnds) -> Reply | None:
    """None when ``line``, a command line as read up to its LF, may be obeyed; else the 521
    that refuses it before the connection is closed.

    A command line that ends in a bare LF is refused when bare line ends are (Postfix's
    ``smtpd_forbid_bare_newline`` refuses the same, with the same 521): where the client's
    commands end is as much its word as where its data ends, and a server that split them
    differently would read other commands.  Normalised, the line is read as if it ended in
    CRLF, as aiosmtpd reads it.
    """
    if bare_line_ends is BareLineEnds.REFUSE and line.endswith(b"\n") and line[-2:-1] != b"\r":
        return Reply(
            521,
            "5.5.2",
            "Bare <LF> in a command line: lines must end with <CRLF> (RFC 5321 2.3.8); "
            "closing the connection",
        )
    return None


class DataState(enum.Enum):
    """Where :class:`DataReader` stands; the bytes it holds back are named in the value."""

    LINE_START = "at the start of a line"
    TEXT = "inside a line"
    CR = "after a CR (held back)"
    DOT = "after a dot at the start of a line (held back)"
    DOT_CR = "after a dot and a CR at the start of a line (held back)"
    DONE = "after <CRLF>.<CRLF>"


class Byte(enum.Enum):
    """The classes of byte the state machine tells apart."""

    CR = "CR"
    LF = "LF"
    DOT = "."
    OTHER = "other"


class Bare(enum.Enum):
    """A bare line end, found by a transition."""

    CR = "Bare <CR>"
    LF = "Bare <LF>"


@dataclass(frozen=True, slots=True)
class Transition:
    """What one byte does: the held-back bytes it writes (with the CRLF that ends their
    line when ``line_end``), whether the byte itself is written after them (``keep``), the
    bare line end it reveals, and the next state."""

    next: DataState
    write: bytes = b""
    keep: bool = False
    bare: Bare | None = None

    @property
    def line_end(self) -> bool:
        return self.write.endswith(b"\r\n")


_S = DataState
_B = Byte
_T = Transition

#: Every transition of the strict DATA reader.  Only CR LF at the start of a line after a
#: dot ends the data.  After a bare line end the reader is inside a line, not at its start,
#: so a dot there is text, neither un-stuffed nor an end.  ``write`` is what NORMALISE
#: stores (a bare line end becomes CRLF); REFUSE stores nothing once a bare line end is seen.
DATA_TRANSITIONS: dict[tuple[DataState, Byte], Transition] = {
    (_S.LINE_START, _B.CR): _T(_S.CR),
    (_S.LINE_START, _B.LF): _T(_S.TEXT, b"\r\n", bare=Bare.LF),
    (_S.LINE_START, _B.DOT): _T(_S.DOT),
    (_S.LINE_START, _B.OTHER): _T(_S.TEXT, keep=True),
    (_S.TEXT, _B.CR): _T(_S.CR),
    (_S.TEXT, _B.LF): _T(_S.TEXT, b"\r\n", bare=Bare.LF),
    (_S.TEXT, _B.DOT): _T(_S.TEXT, keep=True),
    (_S.TEXT, _B.OTHER): _T(_S.TEXT, keep=True),
    (_S.CR, _B.CR): _T(_S.CR, b"\r\n", bare=Bare.CR),
    (_S.CR, _B.LF): _T(_S.LINE_START, b"\r\n"),
    (_S.CR, _B.DOT): _T(_S.TEXT, b"\r\n", keep=True, bare=Bare.CR),
    (_S.CR, _B.OTHER): _T(_S.TEXT, b"\r\n", keep=True, bare=Bare.CR),
    # A dot-stuffed line: the first dot goes (RFC 5321 4.5.2), the byte after it stays.
    (_S.DOT, _B.CR): _T(_S.DOT_CR),
    (_S.DOT, _B.LF): _T(_S.TEXT, b".\r\n", bare=Bare.LF),
    (_S.DOT, _B.DOT): _T(_S.TEXT, keep=True),
    (_S.DOT, _B.OTHER): _T(_S.TEXT, keep=True),
    (_S.DOT_CR, _B.LF): _T(_S.DONE),
    (_S.DOT_CR, _B.CR): _T(_S.CR, b".\r\n", bare=Bare.CR),
    (_S.DOT_CR, _B.DOT): _T(_S.TEXT, b".\r\n", keep=True, bare=Bare.CR),
    (_S.DOT_CR, _B.OTHER): _T(_S.TEXT, b".\r\n", keep=True, bare=Bare.CR),
}

_CLASS = [Byte.OTHER] * 256
_CLASS[0x0D] = Byte.CR
_CLASS[0x0A] = Byte.LF
_CLASS[0x2E] = Byte.DOT
_LINE_BREAK = re.compile(rb"[\r\n]")
# One or more lines with a CRLF at their end, no other CR or LF, and no dot first.  Every
# quantifier is followed by a class it cannot overlap, so the match never backtracks.
_PLAIN_LINES = re.compile(rb"(?:[^.\r\n][^\r\n]*+\r\n|\r\n)++")


@dataclass(frozen=True, slots=True)
class DataProblem:
    """Why the data read cannot be accepted: a reply, and where (offset in the data as the
    client sent it, after the 354).

    ``closes``: the client's line ends cannot be trusted to show where its data ends, so the
    server answers at once and closes the connection rather than read on for a
    ``<CRLF>.<CRLF>`` that a client ending lines with a bare LF never sends (Postfix's
    ``smtpd_forbid_bare_newline`` does the same, with the same 521).  Other problems leave
    the framing intact: the reply comes after the end of the data."""

    reply: Reply
    offset: int
    closes: bool = False


class DataReader:
    """Reads mail data as the client sends it after ``354`` and finds its end.

    :meth:`feed` takes bytes in chunks of any size and returns how many of them belonged to
    the data; once :attr:`done`, the rest is the client's next command (pipelining).  The
    message, un-dot-stuffed, is :meth:`message`; :attr:`problem` says why it must be refused
    instead (a bare line end under REFUSE, a line over the limit, the size over the limit).
    The whole data is read even then, up to its real end, so that nothing inside it is ever
    taken for a command.
    """

    __slots__ = (
        "_chunks",
        "_line",
        "_offset",
        "_size",
        "bare_line_ends",
        "limits",
        "problem",
        "state",
    )

    def __init__(self, limits: Limits, bare_line_ends: BareLineEnds = BareLineEnds.REFUSE):
        self.limits = limits
        self.bare_line_ends = bare_line_ends
        self.state = DataState.LINE_START
        self.problem: DataProblem | None = None
        self._chunks: list[bytes] = []
        self._size = 0  # bytes of message stored or counted
        self._line = 0  # bytes of the current line, un-stuffed, without its line end
        self._offset = 0  # bytes of data fed so far

    @property
    def done(self) -> bool:
        return self.state is DataState.DONE

    def feed(self, data: bytes) -> int:
        """Read ``data``; returns how many of its bytes were mail data (all of them unless
        the end was among them)."""
        position = 0
        end = len(data)
        table = DATA_TRANSITIONS
        while position < end and self.state is not DataState.DONE:
            if self.state is DataState.LINE_START:
                # The fast path of whole lines: a run of lines that start with no dot and
                # hold no CR or LF but their CRLF is what the table writes unchanged
                # (LINE_START -> TEXT ... -> CR -> LINE_START), so it is written in one go.
                run = _PLAIN_LINES.match(data, position)
                if run is not None:
                    stop = run.end()
                    text = run.group()
                    longest = max(map(len, text.split(b"\r\n")))
                    if longest + 2 <= self.limits.line:
                        self._write(text, 0, self._offset + stop)
                        position = stop
                        continue
            if self.state is DataState.TEXT:
                # The fast path: the table maps every byte but CR and LF to TEXT, written.
                match = _LINE_BREAK.search(data, position)
                stop = end if match is None else match.start()
                if stop > position:
                    self._write(data[position:stop], stop - position, self._offset + stop)
                    position = stop
                    continue
            byte = data[position]
            transition = table[self.state, _CLASS[byte]]
            if transition.bare is not None:
                # A bare CR is seen at the byte after it; the reply names the CR itself.
                back = 1 if transition.bare is Bare.CR else 0
                self._bare(transition.bare, self._offset + position - back)
            if transition.write:
                # Held-back bytes, then the CRLF that ends their line when there is one.
                held = transition.write
                if transition.line_end:
                    self._write(held[:-2], len(held) - 2, self._offset + position)
                    self._write(b"\r\n", 0, self._offset + position)
                    self._check_line(self._offset + position)
                    self._line = 0
                else:
                    self._write(held, len(held), self._offset + position)
            if transition.keep:
                self._write(data[position : position + 1], 1, self._offset + position)
            self.state = transition.next
            position += 1
        self._offset += position
        return position

    def message(self) -> bytes:
        """The message read, with dot-stuffing undone (and bare line ends made CRLF under
        NORMALISE); only meaningful once :attr:`done` and :attr:`problem` is None."""
        return b"".join(self._chunks)

    def _write(self, text: bytes, line_bytes: int, offset: int) -> None:
        # ``offset``: where in the data fed the bytes written end, for the reply.
        self._line += line_bytes
        self._size += len(text)
        if self.problem is not None:
            return
        if self._size > self.limits.size:
            self._refuse(MESSAGE_TOO_BIG, offset)
        elif self._line + 2 > self.limits.line:
            self._check_line(offset)
        else:
            self._chunks.append(text)

    def _check_line(self, offset: int) -> None:
        if self._line + 2 > self.limits.line and self.problem is None:
            self._refuse(
                Reply(
                    500,
                    "5.5.2",
                    f"Line too long at byte {offset}: a line of mail data may have at most "
                    f"{self.limits.line} octets with its CRLF (RFC 5321 4.5.3.1.6)",
                ),
                offset,
            )

    def _bare(self, bare: Bare, offset: int) -> None:
        if self.bare_line_ends is BareLineEnds.REFUSE and self.problem is None:
            self._refuse(
                Reply(
                    521,
                    "5.5.2",
                    f"{bare.value} in message data at byte {offset}: "
                    "lines must end with <CRLF> (RFC 5321 2.3.8); closing the connection",
                ),
                offset,
                closes=True,
            )

    def _refuse(self, reply: Reply, offset: int, *, closes: bool = False) -> None:
        self.problem = DataProblem(reply, offset, closes)
        self._chunks.clear()  # nothing of a refused message is kept


__all__ = [
    "ACCESS_DENIED",
    "DATA_TRANSITIONS",
    "DEFAULT_ENHANCED",
    "LOG_LIMIT",
    "MESSAGE_TOO_BIG",
    "NO_RECIPIENTS",
    "OK",
    "RECIPIENT_OK",
    "SENDER_OK",
    "SHUTTING_DOWN",
    "SPOOL_TROUBLE",
    "TOO_MANY_RECIPIENTS",
    "Bare",
    "BareLineEnds",
    "Byte",
    "DataProblem",
    "DataReader",
    "DataState",
    "Limits",
    "Reply",
    "Transition",
    "check_address",
    "check_command_line",
    "check_helo",
    "check_hops",
    "check_recipient_count",
    "queued",
    "with_enhanced",
]
