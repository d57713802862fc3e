"""``elsinore srv`` and ``elsinore send`` as a user runs them: real processes, real sockets."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from smtp_peers import Peer, free_port

from stack.smtp.tls import LocalAuthority

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
