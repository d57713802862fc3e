"""SMTP smuggling (CVE-2023-51764/51765/51766) against a real ``elsinore hop`` into a real
``elsinore srv``: whatever end of data a client forges, the second message it hides in the
first never arrives anywhere as a message of its own."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hop_testbed import HOST, Command, InProcessHop, hop, srv, stored, wait_until
from smtp_peers import Peer, free_port

from stack.mime import parse
from stack.smtp.policy import BareLineEnds
from stack.smtp.server import InboundConfig

# Every forged end the issue names, and more: (id, bytes, whether it holds a bare CR or LF).
FORGED_ENDS = [
    ("lf-dot-lf", b"\n.\n", True),
    ("cr-dot-cr", b"\r.\r", True),
    ("lf-dot-crlf", b"\n.\r\n", True),
    ("crlf-dot-lf", b"\r\n.\n", True),
    ("cr-dot-crlf", b"\r.\r\n", True),
    ("crlf-dot-cr", b"\r\n.\r", True),
    ("lf-dot-cr", b"\n.\r", True),
    ("cr-dot-lf", b"\r.\n", True),
    ("crlf-dot-nul-crlf", b"\r\n.\x00\r\n", False),
    ("crlf-nul-dot-crlf", b"\r\n\x00.\r\n", False),
    ("crlf-space-dot-crlf", b"\r\n .\r\n", False),
    ("crlf-dot-space-crlf", b"\r\n. \r\n", False),
]


class Client:
    """A client that writes exactly the bytes it is given, and reads replies."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.buffer = b""
        self.reply()  # the greeting

    def reply(self) -> bytes:
        lines: list[bytes] = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise AssertionError(f"connection closed after {lines!r}")
                self.buffer += chunk
            line, _, self.buffer = self.buffer.partition(b"\r\n")
            lines.append(line)
            if line[3:4] != b"-":
                return b"\n".join(lines)

    def command(self, line: bytes) -> bytes:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def close(self) -> None:
        self.sock.sendall(b"QUIT\r\n")
        self.sock.close()


def smuggle(port: int, name: str, end: bytes) -> tuple[bytes, bytes]:
    """One transaction whose data hides a second one behind ``end``; returns the reply to
    the data and the reply to the NOOP after it (a vulnerable server would answer the
    NOOP with a reply of the hidden transaction)."""
    client = Client(port)
    try:
        assert client.command(b"EHLO client.test").startswith(b"250")
        assert client.command(b"MAIL FROM:<sender@client.test>").startswith(b"250")
        assert client.command(b"RCPT TO:<victim@castle.test>").startswith(b"250")
        assert client.command(b"DATA").startswith(b"354")
        data = (
            b"Subject: first "
            + name.encode()
            + b"\r\n\r\nthe first message"
            + end
            + b"MAIL FROM:<admin@castle.test>\r\nRCPT TO:<victim@castle.test>\r\nDATA\r\n"
            + b"Subject: forged "
            + name.encode()
            + b"\r\n\r\nthe forged message\r\n.\r\n"
        )
        client.sock.sendall(data)
        answer = client.reply()
        if answer.startswith(b"521"):
            # Refused at the first bare line end, and the connection closed: nothing the
            # client sent after it was read as a command.
            assert client.sock.recv(1024) == b""
            return answer, b"closed"
        noop = client.command(b"NOOP")
        client.close()
        return answer, noop
    finally:
        client.sock.close()


@pytest.fixture(scope="module")
def hops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Command, Command, Path]]:
    """A refusing hop and a normalising hop, both forwarding into one sink."""
    base = tmp_path_factory.mktemp("smuggling")
    sink = srv(base / "sink", base / "srv.log").start()
    refusing = hop(base / "spool-refuse", sink.port, base / "refuse.log")
    normalising = hop(
        base / "spool-normalise", sink.port, base / "normalise.log", "--bare-newlines", "normalise"
    )
    try:
        yield refusing.start(), normalising.start(), base / "sink"
    finally:
        for command in (refusing, normalising, sink):
            command.close()


def test_forged_second_message_never_arrives(hops: tuple[Command, Command, Path]) -> None:
    refusing, normalising, sink = hops
    answers = {}
    for hop_command, mode in ((refusing, "refuse"), (normalising, "normalise")):
        for name, end, _ in FORGED_ENDS:
            answers[mode, name] = smuggle(hop_command.port, f"{mode} {name}", end)
    # A control message through each hop: once both are in, everything before them is too.
    for hop_command in (refusing, normalising):
        client = Client(hop_command.port)
        client.command(b"EHLO client.test")
        client.command(b"MAIL FROM:<sender@client.test>")
        client.command(b"RCPT TO:<victim@castle.test>")
        client.command(b"DATA")
        assert client.command(b"Subject: control\r\n\r\nlast\r\n.").startswith(b"250")
        client.close()
    wait_until(lambda: sum(b"Subject: control" in m for m in stored(sink)) == 2, 30, "the controls")

    for (mode, name), (answer, noop) in answers.items():
        bare = {n: b for n, _, b in FORGED_ENDS}[name]
        if mode == "refuse" and bare:
            assert answer.startswith(b"521 5.5.2 Bare <"), (mode, name, answer)
            assert noop == b"closed"
        else:
            assert answer.startswith(b"250 2.0.0 OK queued as "), (mode, name, answer)
            assert noop.startswith(b"250 2.0.0"), (mode, name, noop)

    subjects = []
    for message in stored(sink):
        subject = parse(message).get("Subject")
        assert subject is not None
        subjects.append(subject.unfolded().strip())
    assert not [s for s in subjects if s.startswith("forged")], subjects
    expected = sorted(
        [f"first normalise {name}" for name, _, _ in FORGED_ENDS]
        + [f"first refuse {name}" for name, _, bare in FORGED_ENDS if not bare]
        + ["control", "control"]
    )
    assert sorted(subjects) == expected
    for message in stored(sink):
        # Every line end that reached the sink is a CRLF: the next server cannot be fooled.
        assert b"\r" not in message.replace(b"\r\n", b"")
        assert b"\n" not in message.replace(b"\r\n", b"")


def test_a_client_ending_lines_with_bare_lf_is_answered_at_once(
    hops: tuple[Command, Command, Path],
) -> None:
    refusing, _, _ = hops
    client = Client(refusing.port)
    client.command(b"EHLO client.test")
    client.command(b"MAIL FROM:<sender@client.test>")
    client.command(b"RCPT TO:<victim@castle.test>")
    client.command(b"DATA")
    # It will never send <CRLF>.<CRLF>: without an answer now, it would wait for a timeout.
    client.sock.sendall(b"Subject: unix\n\nbody\n.\n")
    assert client.reply().startswith(b"521 5.5.2 Bare <LF> in message data at byte 13")
    assert client.sock.recv(1024) == b""
    client.sock.close()


def test_a_command_line_ending_in_bare_lf_is_refused_and_nothing_after_it_read(
    hops: tuple[Command, Command, Path],
) -> None:
    # Postfix's smtpd_forbid_bare_newline: the framing of commands is as much the client's
    # word as the framing of data, and a server down the line may split it differently.
    refusing, _, _ = hops
    client = Client(refusing.port)
    assert client.command(b"EHLO client.test").startswith(b"250")
    client.sock.sendall(b"MAIL FROM:<sender@client.test>\nRCPT TO:<victim@castle.test>\r\n")
    assert client.reply() == (
        b"521 5.5.2 Bare <LF> in a command line: lines must end with <CRLF>"
        b" (RFC 5321 2.3.8); closing the connection"
    )
    # No reply to the MAIL or to the RCPT pipelined after it: the connection is closed.
    assert client.buffer == b""
    assert client.sock.recv(1024) == b""
    client.sock.close()


def test_the_first_command_ending_in_bare_lf_is_refused_too(
    hops: tuple[Command, Command, Path],
) -> None:
    refusing, _, _ = hops
    client = Client(refusing.port)
    client.sock.sendall(b"EHLO client.test\n")
    assert client.reply().startswith(b"521 5.5.2 Bare <LF> in a command line")
    assert client.sock.recv(1024) == b""
    client.sock.close()


def test_a_normalising_hop_reads_commands_that_end_in_bare_lf(
    hops: tuple[Command, Command, Path],
) -> None:
    _, normalising, _ = hops
    client = Client(normalising.port)
    client.sock.sendall(b"EHLO client.test\n")
    assert client.reply().startswith(b"250")
    client.sock.sendall(b"MAIL FROM:<sender@client.test>\n")
    assert client.reply().startswith(b"250 2.1.0")
    client.sock.sendall(b"RCPT TO:<victim@castle.test>\n")
    assert client.reply().startswith(b"250 2.1.5")
    client.sock.sendall(b"RSET\n")
    assert client.reply().startswith(b"250")
    client.close()


# The same refusals in a hop in this process, where the session's own code can be watched.


@pytest.fixture
def strict(tmp_path: Path, peer: Peer) -> Iterator[InProcessHop]:
    running = InProcessHop(tmp_path, peer.port)
    try:
        yield running
    finally:
        running.close()


def test_in_process_a_command_line_ending_in_bare_lf_closes_before_the_next(
    strict: InProcessHop,
) -> None:
    client = Client(strict.port)
    assert client.command(b"EHLO client.test").startswith(b"250")
    client.sock.sendall(b"MAIL FROM:<sender@client.test>\nRCPT TO:<victim@castle.test>\r\n")
    assert client.reply().startswith(b"521 5.5.2 Bare <LF> in a command line")
    assert client.buffer == b""
    assert client.sock.recv(1024) == b""
    client.sock.close()


def test_in_process_bare_lf_in_data_is_answered_at_once_and_nothing_is_stored(
    strict: InProcessHop,
) -> None:
    client = Client(strict.port)
    client.command(b"EHLO client.test")
    client.command(b"MAIL FROM:<sender@client.test>")
    client.command(b"RCPT TO:<victim@castle.test>")
    client.command(b"DATA")
    client.sock.sendall(b"Subject: unix\n\nbody\n.\nMAIL FROM:<admin@castle.test>\r\n")
    assert client.reply() == (
        b"521 5.5.2 Bare <LF> in message data at byte 13: lines must end with <CRLF>"
        b" (RFC 5321 2.3.8); closing the connection"
    )
    assert client.buffer == b""
    assert client.sock.recv(1024) == b""
    client.sock.close()
    assert strict.spool.counts() == {}


def test_in_process_a_normalising_hop_stores_bare_line_ends_as_crlf(
    tmp_path: Path, peer: Peer
) -> None:
    config = InboundConfig(hostname="hop.castle.test", bare_line_ends=BareLineEnds.NORMALISE)
    # Downstream down: the message stays in the spool, where its stored bytes are read.
    running = InProcessHop(tmp_path, free_port(), config=config)
    try:
        client = Client(running.port)
        client.sock.sendall(b"EHLO client.test\n")
        assert client.reply().startswith(b"250")
        client.command(b"MAIL FROM:<sender@client.test>")
        client.command(b"RCPT TO:<victim@castle.test>")
        client.command(b"DATA")
        answer = client.command(b"Subject: unix\n\nbody\r.\n..\r\n.")
        assert answer.startswith(b"250 2.0.0 OK queued as "), answer
        client.close()
        data = running.spool.data(answer.rsplit(b" ", 1)[-1].decode())
    finally:
        running.close()
    # After a bare line end the reader is inside a line: its dots are text, never unstuffed.
    assert data is not None
    assert data.endswith(b"Subject: unix\r\n\r\nbody\r\n.\r\n..\r\n")
