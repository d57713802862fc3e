"""``elsinore srv`` and ``elsinore send`` as a user runs them (real processes, real sockets), and
in the test's own process through click's runner, the only calls a mutation run can see."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import click
import pytest
from click.testing import CliRunner
from click.testing import Result as ClickResult
from hop_testbed import HOST, listening, wait_until
from smtp_peers import Peer, free_port

from stack.errors import ListenError
from stack.smtp.client import RecipientResult
from stack.smtp.tls import LocalAuthority
from stack.smtp.tools import EX_TEMPFAIL, EmlDirectory, Maildir, _Names, exit_status
from stack.smtp.tools import send as send_command
from stack.smtp.tools import srv as srv_command

pytestmark = pytest.mark.timeout(60)

ELSINORE = [sys.executable, "-m", "stack"]
MESSAGES = [
    b"From: hamlet@castle.test\r\nTo: ophelia@castle.test\r\nSubject: one\r\n\r\nGet thee"
    b" to a nunnery.\r\n",
    b"Subject: dots\r\n\r\n.\r\n..\r\n.a line with a dot\r\nend\r\n",
    b"Subject: =?utf-8?q?8bit?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\nH\xc3\xa9las, pauvre Yorick\r\n"
    + b"x" * 998
    + b"\r\n",
]


class Srv:
    """A running ``elsinore srv``: its process, where it listens, where it stores."""

    def __init__(self, directory: Path, *options: str) -> None:
        self.directory = directory
        self.process = subprocess.Popen(
            [*ELSINORE, "srv", "--listen", "127.0.0.1:0", "-o", str(directory), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        banner = self.process.stdout.readline()
        assert banner.startswith("srv: listening on 127.0.0.1:"), banner or self.stop()[1]
        self.port = int(banner.split("127.0.0.1:")[1].split(",")[0])

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit status and what it logged."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=30)
        return self.process.returncode, err

    def stored(self) -> list[bytes]:
        return sorted(path.read_bytes() for path in self.directory.glob("*.eml"))


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Srv]:
    server = Srv(tmp_path / "out")
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def send(
    port: int, *options: str, message: bytes = MESSAGES[0]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ELSINORE, "send", "--server", f"127.0.0.1:{port}", *options],
        input=message.decode("utf-8", "surrogateescape"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def send_bytes(port: int, message: bytes, *options: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*ELSINORE, "send", "--server", f"127.0.0.1:{port}", *options, "-"],
        input=message,
        capture_output=True,
        timeout=30,
        check=False,
    )


def test_srv_stores_every_message_byte_for_byte(srv: Srv) -> None:
    for message in MESSAGES:
        done = send_bytes(srv.port, message, "--sender", "hamlet@castle.test", "-r", "o@c.test")
        assert done.returncode == 0, done.stderr
    status, log = srv.stop()
    assert status == 0
    assert srv.stored() == sorted(MESSAGES)
    assert [p.name for p in srv.directory.iterdir() if not p.name.endswith(".eml")] == []
    assert log.count("elsinore srv: stored ") == 3
    assert "from=<hamlet@castle.test> to=<o@c.test>" in log


def test_srv_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*ELSINORE, "srv", "--listen", f"127.0.0.1:{port}", "-o", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr == (
        f"elsinore: error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )


def test_srv_maildir_delivers_into_new(tmp_path: Path) -> None:
    server = Srv(tmp_path / "Maildir", "--maildir")
    try:
        assert (
            send_bytes(server.port, MESSAGES[1], "--sender", "", "-r", "a@b.test").returncode == 0
        )
    finally:
        status, _ = server.stop()
    assert status == 0
    maildir = tmp_path / "Maildir"
    assert [p.read_bytes() for p in (maildir / "new").iterdir()] == [MESSAGES[1]]
    assert list((maildir / "tmp").iterdir()) == []
    assert list((maildir / "cur").iterdir()) == []


def _reply(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n") or data.split(b"\r\n")[-2][3:4] == b"-":
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_srv_on_sigterm_refuses_new_clients_finishes_the_transaction_and_exits_0(
    srv: Srv,
) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as client:
        assert _reply(client).startswith(b"220")
        for command in (b"EHLO c.test", b"MAIL FROM:<a@c.test>", b"RCPT TO:<b@c.test>", b"DATA"):
            client.sendall(command + b"\r\n")
            assert _reply(client)[:1] in (b"2", b"3"), command
        client.sendall(MESSAGES[0][:40])
        srv.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not _refuses_connections(srv.port):
            assert time.monotonic() < deadline, "srv still accepts after SIGTERM"
            time.sleep(0.05)
        client.sendall(MESSAGES[0][40:] + b".\r\n")
        assert _reply(client).startswith(b"250 2.0.0 Ok: stored as ")
        assert _reply(client).startswith(b"421 4.3.2")
    status, log = srv.stop()
    assert status == 0, log
    assert srv.stored() == [MESSAGES[0]]


def test_send_json_gives_each_recipients_reply_and_exit_1_for_a_refusal(srv: Srv) -> None:
    port = free_port()
    peer = Peer("127.0.0.1", port)
    peer.recorder.refuse["nobody@castle.test"] = "550 5.1.1 no such user"
    peer.start()
    try:
        done = send(port, "--sender", "h@castle.test", "-r", "o@castle.test",
                    "-r", "nobody@castle.test", "--json")  # fmt: skip
    finally:
        peer.stop()
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)
    assert [(r["recipient"], r["code"], r["enhanced"], r["delivered"]) for r in results] == [
        ("o@castle.test", 250, "2.0.0", True),
        ("nobody@castle.test", 550, "5.1.1", False),
    ]
    assert results[1]["text"] == "no such user"
    assert results[1]["remote"] == f"127.0.0.1[127.0.0.1]:{port}"


def test_send_exits_75_when_the_server_is_not_there() -> None:
    done = send(free_port(), "--sender", "h@castle.test", "-r", "o@castle.test")
    assert done.returncode == 75
    assert done.stdout.startswith("o@castle.test: 4.4.1 connection refused (127.0.0.1[")


def test_send_with_a_bad_server_address_is_one_line_on_stderr() -> None:
    done = subprocess.run(
        [*ELSINORE, "send", "--server", "mx.castle.test", "--sender", "a@b", "-r", "c@d"],
        input="Subject: x\r\n\r\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "bad address 'mx.castle.test'" in done.stderr


def test_send_requires_tls_verified_against_the_ca_srv_was_given(tmp_path: Path) -> None:
    ca = LocalAuthority()
    cert, key = ca.issue(["127.0.0.1"]).write(tmp_path, "srv")
    ca_file = ca.write(tmp_path / "ca.pem")
    server = Srv(tmp_path / "out", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        options = ("--sender", "a@castle.test", "-r", "b@castle.test", "--starttls", "required")
        assert send(server.port, *options, "--tls-ca", str(ca_file)).returncode == 0
        other = LocalAuthority("another").write(tmp_path / "other.pem")
        refused = send(server.port, *options, "--tls-ca", str(other))
        assert refused.returncode == 75
        assert "4.7.5 TLS: certificate verify failed" in refused.stdout
    finally:
        status, _ = server.stop()
    assert status == 0
    assert server.stored() == [MESSAGES[0]]


@pytest.mark.interop
def test_swaks_delivers_into_srv(srv: Srv, tmp_path: Path) -> None:
    swaks = shutil.which("swaks")
    if swaks is None:
        pytest.skip("swaks is not installed (Debian package swaks)")
    message = tmp_path / "m.eml"
    message.write_bytes(MESSAGES[0])
    done = subprocess.run(
        [swaks, "--server", "127.0.0.1", "--port", str(srv.port), "--from", "h@castle.test",
         "--to", "o@castle.test", "--data", f"@{message}", "--helo", "swaks.test"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    status, _ = srv.stop()
    assert status == 0
    [stored] = srv.stored()
    # swaks writes its own CRLF before the final dot, even after data that ends with one.
    assert stored in (MESSAGES[0], MESSAGES[0] + b"\r\n")


def _postfix_tool(name: str) -> str:
    path = shutil.which(name) or f"/usr/sbin/{name}"
    if not Path(path).exists():
        pytest.skip(f"{name} is not installed (Debian package postfix)")
    return path


@pytest.mark.interop
def test_postfix_smtp_source_delivers_into_srv(srv: Srv) -> None:
    source = _postfix_tool("smtp-source")
    done = subprocess.run(
        [source, "-l", "2048", "-m", "20", "-s", "4", "-f", "h@castle.test", "-t", "o@castle.test",
         f"127.0.0.1:{srv.port}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    status, _ = srv.stop()
    assert status == 0
    stored = srv.stored()
    assert len(stored) == 20
    assert all(message.startswith(b"From: <h@castle.test>\r\n") for message in stored)


@pytest.mark.interop
def test_send_delivers_into_postfix_smtp_sink() -> None:
    sink = _postfix_tool("smtp-sink")
    if os.geteuid() != 0:
        pytest.skip("smtp-sink drops to the postfix user, which needs root")
    # Not under tmp_path: the postfix user cannot enter pytest's private directories.
    with tempfile.TemporaryDirectory(prefix="elsinore-smtp-sink-") as scratch:
        Path(scratch).chmod(0o755)
        dumps = Path(scratch) / "dumps"
        dumps.mkdir(mode=0o777)
        dumps.chmod(0o777)
        data = _send_into_smtp_sink(sink, dumps)
    # smtp-sink writes the envelope as X- fields and its own Received field first, and
    # stores lines with LF ends.
    assert b"X-Mail-Args: <h@castle.test>" in data
    assert b"X-Rcpt-Args: <o@castle.test>" in data
    assert b"X-Rcpt-Args: <p@c.test>" in data
    assert b"\n" + MESSAGES[0].replace(b"\r\n", b"\n") in data


def _send_into_smtp_sink(sink: str, dumps: Path) -> bytes:
    port = free_port()
    process = subprocess.Popen(
        [sink, "-u", "postfix", "-d", f"{dumps}/%M.", f"127.0.0.1:{port}", "16"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while _refuses_connections(port):
            assert time.monotonic() < deadline, "smtp-sink does not listen"
            time.sleep(0.05)
        done = send(port, "--sender", "h@castle.test", "-r", "o@castle.test", "-r", "p@c.test")
        assert done.returncode == 0, done.stdout + done.stderr
        deadline = time.monotonic() + 10
        while not any(dumps.iterdir()):
            assert time.monotonic() < deadline, "smtp-sink stored nothing"
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(10)
    [dump] = list(dumps.iterdir())
    return dump.read_bytes()


# -- in process -------------------------------------------------------------------------------
#
# The same commands run by click in the test's own process (a mutation run sees only calls
# made here), against real servers on 127.0.0.1.  A long-running command is stopped as a
# supervisor stops it: SIGTERM to the process, which the command's event loop takes.

T = TypeVar("T")


def run_until_stopped(
    command: click.Command,
    args: list[str],
    port: int,
    while_running: Callable[[Callable[[], None]], T],
    sig: signal.Signals = signal.SIGTERM,
) -> tuple[ClickResult, T]:
    """Run ``command`` in this process until ``while_running`` is done with it.

    ``while_running`` starts once the command listens on ``port`` and is given the function
    that signals it (``sig``; once only: it may signal the command itself, mid-transaction);
    the command is signalled when it returns, if it did not."""
    signalled = threading.Event()
    outcome: list[T] = []
    failure: list[BaseException] = []

    def stop() -> None:
        if not signalled.is_set():
            signalled.set()
            os.kill(os.getpid(), sig)

    def drive() -> None:
        try:
            wait_until(lambda: listening(port), 20, f"{command.name} to listen on {port}")
        except AssertionError as exc:  # never up: nothing is there to take a signal
            failure.append(exc)
            return
        try:
            outcome.append(while_running(stop))
        except BaseException as exc:  # reported in the test's thread
            failure.append(exc)
        finally:
            stop()

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    result = CliRunner().invoke(command, args, catch_exceptions=False)
    driver.join(30)
    if failure:
        raise failure[0]
    return result, outcome[0]


def _smtp(port: int) -> smtplib.SMTP:
    """A client that has said EHLO."""
    client = smtplib.SMTP(HOST, port, local_hostname="client.castle.test", timeout=10)
    client.ehlo()
    return client


def test_srv_in_process_stores_each_message_and_names_it_in_the_250(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "deep" / "out"  # created with its parents

    def deliver(stop: Callable[[], None]) -> list[tuple[int, bytes]]:
        replies = []
        with _smtp(port) as client:
            for message, recipients in ((MESSAGES[0], ["o@c.test", "p@c.test"]),
                                        (MESSAGES[1], ["q@c.test"])):  # fmt: skip
                client.mail("hamlet@castle.test")
                for recipient in recipients:
                    client.rcpt(recipient)
                replies.append(client.data(message))
        return replies

    result, replies = run_until_stopped(
        srv_command, ["--listen", f"{HOST}:{port}", "-o", str(out)], port, deliver
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"srv: listening on {HOST}:{port}, storing .eml files in {out}\n"
    names = sorted(path.name for path in out.iterdir())
    assert len(names) == 2 and all(name.endswith(".eml") for name in names)
    for (code, text), message in zip(replies, MESSAGES[:2], strict=True):
        assert code == 250
        name = text.decode().removeprefix("2.0.0 Ok: stored as ")
        assert name in names and (out / name).read_bytes() == message
    lines = [line.split("elsinore srv: ", 1)[1] for line in result.stderr.splitlines()]
    first = replies[0][1].decode().removeprefix("2.0.0 Ok: stored as ")
    size = len(MESSAGES[0])
    line = f"stored {first} client={HOST} from=<hamlet@castle.test> to=<o@c.test>,<p@c.test>"
    assert f"{line} size={size}" in lines
    assert lines[-1] == "stopped after 2 messages"


def test_srv_in_process_maildir_and_one_message_in_the_last_line(tmp_path: Path) -> None:
    port = free_port()
    maildir = tmp_path / "Maildir"

    def deliver(stop: Callable[[], None]) -> None:
        with _smtp(port) as client:
            assert client.sendmail("", ["a@b.test"], MESSAGES[1]) == {}

    args = ["--listen", f"{HOST}:{port}", "-o", str(maildir), "--maildir", "--no-fsync"]
    result, _ = run_until_stopped(srv_command, args, port, deliver)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"srv: listening on {HOST}:{port}, storing Maildir in {maildir}\n"
    assert [p.read_bytes() for p in (maildir / "new").iterdir()] == [MESSAGES[1]]
    assert list((maildir / "tmp").iterdir()) == list((maildir / "cur").iterdir()) == []
    assert result.stderr.splitlines()[-1].endswith("elsinore srv: stopped after 1 message")


def test_srv_in_process_answers_451_when_it_cannot_store(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "out"

    def deliver(stop: Callable[[], None]) -> tuple[int, bytes]:
        shutil.rmtree(out)  # the directory is gone: the write fails, the message is not taken
        with _smtp(port) as client:
            client.mail("a@castle.test")
            client.rcpt("b@castle.test")
            return client.data(MESSAGES[0])

    result, reply = run_until_stopped(
        srv_command, ["--listen", f"{HOST}:{port}", "-o", str(out)], port, deliver
    )
    assert reply == (451, b"4.3.0 Cannot store the message now; try again later")
    not_stored = f"elsinore srv: client={HOST} not stored: No such file or directory"
    assert any(line.endswith(not_stored) for line in result.stderr.splitlines())
    assert result.stderr.splitlines()[-1].endswith("stopped after 0 messages")


def test_srv_in_process_greets_with_its_hostname_and_refuses_what_is_over_max_size(
    tmp_path: Path,
) -> None:
    port = free_port()
    args = ["--listen", f"{HOST}:{port}", "-o", str(tmp_path), "--hostname", "sink.castle.test",
            "--max-size", "100"]  # fmt: skip

    def ehlo(stop: Callable[[], None]) -> tuple[bytes, int | None]:
        with _smtp(port) as client:
            _, greeting = client.ehlo()
            return greeting.split(b"\n")[0], client.esmtp_features.get("size") and int(
                client.esmtp_features["size"]
            )

    result, (name, size) = run_until_stopped(srv_command, args, port, ehlo)
    assert result.exit_code == 0
    assert (name, size) == (b"sink.castle.test", 100)


def test_srv_in_process_on_sigterm_closes_idle_sessions_and_finishes_a_transaction(
    tmp_path: Path,
) -> None:
    port = free_port()
    out = tmp_path / "out"

    def interrupt(stop: Callable[[], None]) -> tuple[bytes, bytes, bytes]:
        with socket.create_connection((HOST, port), timeout=10) as idle, \
                socket.create_connection((HOST, port), timeout=10) as busy:  # fmt: skip
            assert _reply(idle).startswith(b"220") and _reply(busy).startswith(b"220")
            idle.sendall(b"EHLO idle.test\r\n")
            _reply(idle)
            for command in (b"EHLO c.test", b"MAIL FROM:<a@c.test>", b"RCPT TO:<b@c.test>",
                            b"DATA"):  # fmt: skip
                busy.sendall(command + b"\r\n")
                assert _reply(busy)[:1] in b"23", command
            busy.sendall(MESSAGES[0][:40])
            stop()
            deadline = time.monotonic() + 10
            while not _refuses_connections(port):
                assert time.monotonic() < deadline, "srv still accepts after SIGTERM"
                time.sleep(0.05)
            shut = _reply(idle)  # an idle session is closed at once
            busy.sendall(MESSAGES[0][40:] + b".\r\n")
            return shut, _reply(busy), _reply(busy)

    result, (shut, stored, closing) = run_until_stopped(
        srv_command, ["--listen", f"{HOST}:{port}", "-o", str(out)], port, interrupt
    )
    assert result.exit_code == 0, result.output
    assert shut.startswith(b"421 4.3.2")
    assert stored.startswith(b"250 2.0.0 Ok: stored as ") and closing.startswith(b"421 4.3.2")
    assert [p.read_bytes() for p in out.glob("*.eml")] == [MESSAGES[0]]
    assert "elsinore srv: stopping: no new connections, " in result.stderr


def test_srv_in_process_on_a_busy_port_raises_the_listen_error(tmp_path: Path) -> None:
    with socket.create_server((HOST, 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            srv_command, ["--listen", f"{HOST}:{port}", "-o", str(tmp_path)]
        )
    assert isinstance(result.exception, ListenError)
    assert str(result.exception) == f"cannot listen on {HOST}:{port}: address already in use"


def test_srv_takes_a_certificate_only_with_its_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        srv_command, ["--listen", f"{HOST}:0", "-o", str(tmp_path), "--tls-cert", "a.pem"]
    )
    assert result.exit_code == 2
    assert "--tls-cert and --tls-key go together" in result.stderr


# -- the stores, on their own


def test_eml_directory_writes_each_message_whole_under_a_unique_name(tmp_path: Path) -> None:
    for fsync in (True, False):
        directory = tmp_path / str(fsync) / "eml"
        store = EmlDirectory(directory, fsync=fsync)
        names = [store.put(message) for message in MESSAGES]
        assert len(set(names)) == len(MESSAGES) and all(n.endswith(".eml") for n in names)
        assert [(directory / name).read_bytes() for name in names] == MESSAGES
        assert sorted(p.name for p in directory.iterdir()) == sorted(names)  # no temporary left


def test_maildir_delivers_into_new_and_leaves_tmp_empty(tmp_path: Path) -> None:
    for fsync in (True, False):
        directory = tmp_path / str(fsync) / "Maildir"
        store = Maildir(directory, fsync=fsync)
        names = [store.put(message) for message in MESSAGES]
        assert all(name.startswith("new/") for name in names) and len(set(names)) == 3
        assert [(directory / name).read_bytes() for name in names] == MESSAGES
        assert sorted(p.name for p in directory.iterdir()) == ["cur", "new", "tmp"]
        assert list((directory / "tmp").iterdir()) == list((directory / "cur").iterdir()) == []


def test_file_names_are_maildirs_unique_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # time.M<microseconds>P<pid>Q<count>.host, and '/' and ':' in the host name written as
    # \057 and \072 (the Maildir specification: they cannot be in a file name or are taken).
    monkeypatch.setattr(socket, "gethostname", lambda: "elsinore/castle:test")
    names = _Names()
    before = time.time_ns() // 1000
    first, second = names.next(), names.next()
    after = time.time_ns() // 1000
    pattern = re.compile(rf"(\d+)\.M(\d+)P{os.getpid()}Q(\d+)\.elsinore\\057castle\\072test")
    matched = [pattern.fullmatch(name) for name in (first, second)]
    assert all(matched), (first, second)
    seconds, micro, count = (int(part) for part in matched[0].groups())  # type: ignore[union-attr]
    assert 0 <= micro < 1_000_000 and before <= seconds * 1_000_000 + micro <= after
    assert (count, int(matched[1].group(3))) == (1, 2)  # type: ignore[union-attr]


# -- send, in process


@pytest.fixture
def peer_for_send() -> Iterator[Peer]:
    peer = Peer(HOST, free_port())
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


def send_in_process(port: int, *options: str, message: bytes = MESSAGES[0]) -> ClickResult:
    args = ["--server", f"{HOST}:{port}", "--sender", "h@castle.test", *options]
    return CliRunner().invoke(send_command, args, input=message)


def test_send_prints_one_line_per_recipient_and_exits_1_for_a_refusal(
    peer_for_send: Peer,
) -> None:
    peer_for_send.recorder.refuse["nobody@castle.test"] = "550 5.1.1 no such user"
    done = send_in_process(peer_for_send.port, "-r", "o@castle.test", "-r", "nobody@castle.test")
    remote = f"{HOST}[{HOST}]:{peer_for_send.port}"
    assert done.exit_code == 1, done.output
    assert done.stdout == (
        f"o@castle.test: 250 2.0.0 queued by {HOST} ({remote})\n"
        f"nobody@castle.test: 550 5.1.1 no such user ({remote})\n"
    )
    [received] = peer_for_send.messages
    assert (received.sender, received.recipients, received.data) == (
        "h@castle.test",
        ["o@castle.test"],
        MESSAGES[0],
    )


def test_send_json_has_every_field_of_each_result(peer_for_send: Peer) -> None:
    peer_for_send.recorder.refuse["nobody@castle.test"] = "550 5.1.1 no such user"
    done = send_in_process(
        peer_for_send.port, "-r", "o@castle.test", "-r", "nobody@castle.test", "--json"
    )
    assert done.exit_code == 1
    remote = f"{HOST}[{HOST}]:{peer_for_send.port}"
    assert json.loads(done.stdout) == [
        {"recipient": "o@castle.test", "code": 250, "enhanced": "2.0.0",
         "text": f"queued by {HOST}", "remote": remote, "delivered": True, "permanent": False},
        {"recipient": "nobody@castle.test", "code": 550, "enhanced": "5.1.1",
         "text": "no such user", "remote": remote, "delivered": False, "permanent": True},
    ]  # fmt: skip


def test_send_exits_0_when_all_are_taken_and_75_for_a_4xx(peer_for_send: Peer) -> None:
    assert send_in_process(peer_for_send.port, "-r", "o@castle.test").exit_code == 0
    peer_for_send.recorder.data_reply = "451 4.3.0 not now"
    done = send_in_process(peer_for_send.port, "-r", "o@castle.test")
    assert done.exit_code == EX_TEMPFAIL == 75
    assert done.stdout.startswith("o@castle.test: 451 4.3.0 not now (")


def test_send_to_nobody_listening_is_75_and_the_reply_has_no_code() -> None:
    port = free_port()
    done = send_in_process(port, "-r", "o@castle.test")
    assert done.exit_code == 75
    assert done.stdout == f"o@castle.test: 4.4.1 connection refused ({HOST}[{HOST}]:{port})\n"


def test_send_escapes_what_the_server_wrote(peer_for_send: Peer) -> None:
    # The reply text is the server's choice: a terminal escape is printed, not obeyed.
    peer_for_send.recorder.refuse["x@castle.test"] = "550 5.1.1 gone \x1b[2J away"
    done = send_in_process(peer_for_send.port, "-r", "x@castle.test")
    assert "\x1b" not in done.stdout
    assert done.stdout.startswith("x@castle.test: 550 5.1.1 gone ")


def test_send_refuses_an_empty_message_before_connecting(peer_for_send: Peer) -> None:
    done = send_in_process(peer_for_send.port, "-r", "o@castle.test", message=b"")
    assert done.exit_code == 2
    assert done.stderr.splitlines()[-1] == "Error: the message is empty"
    assert peer_for_send.recorder.connections == 0


def _result(code: int) -> RecipientResult:
    return RecipientResult(f"r{code}@castle.test", code, None, "", "")


@pytest.mark.parametrize(
    ("codes", "status"),
    [
        ([250], 0),
        ([250, 251], 0),
        ([250, 450], 75),
        ([0], 75),  # no answer at all: tried again later
        ([250, 550], 1),
        ([450, 550], 1),  # a refusal for good outweighs a retry
        ([550, 0], 1),
    ],
)
def test_exit_status_says_whether_all_were_taken_one_refused_or_one_waits(
    codes: list[int], status: int
) -> None:
    assert exit_status([_result(code) for code in codes]) == status


def test_srv_stores_an_empty_message_as_an_empty_file_and_logs_the_null_sender(
    tmp_path: Path,
) -> None:
    port = free_port()
    out = tmp_path / "out"
    long_recipient = "r" * 300 + "@castle.test"

    def deliver(stop: Callable[[], None]) -> bytes:
        with socket.create_connection((HOST, port), timeout=10) as client:
            _reply(client)
            for command in (b"EHLO c.test", b"MAIL FROM:<>",
                            b"RCPT TO:<%s>" % long_recipient.encode(), b"DATA", b"."):  # fmt: skip
                client.sendall(command + b"\r\n")
                reply = _reply(client)
        with _smtp(port) as client:
            client.sendmail(long_recipient, ["o@castle.test"], MESSAGES[0])
        return reply

    result, reply = run_until_stopped(
        srv_command, ["--listen", f"{HOST}:{port}", "-o", str(out)], port, deliver
    )
    assert reply.startswith(b"250 2.0.0 Ok: stored as ")
    assert sorted(path.read_bytes() for path in out.iterdir()) == [b"", MESSAGES[0]]
    empty, other = [line for line in result.stderr.splitlines() if " stored " in line]
    assert f"client={HOST} from=<> to=<rrrr" in empty and empty.endswith(" size=0")
    # What the client chose is cut in the log, as every log line of the stack cuts it.
    recipient = empty.split(" to=<", 1)[1].split(">", 1)[0]
    assert recipient.endswith("\\...") and len(recipient) <= 200
    sender = other.split(" from=<", 1)[1].split(">", 1)[0]
    assert sender.endswith("\\...") and len(sender) <= 200


def test_srv_says_how_many_sessions_were_open_when_it_stopped(tmp_path: Path) -> None:
    port = free_port()

    def idle(stop: Callable[[], None]) -> None:
        client = _smtp(port)
        stop()
        wait_until(lambda: not listening(port), 10, "srv to stop listening")
        client.close()

    result, _ = run_until_stopped(
        srv_command, ["--listen", f"{HOST}:{port}", "-o", str(tmp_path)], port, idle
    )
    assert re.search(r"elsinore srv: stopping: no new connections, [1-9]\d* open\n", result.stderr)


def test_srv_listens_again_on_its_port_at_once_after_closing_sessions(tmp_path: Path) -> None:
    # srv closes the sessions it stops (421): the server side of each waits in TIME_WAIT,
    # and a srv started again on the port must not be refused it for the next minute.
    port = free_port()
    args = ["--listen", f"{HOST}:{port}", "-o", str(tmp_path)]

    def session(stop: Callable[[], None]) -> bytes:
        with socket.create_connection((HOST, port), timeout=10) as client:
            _reply(client)
            stop()
            closing = _reply(client)
            assert client.recv(1) == b""  # srv closed first: its side waits in TIME_WAIT
            return closing

    for _ in range(2):
        result, closing = run_until_stopped(srv_command, args, port, session)
        assert result.exit_code == 0 and closing.startswith(b"421 4.3.2")


def test_maildir_opens_an_existing_maildir_and_keeps_what_it_holds(tmp_path: Path) -> None:
    first = Maildir(tmp_path / "Maildir").put(MESSAGES[0])
    again = Maildir(tmp_path / "Maildir")
    second = again.put(MESSAGES[1])
    assert [(tmp_path / "Maildir" / n).read_bytes() for n in (first, second)] == MESSAGES[:2]
    EmlDirectory(tmp_path / "eml").put(MESSAGES[0])
    assert len(list(EmlDirectory(tmp_path / "eml").directory.iterdir())) == 1
