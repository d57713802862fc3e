"""``elsinore submit`` as a user runs it, against a real aiosmtpd submission server on
loopback: TLS from our local CA, AUTH that aiosmtpd refuses before TLS."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from click.testing import CliRunner
from click.testing import Result as ClickResult
from smtp_peers import Peer, free_port

from stack.smtp.tls import LocalAuthority
from stack.smtp.tools import _has_terminal, _security, read_password, system_context
from stack.smtp.tools import submit as submit_command

pytestmark = pytest.mark.timeout(60)

ELSINORE = [sys.executable, "-m", "stack"]
MESSAGE = (
    b"From: hamlet@castle.test\r\nTo: ophelia@bigmail.test\r\nSubject: submitted\r\n\r\n"
    b"Words, words, words.\r\n.leading dot\r\n"
)
USER, PASSWORD = "hamlet", "to be, or not"
HOST = "127.0.0.1"


class Authenticator:
    """aiosmtpd's ``authenticator``: one user, and every attempt kept."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, bytes, bytes]] = []
        #: The reply to every attempt instead of a check, when set.
        self.answer: str | None = None

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.attempts.append((mechanism, data.login, data.password))
        if self.answer is not None:
            return AuthResult(success=False, handled=False, message=self.answer)
        good = data.login == USER.encode() and data.password == PASSWORD.encode()
        return AuthResult(success=good, handled=False)


class _Watched(SMTP):
    """aiosmtpd's session, noting every AUTH command it reads, whatever it answers."""

    def __init__(self, seen: list[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen = seen

    async def smtp_AUTH(self, arg: str) -> None:
        self.seen.append(arg)
        await super().smtp_AUTH(arg)


class Submission(Peer):
    """A submission server: a :class:`Peer` with AUTH and TLS."""

    def __init__(self, **smtp: Any) -> None:
        self.auth_commands: list[str] = []
        self.authenticator = Authenticator()
        smtp.setdefault("auth_require_tls", True)
        super().__init__(HOST, free_port(), authenticator=self.authenticator, **smtp)

    def factory(self) -> SMTP:
        return _Watched(self.auth_commands, self.handler, **self.SMTP_kwargs)


@pytest.fixture(scope="module")
def authority() -> LocalAuthority:
    return LocalAuthority()


@pytest.fixture
def ca_file(authority: LocalAuthority, tmp_path: Path) -> Path:
    return authority.write(tmp_path / "ca.crt")


@pytest.fixture
def tls(authority: LocalAuthority) -> ssl.SSLContext:
    return authority.issue([HOST]).server_context()


def _serving(server: Submission) -> Iterator[Submission]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def starttls_server(tls: ssl.SSLContext) -> Iterator[Submission]:
    yield from _serving(Submission(tls_context=tls))


@pytest.fixture
def implicit_server(tls: ssl.SSLContext) -> Iterator[Submission]:
    # aiosmtpd's auth_require_tls knows STARTTLS only: on a TLS-from-the-start listener it
    # would never offer AUTH.  Nothing on this one is in clear text anyway.
    yield from _serving(Submission(ssl_context=tls, auth_require_tls=False))


def submit(
    server: Submission,
    *options: str,
    password: str | None = PASSWORD,
    message: bytes = MESSAGE,
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "ELSINORE_PASSWORD"}
    if password is not None:
        environment["ELSINORE_PASSWORD"] = password
    return subprocess.run(
        [*ELSINORE, "submit", "--server", f"{HOST}:{server.port}", "--user", USER,
         "--sender", "hamlet@castle.test", "-r", "ophelia@bigmail.test", *options, "-"],
        input=message.decode(),
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        start_new_session=True,  # no controlling terminal to be asked for a password on
    )  # fmt: skip


def test_submit_over_starttls_logs_in_and_delivers_the_bytes(
    starttls_server: Submission, ca_file: Path
) -> None:
    done = submit(starttls_server, "--ca", str(ca_file))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("ophelia@bigmail.test: 250 2.0.0 queued by 127.0.0.1 (127.0.0.1[")
    assert starttls_server.authenticator.attempts == [("PLAIN", USER.encode(), PASSWORD.encode())]
    [received] = starttls_server.messages
    assert received.tls
    assert received.sender == "hamlet@castle.test"
    assert received.recipients == ["ophelia@bigmail.test"]
    assert received.data == MESSAGE


def test_submit_over_implicit_tls_delivers(implicit_server: Submission, ca_file: Path) -> None:
    done = submit(implicit_server, "--tls", "--ca", str(ca_file))
    assert done.returncode == 0, done.stderr
    # aiosmtpd marks only STARTTLS sessions as TLS; this listener speaks nothing else.
    [received] = implicit_server.messages
    assert received.data == MESSAGE
    assert [m for m, *_ in implicit_server.authenticator.attempts] == ["PLAIN"]


def test_submit_logs_in_with_login_when_plain_is_not_offered(
    tls: ssl.SSLContext, ca_file: Path
) -> None:
    for server in _serving(Submission(tls_context=tls, auth_exclude_mechanism=["PLAIN"])):
        done = submit(server, "--ca", str(ca_file), "--json")
        assert done.returncode == 0, done.stderr
        assert server.authenticator.attempts == [("LOGIN", USER.encode(), PASSWORD.encode())]
        assert json.loads(done.stdout)[0]["auth"]["mechanism"] == "LOGIN"


def test_a_wrong_password_is_exit_1_and_the_servers_reply_in_one_line(
    starttls_server: Submission, ca_file: Path
) -> None:
    done = submit(starttls_server, "--ca", str(ca_file), password="to be")
    assert done.returncode == 1
    assert done.stderr == (
        "elsinore: error: submit: authentication failed: 535 5.7.8 Authentication credentials"
        " invalid\n"
    )
    assert done.stdout == ""
    assert starttls_server.messages == []


def test_a_server_without_starttls_never_sees_a_credential(ca_file: Path) -> None:
    # The trap: this server offers AUTH in clear text.
    for server in _serving(Submission(auth_require_tls=False)):
        done = submit(server, "--ca", str(ca_file))
        assert done.returncode != 0
        assert done.stderr.count("\n") == 1
        assert "submit: not sent: 4.7.0 STARTTLS required but not offered" in done.stderr
        assert server.auth_commands == []
        assert server.authenticator.attempts == []
        assert server.messages == []


def test_without_ca_the_system_store_decides_and_our_local_ca_is_not_in_it(
    starttls_server: Submission, implicit_server: Submission
) -> None:
    for server, options in ((starttls_server, ()), (implicit_server, ("--tls",))):
        done = submit(server, *options)
        assert done.returncode == 75
        assert done.stderr.count("\n") == 1
        assert "certificate verify failed" in done.stderr, done.stderr
        assert server.auth_commands == []
        assert server.messages == []


def test_the_password_file_gives_its_first_line_without_the_line_end(
    starttls_server: Submission, ca_file: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "password"
    secret.write_bytes(PASSWORD.encode() + b"\r\nnot this line\n")
    done = submit(
        starttls_server, "--ca", str(ca_file), "--password-file", str(secret), password="wrong"
    )
    assert done.returncode == 0, done.stderr
    assert starttls_server.authenticator.attempts == [("PLAIN", USER.encode(), PASSWORD.encode())]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "has an empty first line"),
        (b"\nsecret\n", "has an empty first line"),
        (b"x" * 1025 + b"\n", "is longer than 1024 bytes"),
        (b"x" * 10_000_000, "is longer than 1024 bytes"),
    ],
    ids=["empty", "empty-first-line", "long-line", "ten-megabytes-no-line-end"],
)
def test_an_empty_password_is_refused_before_connecting(
    starttls_server: Submission, tmp_path: Path, content: bytes, reason: str
) -> None:
    secret = tmp_path / "password"
    secret.write_bytes(content)
    done = submit(starttls_server, "--password-file", str(secret))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert reason in done.stderr
    assert starttls_server.recorder.connections == 0


def test_no_password_anywhere_is_one_line_and_exit_2(starttls_server: Submission) -> None:
    done = submit(starttls_server, password=None)
    assert done.returncode == 2
    assert done.stderr.startswith("elsinore: error: no password: give --password-file FILE")
    assert done.stderr.count("\n") == 1
    assert starttls_server.recorder.connections == 0


def test_tls_and_starttls_together_are_a_usage_error(starttls_server: Submission) -> None:
    done = submit(starttls_server, "--tls", "--starttls")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--tls and --starttls exclude each other" in done.stderr


def test_json_is_sends_list_with_the_login_beside_each_result(
    starttls_server: Submission, ca_file: Path
) -> None:
    starttls_server.recorder.refuse["nobody@castle.test"] = "550 5.1.1 no such user"
    done = submit(starttls_server, "--ca", str(ca_file), "-r", "nobody@castle.test", "--json")
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)
    auth = {
        "user": USER,
        "tls": "starttls",
        "mechanism": "PLAIN",
        "authenticated": True,
        "reply": [235, "2.7.0", "Authentication successful"],
        "refusal": None,
    }
    remote = f"127.0.0.1[127.0.0.1]:{starttls_server.port}"
    assert results == [
        {"recipient": "ophelia@bigmail.test", "code": 250, "enhanced": "2.0.0",
         "text": "queued by 127.0.0.1", "remote": remote, "delivered": True,
         "permanent": False, "auth": auth},
        {"recipient": "nobody@castle.test", "code": 550, "enhanced": "5.1.1",
         "text": "no such user", "remote": remote, "delivered": False, "permanent": True,
         "auth": auth},
    ]  # fmt: skip


def test_json_of_a_failed_login_says_so_and_exits_1(
    implicit_server: Submission, ca_file: Path
) -> None:
    done = submit(implicit_server, "--tls", "--ca", str(ca_file), "--json", password="wrong")
    assert done.returncode == 1
    [result] = json.loads(done.stdout)
    assert (result["code"], result["enhanced"], result["delivered"]) == (535, "5.7.8", False)
    assert result["auth"]["authenticated"] is False
    assert result["auth"]["reply"] == [535, "5.7.8", "Authentication credentials invalid"]
    assert "authentication failed: 535 5.7.8" in done.stderr


def _read_until(controller: int, wanted: bytes, process: subprocess.Popen[bytes]) -> bytes:
    """What the terminal shows until ``wanted``.  While no process holds the terminal open
    (between the shell's redirection and getpass opening /dev/tty) Linux answers EIO: wait."""
    shown = b""
    deadline = time.monotonic() + 20
    while wanted not in shown:
        assert time.monotonic() < deadline, f"not on the terminal: {wanted!r} in {shown!r}"
        assert process.poll() is None, f"exited {process.returncode} before {wanted!r}"
        if select.select([controller], [], [], 0.1)[0]:
            try:
                shown += os.read(controller, 1024)
            except OSError:
                time.sleep(0.02)
    return shown


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs util-linux's setsid")
@pytest.mark.parametrize("piped", [False, True], ids=["message-file", "message-on-stdin"])
def test_on_a_terminal_the_password_is_asked_for_without_echo(
    starttls_server: Submission, ca_file: Path, tmp_path: Path, piped: bool
) -> None:
    message = tmp_path / "message.eml"
    message.write_bytes(MESSAGE)
    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k != "ELSINORE_PASSWORD"}
    command = [*ELSINORE, "submit", "--server", f"{HOST}:{starttls_server.port}",
               "--user", USER, "--ca", str(ca_file), "--sender", "hamlet@castle.test",
               "-r", "ophelia@bigmail.test"]  # fmt: skip
    if piped:  # stdin is the message; the terminal is still there to ask on, as for ssh
        command = ["sh", "-c", 'exec "$@" - < "$0"', str(message), *command]
    else:
        command = [*command, str(message)]
    # util-linux's setsid makes the terminal the child's controlling one, where getpass asks
    # (preexec_fn could do it too, but not safely beside the server's thread).
    process = subprocess.Popen(
        ["setsid", "--ctty", "--wait", *command],
        stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
    )  # fmt: skip
    os.close(terminal)
    try:
        shown = _read_until(controller, b"Password:", process)
        os.write(controller, PASSWORD.encode() + b"\n")
        _, err = process.communicate(timeout=30)
        while select.select([controller], [], [], 0.2)[0]:
            try:
                shown += os.read(controller, 1024)
            except OSError:  # the child is gone and the terminal with it
                break
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert process.returncode == 0, err
    assert PASSWORD.encode() not in shown
    assert starttls_server.authenticator.attempts == [("PLAIN", USER.encode(), PASSWORD.encode())]
    assert [m.data for m in starttls_server.messages] == [MESSAGE]


def test_a_server_that_offers_neither_plain_nor_login_gets_no_credential(
    tls: ssl.SSLContext, ca_file: Path
) -> None:
    for server in _serving(Submission(tls_context=tls, auth_exclude_mechanism=["PLAIN", "LOGIN"])):
        done = submit(server, "--ca", str(ca_file))
        assert done.returncode == 1
        assert done.stderr == (
            "elsinore: error: submit: refused to log in: the server offers neither AUTH PLAIN"
            " nor LOGIN (no AUTH at all)\n"
        )
        assert server.auth_commands == []
        assert server.messages == []


# -- in process -------------------------------------------------------------------------------
#
# The same contract with submit run by click in the test's own process (a mutation run sees
# only calls made here); the password comes from the environment or a file, as above.


def submit_in_process(
    server: Submission,
    *options: str,
    password: str | None = PASSWORD,
    message: bytes = MESSAGE,
) -> ClickResult:
    envelope = ["--sender", "hamlet@castle.test", "-r", "ophelia@bigmail.test"]
    args = ["--server", f"{HOST}:{server.port}", "--user", USER, *envelope, *options, "-"]
    return CliRunner().invoke(
        submit_command, args, input=message, env={"ELSINORE_PASSWORD": password}
    )


def test_in_process_submit_over_starttls_logs_in_with_plain_and_prints_the_reply(
    starttls_server: Submission, ca_file: Path
) -> None:
    done = submit_in_process(starttls_server, "--ca", str(ca_file))
    assert done.exit_code == 0, done.output
    assert done.stderr == ""
    remote = f"{HOST}[{HOST}]:{starttls_server.port}"
    assert done.stdout == f"ophelia@bigmail.test: 250 2.0.0 queued by {HOST} ({remote})\n"
    assert starttls_server.authenticator.attempts == [("PLAIN", USER.encode(), PASSWORD.encode())]
    [received] = starttls_server.messages
    assert (received.tls, received.data) == (True, MESSAGE)


def test_in_process_submit_json_names_the_login_beside_each_result(
    tls: ssl.SSLContext, ca_file: Path
) -> None:
    for server in _serving(Submission(tls_context=tls, auth_exclude_mechanism=["PLAIN"])):
        server.recorder.refuse["nobody@castle.test"] = "550 5.1.1 no such user"
        done = submit_in_process(server, "--ca", str(ca_file), "-r", "nobody@castle.test", "--json")
        assert done.exit_code == 1, done.output
        auth = {"user": USER, "tls": "starttls", "mechanism": "LOGIN", "authenticated": True,
                "reply": [235, "2.7.0", "Authentication successful"], "refusal": None}  # fmt: skip
        remote = f"{HOST}[{HOST}]:{server.port}"
        assert json.loads(done.stdout) == [
            {"recipient": "ophelia@bigmail.test", "code": 250, "enhanced": "2.0.0",
             "text": f"queued by {HOST}", "remote": remote, "delivered": True,
             "permanent": False, "auth": auth},
            {"recipient": "nobody@castle.test", "code": 550, "enhanced": "5.1.1",
             "text": "no such user", "remote": remote, "delivered": False, "permanent": True,
             "auth": auth},
        ]  # fmt: skip
        assert server.authenticator.attempts == [("LOGIN", USER.encode(), PASSWORD.encode())]


def test_in_process_submit_over_implicit_tls(implicit_server: Submission, ca_file: Path) -> None:
    done = submit_in_process(implicit_server, "--tls", "--ca", str(ca_file), "--json")
    assert done.exit_code == 0, done.output
    [result] = json.loads(done.stdout)
    assert (result["auth"]["tls"], result["auth"]["mechanism"]) == ("tls", "PLAIN")
    assert [m.data for m in implicit_server.messages] == [MESSAGE]


def test_in_process_a_wrong_password_is_one_line_exit_1_and_nothing_sent(
    starttls_server: Submission, ca_file: Path
) -> None:
    done = submit_in_process(starttls_server, "--ca", str(ca_file), password="to be")
    assert done.exit_code == 1
    assert done.stdout == ""
    assert done.stderr == (
        "elsinore: error: submit: authentication failed: 535 5.7.8 Authentication credentials"
        " invalid\n"
    )
    assert starttls_server.messages == []


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("400 4.7.0 Try again later", 75),
        ("454 4.7.0 Temporary authentication failure", 75),
        ("499 4.7.0 Not now", 75),
        ("500 5.7.0 No", 1),
    ],
)
def test_in_process_a_4xx_to_auth_is_exit_75_and_a_5xx_exit_1(
    starttls_server: Submission, ca_file: Path, answer: str, status: int
) -> None:
    starttls_server.authenticator.answer = answer
    done = submit_in_process(starttls_server, "--ca", str(ca_file), "--json")
    assert done.exit_code == status
    code, enhanced, text = answer.split(" ", 2)
    [result] = json.loads(done.stdout)
    assert result["auth"]["reply"] == [int(code), enhanced, text]
    assert result["auth"]["authenticated"] is False
    assert done.stderr == f"elsinore: error: submit: authentication failed: {answer}\n"


class _Exotic(_Watched):
    """A session offering two mechanisms submit does not speak (never called)."""

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        raise AssertionError("CRAM-MD5 was tried")

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        raise AssertionError("XOAUTH2 was tried")


class _ExoticSubmission(Submission):
    def factory(self) -> SMTP:
        return _Exotic(self.auth_commands, self.handler, **self.SMTP_kwargs)


def test_in_process_a_server_without_plain_or_login_is_told_what_it_offers(
    tls: ssl.SSLContext, ca_file: Path
) -> None:
    mechanisms = ["PLAIN", "LOGIN"]
    for server in _serving(_ExoticSubmission(tls_context=tls, auth_exclude_mechanism=mechanisms)):
        done = submit_in_process(server, "--ca", str(ca_file), "--json")
        assert done.exit_code == 1
        refusal = "the server offers neither AUTH PLAIN nor LOGIN (CRAM-MD5 XOAUTH2)"
        assert done.stderr == f"elsinore: error: submit: refused to log in: {refusal}\n"
        [result] = json.loads(done.stdout)
        auth = {"user": USER, "tls": "starttls", "mechanism": None, "authenticated": False,
                "reply": None, "refusal": refusal}  # fmt: skip
        assert result["auth"] == auth
        assert result["text"] == refusal  # what every recipient's result says too
        assert server.auth_commands == [] and server.messages == []
    for server in _serving(Submission(tls_context=tls, auth_exclude_mechanism=mechanisms)):
        done = submit_in_process(server, "--ca", str(ca_file))
        assert done.exit_code == 1
        assert done.stderr == (
            "elsinore: error: submit: refused to log in: the server offers neither AUTH PLAIN"
            " nor LOGIN (no AUTH at all)\n"
        )


def test_in_process_no_starttls_or_no_trust_is_not_sent_in_one_line(
    starttls_server: Submission, ca_file: Path
) -> None:
    for server in _serving(Submission(auth_require_tls=False)):
        done = submit_in_process(server, "--ca", str(ca_file))
        assert done.exit_code == 75
        assert done.stdout == ""
        assert done.stderr == (
            "elsinore: error: submit: not sent: 4.7.0 STARTTLS required but not offered"
            f" ({HOST}[{HOST}]:{server.port})\n"
        )
        assert server.auth_commands == []
    # No --ca: the system's store decides, and our local CA is not in it.
    done = submit_in_process(starttls_server)
    assert done.exit_code == 75
    assert done.stderr.startswith("elsinore: error: submit: not sent: 4.7.5 TLS: certificate")
    assert "certificate verify failed" in done.stderr
    assert starttls_server.auth_commands == []


# -- the password, the TLS mode and the trust store, on their own


def test_the_password_file_gives_its_first_line_up_to_1024_bytes(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    for content, password in [
        (b"one\r\ntwo\n", b"one"),
        (b"one\ntwo", b"one"),
        (b"one", b"one"),
        (b"x" * 1024 + b"\r\n", b"x" * 1024),
        (b"x" * 1024, b"x" * 1024),
    ]:
        secret.write_bytes(content)
        assert read_password(secret) == password


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the password file {} has an empty first line"),
        (b"\r\nsecret\n", "the password file {} has an empty first line"),
        (b"x" * 1025, "the first line of {} is longer than 1024 bytes"),
        (b"x" * 1025 + b"\n", "the first line of {} is longer than 1024 bytes"),
    ],
)
def test_a_password_file_without_a_usable_first_line_is_a_usage_error(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    secret = tmp_path / "password"
    secret.write_bytes(content)
    with pytest.raises(click.UsageError) as raised:
        read_password(secret)
    assert raised.value.message == reason.format(secret)


def test_a_password_file_that_cannot_be_read_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(click.UsageError) as raised:
        read_password(tmp_path / "missing")
    assert raised.value.message == f"cannot read {tmp_path / 'missing'}: no such file or directory"


def test_the_password_comes_from_the_environment_without_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ELSINORE_PASSWORD", "être ou ne pas être")
    assert read_password(None) == "être ou ne pas être".encode()
    monkeypatch.setenv("ELSINORE_PASSWORD", "")
    with pytest.raises(click.UsageError) as raised:
        read_password(None)
    assert raised.value.message == "ELSINORE_PASSWORD is set but empty"


@pytest.mark.skipif(os.path.exists("/dev/tty") and _has_terminal(), reason="a terminal to ask on")
def test_no_password_file_variable_or_terminal_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ELSINORE_PASSWORD", raising=False)
    with pytest.raises(click.UsageError) as raised:
        read_password(None)
    assert raised.value.message == (
        "no password: give --password-file FILE, or set ELSINORE_PASSWORD, or run on a terminal"
    )


@pytest.mark.parametrize(
    ("tls", "starttls", "port", "security"),
    [
        (True, False, 587, "tls"),
        (False, True, 465, "starttls"),
        (False, False, 465, "tls"),
        (False, False, 587, "starttls"),
        (False, False, 2525, "starttls"),
        (True, False, 2525, "tls"),
    ],
)
def test_tls_or_starttls_as_asked_else_as_the_port_is_for(
    tls: bool, starttls: bool, port: int, security: str
) -> None:
    assert _security(tls, starttls, port) == security


def test_tls_and_starttls_together_are_refused() -> None:
    with pytest.raises(click.UsageError) as raised:
        _security(True, True, 465)
    assert raised.value.message == "--tls and --starttls exclude each other"


def test_the_system_context_verifies_the_server_and_its_name() -> None:
    context = system_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_a_password_fifo_is_read_to_its_limit_not_to_its_end(tmp_path: Path) -> None:
    # A FIFO (or /dev/zero) need not end: no more than the limit and a line end is read.
    fifo = tmp_path / "password"
    os.mkfifo(fifo)
    finished = threading.Event()

    def writer() -> None:
        with fifo.open("wb") as out:
            out.write(b"x" * 4096)
            out.flush()
            finished.wait(120)  # open until the reader is done: a reader to the end waits

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with pytest.raises(click.UsageError) as raised:
            read_password(fifo)
    finally:
        finished.set()
        thread.join(10)
    assert raised.value.message == f"the first line of {fifo} is longer than 1024 bytes"


def _controlling_terminal() -> bool:
    """Whether the kernel gave this process a controlling terminal (proc(5): tty_nr)."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[4]) != 0


def _read_password_on_a_terminal(typed: bytes | None) -> tuple[str, bytes, str, str]:
    """``read_password(None)`` in a child process whose controlling terminal is a new pty.

    ``typed`` is written to the terminal once its echo is off (getpass's prompt shows).
    Returns the answer (``ok:PASSWORD`` or ``error:MESSAGE``), what the terminal showed,
    and what the child wrote to stdout and to stderr."""
    # The same functions in this process first, where a mutation run sees the calls: there
    # is a terminal when the kernel gave the process one, and the variable comes first.
    assert _has_terminal() == _controlling_terminal()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ELSINORE_PASSWORD", "from the environment")
        assert read_password(None) == b"from the environment"
    controller, terminal = pty.openpty()
    name = os.ttyname(terminal)
    pipes = [os.pipe() for _ in range(3)]  # the answer, stdout, stderr
    pid = os.fork()
    if pid == 0:  # the child: a session of its own, the pty its controlling terminal
        status = 1
        try:
            os.close(controller)
            os.setsid()
            os.close(os.open(name, os.O_RDWR))
            sys.stdout = open(pipes[1][1], "w")  # noqa: SIM115 - the child exits at once
            sys.stderr = open(pipes[2][1], "w")  # noqa: SIM115
            try:
                answer = b"ok:" + read_password(None)
            except click.UsageError as exc:
                answer = b"error:" + exc.message.encode()
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(pipes[0][1], answer)
            status = 0
        finally:
            os._exit(status)
    os.close(terminal)
    for _, write_end in pipes:
        os.close(write_end)
    shown = b""
    try:
        deadline = time.monotonic() + 10
        while typed is not None and b" " not in shown and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                shown += os.read(controller, 1024)
        if typed is not None:
            os.write(controller, typed)
        outputs = []
        for read_end, _ in pipes:
            data = b""
            while select.select([read_end], [], [], 10)[0]:
                chunk = os.read(read_end, 4096)
                if not chunk:
                    break
                data += chunk
            outputs.append(data.decode())
            os.close(read_end)
        while select.select([controller], [], [], 0.1)[0]:
            try:
                shown += os.read(controller, 1024)
            except OSError:  # the child is gone and the terminal with it
                break
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(controller)
    return outputs[0], shown, outputs[1], outputs[2]


def test_on_a_terminal_too_the_variable_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELSINORE_PASSWORD", PASSWORD)
    assert read_password(None) == PASSWORD.encode()
    answer, shown, out, err = _read_password_on_a_terminal(None)
    assert (answer, shown, out, err) == (f"ok:{PASSWORD}", b"", "", "")


def test_a_terminal_is_asked_for_the_password_without_echo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ELSINORE_PASSWORD", raising=False)
    answer, shown, out, err = _read_password_on_a_terminal(PASSWORD.encode() + b"\n")
    assert answer == f"ok:{PASSWORD}"
    assert shown.startswith(b"Password: ") and PASSWORD.encode() not in shown
    assert (out, err) == ("", "")  # stdout is the message's; stderr a log's


def test_an_empty_answer_on_the_terminal_is_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELSINORE_PASSWORD", raising=False)
    answer, _, _, err = _read_password_on_a_terminal(b"\n")
    assert answer == (
        "error:no password: give --password-file FILE, or set ELSINORE_PASSWORD, or run on a"
        " terminal"
    )
    assert err == ""
