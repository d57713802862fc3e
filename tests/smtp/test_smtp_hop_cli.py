"""``elsinore hop`` as a user runs it: SIGTERM finishes the transaction in progress and exits
0, what it accepted is forwarded after a restart, and bad options are one line on stderr."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from click.testing import CliRunner
from click.testing import Result as ClickResult
from hop_testbed import HOST, hop, listening, srv, stored, wait_until
from smtp_peers import DnsThread, Peer, free_port
from test_smtp_inbound import FORWARD_ZONE, REVERSE_ZONE
from test_smtp_tools import run_until_stopped

from stack.smtp.cli import _duration, _optional_duration
from stack.smtp.cli import hop as hop_command
from stack.smtp.spool import Spool
from stack.smtp.tls import LocalAuthority

T = TypeVar("T")


def test_sigterm_finishes_the_transaction_in_progress_and_exits_0(tmp_path: Path) -> None:
    sink = srv(tmp_path / "sink", tmp_path / "srv.log").start()
    relay = hop(tmp_path / "spool", sink.port, tmp_path / "hop.log").start()
    try:
        with socket.create_connection((HOST, relay.port), timeout=10) as sock:
            file = sock.makefile("rb")
            file.readline()
            sock.sendall(b"HELO client.test\r\nMAIL FROM:<a@client.test>\r\n")
            sock.sendall(b"RCPT TO:<o@castle.test>\r\nDATA\r\n")
            for _ in range(4):
                file.readline()
            sock.sendall(b"Subject: in flight\r\n\r\nhalf of the body\r\n")
            assert relay.process is not None
            relay.process.terminate()
            wait_until(lambda: not listening(relay.port), 10, "the hop to stop listening")
            sock.sendall(b"the other half\r\n.\r\n")
            answer = file.readline()
        assert answer.startswith(b"250 2.0.0 OK queued as "), answer
        assert relay.process.wait(20) == 0
        log = relay.log.read_text()
        assert "stopped" in log and "Traceback" not in log
        # Accepted during the shutdown: forwarded after the restart, not lost.
        relay.start()
        wait_until(lambda: len(stored(tmp_path / "sink")) == 1, 20, "the message to arrive")
        assert b"the other half" in stored(tmp_path / "sink")[0]
        assert relay.terminate() == 0
    finally:
        relay.close()
        sink.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--listen", "localhost:25"], "bad address"),
        (["--listen", "127.0.0.1:99999"], "bad port"),
        (["--tls-cert", "/nonexistent.pem"], "--tls-cert and --tls-key go together"),
        (["--expire", "soon"], "is not a duration"),
        (["--dead-host-time", "0s"], "must be more than 0"),
        (["--hostname", "hop\tcastle.test"], "--hostname: TAB (U+0009) at character 3"),
    ],
)
def test_bad_options_are_one_line_and_a_nonzero_exit(
    tmp_path: Path, options: list[str], message: str
) -> None:
    base = {"--listen": f"{HOST}:{free_port()}", "--forward": f"{HOST}:{free_port()}"}
    for name, value in zip(options[::2], options[1::2], strict=True):
        base[name] = value
    args = [item for pair in base.items() for item in pair]
    done = subprocess.run(
        [sys.executable, "-m", "stack", "hop", *args, "--spool", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.create_server((HOST, 0)) as taken:
        port = taken.getsockname()[1]
        listen = ["--listen", f"{HOST}:{port}", "--forward", f"{HOST}:{free_port()}"]
        done = subprocess.run(
            [sys.executable, "-m", "stack", "hop", *listen, "--spool", str(tmp_path / "spool")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    # What elsinore srv and dns serve say, not asyncio's OSError with the address as a tuple.
    assert done.stderr == (
        f"elsinore: error: cannot listen on {HOST}:{port}: address already in use\n"
    )


def _full_pipe() -> tuple[int, int]:
    """A pipe whose buffer is already full: whoever writes to it waits for a reader."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write_end, b"." * 65536)
    os.set_blocking(write_end, True)
    return read_end, write_end


def _drain_until_closed(read_end: int, timeout: float) -> bytes:
    """Everything written to the pipe until its last writer exits."""
    read = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([read_end], [], [], 0.1)[0]:
            chunk = os.read(read_end, 65536)
            if not chunk:
                return read
            read += chunk
    raise AssertionError(f"the hop did not exit within {timeout:.0f} s")


def test_a_sigterm_as_soon_as_the_hop_listens_stops_it_cleanly(tmp_path: Path) -> None:
    # Whoever started the hop may signal it the moment its port answers (a supervisor, the
    # crash tests).  A stderr nobody reads yet holds the hop at its first log line, just
    # after it began to listen: the SIGTERM must already be the hop's to handle, not the
    # default action that ends it with no shutdown (exit -15).
    port = free_port()
    read_end, write_end = _full_pipe()
    args = ["hop", "--listen", f"{HOST}:{port}", "--forward", f"{HOST}:{free_port()}"]
    process = subprocess.Popen(
        [sys.executable, "-m", "stack", *args, "--spool", str(tmp_path / "spool")],
        stdout=subprocess.DEVNULL,
        stderr=write_end,
    )
    os.close(write_end)
    try:
        wait_until(lambda: listening(port), 20, "the hop to listen")
        process.send_signal(signal.SIGTERM)
        log = _drain_until_closed(read_end, 30)
        assert process.wait(10) == 0
    finally:
        os.close(read_end)
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert log.splitlines()[-1].endswith(b"elsinore hop: stopped")


def send_one(port: int, subject: bytes) -> bytes:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        file = sock.makefile("rb")
        file.readline()
        sock.sendall(b"HELO client.test\r\nMAIL FROM:<a@client.test>\r\n")
        sock.sendall(b"RCPT TO:<o@castle.test>\r\nDATA\r\n")
        for _ in range(4):
            file.readline()
        sock.sendall(b"Subject: " + subject + b"\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        return file.readline()


def test_a_forward_that_refused_is_not_tried_again_before_the_dead_host_time(
    tmp_path: Path,
) -> None:
    relay = hop(
        tmp_path / "spool", free_port(), tmp_path / "hop.log", "--dead-host-time", "1h"
    ).start()
    try:
        assert send_one(relay.port, b"first").startswith(b"250 ")
        wait_until(lambda: "connection refused)" in relay.log.read_text(), 20, "a refusal")
        assert send_one(relay.port, b"second").startswith(b"250 ")
        wait_until(lambda: "not tried again yet" in relay.log.read_text(), 20, "a skip")
        assert relay.terminate() == 0
    finally:
        relay.close()
    deferrals = [line for line in relay.log.read_text().splitlines() if "deferred" in line]
    assert "(4.4.1 connection refused)" in deferrals[0]
    skipped = "connection refused less than 3600 s ago: not tried again yet"
    assert all(skipped in line for line in deferrals[1:]), deferrals


# -- in process ---------------------------------------------------------------------------------
#
# ``elsinore hop`` run by click in the test's own process (a mutation run sees only calls made
# here), stopped by a signal as a supervisor stops it.


def run_hop(
    tmp_path: Path,
    forward: int,
    *options: str,
    while_running: Callable[[int, Callable[[], None]], T],
    sig: signal.Signals = signal.SIGTERM,
) -> tuple[ClickResult, T]:
    port = free_port()
    args = ["--listen", f"{HOST}:{port}", "--forward", f"{HOST}:{forward}",
            "--spool", str(tmp_path / "spool"), "--hostname", "hop.castle.test",
            "--retry", "0.2s", *options]  # fmt: skip
    return run_until_stopped(hop_command, args, port, lambda stop: while_running(port, stop), sig)


def _client(port: int, **options: Any) -> smtplib.SMTP:
    client = smtplib.SMTP(HOST, port, local_hostname="client.castle.test", timeout=10, **options)
    client.ehlo()
    return client


def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


MESSAGE = b"From: polonius@castle.test\r\nSubject: through the hop\r\n\r\nbody\r\n"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_hop_forwards_bounces_to_the_sender_and_stops_on_a_signal(
    tmp_path: Path, peer: Peer, sig: signal.Signals
) -> None:
    peer.recorder.refuse["ghost@castle.test"] = "550 5.1.1 no such user here"

    def deliver(port: int, stop: Callable[[], None]) -> int:
        with _client(port) as client:
            recipients = ["ophelia@castle.test", "ghost@castle.test"]
            assert client.sendmail("polonius@castle.test", recipients, MESSAGE) == {}
        wait_until(lambda: len(peer.messages) == 2, 20, "the message and its DSN")
        return port

    result, port = run_hop(tmp_path, peer.port, while_running=deliver, sig=sig)
    assert result.exit_code == 0, result.output
    lines = [line.split("elsinore hop: ", 1)[1] for line in result.stderr.splitlines()]
    spool = tmp_path / "spool"
    assert (
        lines[0] == f"listening on {HOST}:{port}, forwarding to {HOST}:{peer.port}, spool {spool}"
    )
    assert lines[-2:] == [
        "stopping: no new connections; finishing the transactions in progress",
        "stopped",
    ]
    delivered, notice = sorted(peer.messages, key=lambda m: m.sender != "polonius@castle.test")
    assert delivered.recipients == ["ophelia@castle.test"]
    assert delivered.data.startswith(b"Received: from client.castle.test (unknown [127.0.0.1])")
    assert b"by hop.castle.test" in delivered.data.split(b"\r\n\r\n")[0]
    assert delivered.data.endswith(MESSAGE)
    assert (notice.sender, notice.recipients) == ("<>", ["polonius@castle.test"])
    assert b"Reporting-MTA: dns; hop.castle.test" in notice.data


def test_the_hop_retries_after_retry_and_bounces_after_expire(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def deliver(port: int, stop: Callable[[], None]) -> None:
        with _client(port) as client:
            assert client.sendmail("polonius@castle.test", ["o@castle.test"], MESSAGE) == {}
        wait_until(lambda: logged(caplog, "status=expired"), 20, "the message to expire")

    with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
        result, _ = run_hop(tmp_path, free_port(), "--expire", "1s", while_running=deliver)
    assert result.exit_code == 0, result.output
    attempt = "to=<o@castle.test>, relay="
    lines = [r.getMessage() for r in caplog.records if attempt in r.getMessage()]
    # Deferred (--retry 0.2s: its first wait rounds to 0 s), tried again, then given up.
    assert "status=deferred, retry in 0s (4.4.1 connection refused)" in lines[0]
    assert len(lines) >= 3 and "status=expired" in lines[-1]
    assert all("status=deferred" in line for line in lines[:-1])
    assert logged(caplog, "sender non-delivery notification")


def test_the_hop_waits_dead_host_time_before_trying_a_refusing_forward_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    second = "to=<p@castle.test>, relay="

    def deliver(port: int, stop: Callable[[], None]) -> None:
        with _client(port) as client:
            client.sendmail("polonius@castle.test", ["o@castle.test"], MESSAGE)
            wait_until(lambda: logged(caplog, "connection refused)"), 20, "a refusal")
            client.sendmail("polonius@castle.test", ["p@castle.test"], MESSAGE)
        wait_until(lambda: logged(caplog, second), 20, "the second attempt")

    with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
        run_hop(tmp_path, free_port(), "--dead-host-time", "1h", while_running=deliver)
    [line] = [r.getMessage() for r in caplog.records if second in r.getMessage()]
    assert "connection refused less than 3600 s ago: not tried again yet" in line


def test_the_hop_offers_starttls_or_implicit_tls_with_its_certificate(tmp_path: Path) -> None:
    authority = LocalAuthority()
    cert, key = authority.issue([HOST]).write(tmp_path, "hop")
    trusted = ssl.create_default_context(cadata=authority.certificate_pem.decode())
    tls = ["--tls-cert", str(cert), "--tls-key", str(key)]

    def starttls(port: int, stop: Callable[[], None]) -> tuple[int, int]:
        with _client(port) as client:
            offered = client.has_extn("starttls")
            assert offered, client.esmtp_features
            return client.starttls(context=trusted)[0], client.ehlo()[0]

    result, replies = run_hop(tmp_path / "a", free_port(), *tls, while_running=starttls)
    assert result.exit_code == 0 and replies == (220, 250)

    def implicit(port: int, stop: Callable[[], None]) -> int:
        with smtplib.SMTP_SSL(HOST, port, context=trusted, timeout=10) as client:
            return client.ehlo("client.castle.test")[0]

    options = [*tls, "--implicit-tls"]
    result, reply = run_hop(tmp_path / "b", free_port(), *options, while_running=implicit)
    assert result.exit_code == 0 and reply == 250


def test_the_hop_forwards_over_tls_as_forward_tls_and_forward_ca_say(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    authority = LocalAuthority()
    ca = authority.write(tmp_path / "ca.pem")
    other = LocalAuthority("another").write(tmp_path / "other.pem")
    plain = Peer(HOST, free_port())
    secure = Peer(HOST, free_port(), tls_context=authority.issue([HOST]).server_context())

    def deliver(port: int, stop: Callable[[], None]) -> None:
        with _client(port) as client:
            client.sendmail("polonius@castle.test", ["o@castle.test"], MESSAGE)
        wait_until(lambda: logged(caplog, "to=<o@castle.test>, relay="), 20, "an attempt")

    required = ("--forward-tls", "required")
    for peer in (plain, secure):
        peer.start()
    try:
        with caplog.at_level(logging.INFO, logger="elsinore.smtp"):
            run_hop(tmp_path / "a", plain.port, *required, while_running=deliver)
            assert logged(caplog, "(4.7.0 STARTTLS required but not offered)")
            caplog.clear()
            run_hop(
                tmp_path / "b", secure.port, *required, "--forward-ca", str(other),
                while_running=deliver,
            )  # fmt: skip
            assert logged(caplog, "certificate verify failed")
            caplog.clear()
            run_hop(
                tmp_path / "c", secure.port, *required, "--forward-ca", str(ca),
                while_running=deliver,
            )  # fmt: skip
            assert logged(caplog, "status=sent")
    finally:
        for peer in (plain, secure):
            peer.stop()
    assert plain.messages == []
    [received] = secure.messages
    assert received.tls


def test_the_hop_names_the_client_by_its_reverse_name_with_a_resolver(
    tmp_path: Path, peer: Peer
) -> None:
    zones = DnsThread({"127.in-addr.arpa.": REVERSE_ZONE, "castle.test.": FORWARD_ZONE})
    resolver = f"{zones.endpoint.host}:{zones.endpoint.port}"

    def deliver(port: int, stop: Callable[[], None]) -> None:
        with _client(port) as client:
            client.sendmail("polonius@castle.test", ["o@castle.test"], MESSAGE)
        wait_until(lambda: len(peer.messages) == 1, 20, "the message")

    try:
        run_hop(tmp_path, peer.port, "--resolver", resolver, while_running=deliver)
    finally:
        zones.close()
    [received] = peer.messages
    expected = b"Received: from client.castle.test (client.castle.test [127.0.0.1])"
    assert received.data.startswith(expected)


def test_a_signal_mid_transaction_lets_it_end_in_250(tmp_path: Path) -> None:
    def interrupt(port: int, stop: Callable[[], None]) -> bytes:
        with socket.create_connection((HOST, port), timeout=10) as sock:
            file = sock.makefile("rb")
            file.readline()
            sock.sendall(b"HELO client.test\r\nMAIL FROM:<a@client.test>\r\n")
            sock.sendall(b"RCPT TO:<o@castle.test>\r\nDATA\r\n")
            for _ in range(4):
                file.readline()
            sock.sendall(b"Subject: in flight\r\n\r\nhalf of the body\r\n")
            stop()
            wait_until(lambda: not listening(port), 10, "the hop to stop listening")
            sock.sendall(b"the other half\r\n.\r\n")
            return file.readline()

    result, answer = run_hop(tmp_path, free_port(), while_running=interrupt)
    assert answer.startswith(b"250 2.0.0 OK queued as "), answer
    assert result.exit_code == 0
    [queued] = Spool(tmp_path / "spool").due(time.time() + 86400)
    assert queued.queue_id == answer.split()[-1].decode()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("0.2s", 0.2), ("2m", 120.0), ("1h", 3600.0), ("5d", 432_000.0),
     (" 1H ", 3600.0), ("1.5D", 129_600.0)],
)  # fmt: skip
def test_a_duration_is_a_number_of_seconds_minutes_hours_or_days(text: str, seconds: float) -> None:
    option = hop_command.params[0]
    assert _duration(click.Context(hop_command), option, text) == seconds
    assert _optional_duration(click.Context(hop_command), option, text) == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("soon", "'soon' is not a duration (a number, then s, m, h or d)"),
        ("s", "'s' is not a duration (a number, then s, m, h or d)"),
        ("5w", "'5w' is not a duration (a number, then s, m, h or d)"),
        ("0s", "'0s' must be more than 0"),
        ("-1m", "'-1m' must be more than 0"),
    ],
)
def test_a_bad_duration_names_itself_and_why(text: str, reason: str) -> None:
    option = hop_command.params[0]
    with pytest.raises(click.BadParameter) as raised:
        _duration(click.Context(hop_command), option, text)
    assert raised.value.message == reason
    assert raised.value.param is option


def test_a_duration_left_out_stays_none() -> None:
    assert _optional_duration(click.Context(hop_command), hop_command.params[0], None) is None


class Helos:
    """An aiosmtpd handler keeping the name each client said EHLO with."""

    def __init__(self) -> None:
        self.names: list[str | None] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.names.append(session.host_name)
        return "250 2.0.0 OK"


def test_the_hop_says_ehlo_to_its_forward_with_its_hostname(tmp_path: Path) -> None:
    helos = Helos()
    downstream = Controller(helos, hostname=HOST, port=free_port())
    downstream.start()

    def deliver(port: int, stop: Callable[[], None]) -> None:
        with _client(port) as client:
            client.sendmail("polonius@castle.test", ["o@castle.test"], MESSAGE)
        wait_until(lambda: bool(helos.names), 20, "the message downstream")

    try:
        run_hop(tmp_path, downstream.port, while_running=deliver)
    finally:
        downstream.stop()
    assert helos.names == ["hop.castle.test"]


def test_the_hop_starts_on_a_message_at_once_not_at_its_next_scan(
    tmp_path: Path, peer: Peer
) -> None:
    # With --retry 1h the spool is scanned every 30 s; a message just stored is handed to
    # the queue runner by the inbound handler and goes out long before that.
    def deliver(port: int, stop: Callable[[], None]) -> None:
        with _client(port) as client:
            client.sendmail("polonius@castle.test", ["o@castle.test"], MESSAGE)
        wait_until(lambda: len(peer.messages) == 1, 20, "the message, before the next scan")

    run_hop(tmp_path, peer.port, "--retry", "1h", while_running=deliver)


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--expire", "soon", "'soon' is not a duration (a number, then s, m, h or d)"),
        ("--retry", "0s", "'0s' must be more than 0"),
        ("--dead-host-time", "-1h", "'-1h' must be more than 0"),
        (
            "--dead-host-time",
            "a while",
            "'a while' is not a duration (a number, then s, m, h or d)",
        ),
    ],
)
def test_a_bad_duration_is_clicks_usage_error_naming_the_option(
    tmp_path: Path, option: str, value: str, reason: str
) -> None:
    args = ["--listen", f"{HOST}:{free_port()}", "--forward", f"{HOST}:{free_port()}",
            "--spool", str(tmp_path), option, value]  # fmt: skip
    result = CliRunner().invoke(hop_command, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: hop [OPTIONS]\n")
    assert result.stderr.endswith(f"Error: Invalid value for '{option}': {reason}\n")
