"""Submission: logins over TLS only (465 and 587+STARTTLS over one handler), the users of the
alias map, the seed's hashes rehashed, the throttle, and sending only as oneself.

Every test runs a real submission handler on 127.0.0.1 (ports the kernel picks), with a real
certificate from a local CA, a real spool in ``tmp_path`` and aiosmtplib (or a raw socket,
to see each reply) as the client.  Passwords are hashed at a low scrypt cost so the tests
stay quick; the KDF is wrapped to count the work each check does.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import shutil
import ssl
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiosmtplib
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.auth.passwords import Cost, Passwords, scrypt
from stack.mime.lossless import parse
from stack.relay.aliases import Watcher, write_record
from stack.services.signer import author_domains
from stack.services.submission import (
    SESSION_OPTIONS,
    Logins,
    SubmissionInbound,
    Throttle,
    client_key,
    unowned_author,
)
from stack.smtp.server import InboundConfig, InboundServer
from stack.smtp.spool import AsyncSpool, Queued, Spool
from stack.smtp.tls import LocalAuthority, client_context

T = TypeVar("T")

HOST = "127.0.0.1"
DOMAIN = "castle.test"
#: Cheap, so that a test runs dozens of checks in well under a second.
TEST_COST = Cost(log_n=4, r=8, p=1)
MESSAGE = b"From: alice@castle.test\r\nTo: ophelia@bigmail.test\r\nSubject: hi\r\n\r\nbody\r\n"


@pytest.fixture(scope="module")
def authority() -> LocalAuthority:
    return LocalAuthority()


class CountingKdf:
    """scrypt, counting its calls and noting the threads it ran in."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[int] = set()

    def __call__(self, password: bytes, salt: bytes, cost: Cost, length: int) -> bytes:
        self.calls += 1
        self.threads.add(threading.get_ident())
        return scrypt(password, salt, cost, length)


@dataclass
class Users:
    directory: Path
    kdf: CountingKdf = field(default_factory=CountingKdf)

    def __post_init__(self) -> None:
        self.passwords = Passwords(TEST_COST, self.kdf)

    def add(self, name: str, password: str | None, *targets: str) -> None:
        hashed = None if password is None else self.passwords.hash(password)
        write_record(self.directory, name, targets or (f"{name}@bigmail.test",), hashed)

    def logins(self) -> Logins:
        watcher = Watcher(self.directory, DOMAIN, postmaster="hostmaster@bigmail.test")
        return Logins(watcher, passwords=self.passwords, reload_interval=0.0)


@pytest.fixture
def users(tmp_path: Path) -> Users:
    directory = tmp_path / "users"
    directory.mkdir()
    found = Users(directory)
    found.add("alice", "wonderland")
    found.add("bob", "builder")
    found.add("info", None, "alice@castle.test")  # an alias of alice's, no login of its own
    found.kdf.calls = 0
    found.kdf.threads.clear()
    return found


@dataclass
class Running:
    """A submission handler with a STARTTLS listener (587's) and an implicit TLS one (465's)."""

    starttls_port: int
    tls_port: int
    queued: list[Queued]
    context: ssl.SSLContext

    def client(self, *, implicit: bool = False, source: str | None = None) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=HOST,
            port=self.tls_port if implicit else self.starttls_port,
            use_tls=implicit,
            start_tls=not implicit,
            tls_context=self.context,
            source_address=None if source is None else (source, 0),
            timeout=10,
        )


@asynccontextmanager
async def submission(
    tmp_path: Path, authority: LocalAuthority, logins: Logins, throttle: Throttle | None = None
) -> AsyncIterator[Running]:
    queued: list[Queued] = []
    config = InboundConfig(hostname="smtp.castle.test", session_options=SESSION_OPTIONS)
    spool = AsyncSpool(Spool(tmp_path / "spool"))
    handler = SubmissionInbound(config, spool, queued.append, logins=logins, throttle=throttle)
    server_context = authority.issue(["smtp.castle.test", HOST]).server_context()
    starttls = InboundServer(handler, HOST, 0, tls_context=server_context)
    implicit = InboundServer(handler, HOST, 0, tls_context=server_context, implicit_tls=True)
    await starttls.start()
    await implicit.start()
    try:
        yield Running(
            starttls.port, implicit.port, queued, client_context(ca_pem=authority.certificate_pem)
        )
    finally:
        await starttls.stop(grace=1)
        await implicit.stop(grace=1)
        await spool.aclose()


def run(test: Coroutine[Any, Any, T]) -> T:
    """``test`` on an event loop of its own, bounded in time."""
    return asyncio.run(asyncio.wait_for(test, 30))


def plain(name: str, password: str) -> str:
    return base64.b64encode(f"\0{name}\0{password}".encode()).decode()


class RawSession:
    """A client that shows every reply as it came: a socket, TLS when asked for."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext | None = None) -> RawSession:
        reader, writer = await asyncio.open_connection(
            HOST, port, ssl=context, server_hostname=HOST if context else None
        )
        session = cls(reader, writer)
        await session.reply()  # the greeting
        return session

    async def reply(self) -> str:
        lines: list[str] = []
        while True:
            line = (await self.reader.readline()).decode()
            if not line:
                raise AssertionError(f"connection closed after {lines!r}")
            lines.append(line)
            if line[3:4] == " ":
                return "".join(lines)

    async def send(self, line: str) -> str:
        self.writer.write(line.encode() + b"\r\n")
        return await self.reply()

    async def closed(self) -> bool:
        return await self.reader.read() == b""

    def close(self) -> None:
        self.writer.close()


@pytest.mark.interop
@pytest.mark.parametrize(
    ("transport", "mechanism"),
    [("--tls", "LOGIN"), ("--tls", "PLAIN"), ("--tlsc", "PLAIN")],
    ids=["starttls-login", "starttls-plain", "implicit-plain"],
)
def test_swaks_logs_in_and_submits(
    tmp_path: Path, authority: LocalAuthority, users: Users, transport: str, mechanism: str
) -> None:
    swaks = shutil.which("swaks")
    if swaks is None:
        pytest.skip("swaks is not installed (Debian package swaks)")

    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            port = running.tls_port if transport == "--tlsc" else running.starttls_port
            process = await asyncio.create_subprocess_exec(
                swaks, "--server", HOST, "--port", str(port), transport,
                "--auth", mechanism, "--auth-user", "alice", "--auth-password", "wonderland",
                "--from", "alice@castle.test", "--to", "ophelia@bigmail.test",
                "--header", "From: alice@castle.test", "--helo", "swaks.test",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            output, _ = await process.communicate()
            assert process.returncode == 0, output.decode()
            [message] = running.queued
            assert message.data is not None
            assert b"with ESMTPSA id" in message.data

    run(body())


# -- TLS before AUTH, AUTH before MAIL -------------------------------------------------------


def test_login_works_over_implicit_tls_and_over_starttls(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            for implicit, mechanism in ((True, "PLAIN"), (False, "LOGIN")):
                async with running.client(implicit=implicit) as client:
                    await client.ehlo()
                    assert sorted(client.supported_auth_methods) == ["login", "plain"]
                    if mechanism == "PLAIN":
                        reply = await client.auth_plain("alice", "wonderland")
                    else:
                        reply = await client.auth_login("alice", "wonderland")
                    assert (reply.code, reply.message) == (235, "2.7.0 Authentication successful")
                    await client.sendmail("alice@castle.test", ["ophelia@bigmail.test"], MESSAGE)
            assert len(running.queued) == 2

    run(body())


def test_received_field_says_esmtpsa(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            async with running.client() as client:
                await client.login("alice", "wonderland")
                await client.sendmail("alice@castle.test", ["ophelia@bigmail.test"], MESSAGE)
            [message] = running.queued
            assert message.data is not None
            first = message.data.split(b"\r\n\r\n")[0]
            assert first.startswith(b"Received: from "), first
            assert b"by smtp.castle.test via tcp with ESMTPSA id" in first
            assert b"(using TLSv1.3 with cipher" in first
            assert message.data.endswith(MESSAGE)

    run(body())


def test_auth_is_neither_offered_nor_accepted_before_tls(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            raw = await RawSession.open(running.starttls_port)
            ehlo = await raw.send("EHLO client.test")
            assert "250-STARTTLS" in ehlo
            assert "AUTH" not in ehlo
            refused = await raw.send(f"AUTH PLAIN {plain('alice', 'wonderland')}")
            assert refused.startswith("538 5.7.11 Encryption required"), refused
            assert (await raw.send("AUTH LOGIN")).startswith("538 5.7.11")
            assert (await raw.send("MAIL FROM:<alice@castle.test>")).startswith("530 5.7.0")
            raw.close()
        assert users.kdf.calls == 0, "no password was looked at in clear"

    run(body())


def test_mail_before_auth_is_refused_over_tls(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            raw = await RawSession.open(running.tls_port, running.context)
            ehlo = await raw.send("EHLO client.test")
            assert "250-AUTH LOGIN PLAIN" in ehlo
            reply = await raw.send("MAIL FROM:<alice@castle.test>")
            assert reply == "530 5.7.0 Authentication required\r\n"
            raw.close()

    run(body())


def test_submission_refuses_to_run_without_its_session_options(
    tmp_path: Path, users: Users
) -> None:
    config = InboundConfig(hostname="smtp.castle.test")  # AUTH would be offered to nobody
    with pytest.raises(ValueError, match="authenticator"):
        SubmissionInbound(config, AsyncSpool(Spool(tmp_path / "spool")), logins=users.logins())


# -- who logs in -----------------------------------------------------------------------------


def test_wrong_password_and_unknown_user_get_the_same_reply(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    async def body() -> list[str]:
        replies = []
        async with submission(tmp_path, authority, users.logins()) as running:
            raw = await RawSession.open(running.tls_port, running.context)
            await raw.send("EHLO client.test")
            for name, password in (("alice", "wrong"), ("nobody", "wonderland")):
                replies.append(await raw.send(f"AUTH PLAIN {plain(name, password)}"))
            raw.close()
        return replies

    assert run(body()) == ["535 5.7.8 Authentication credentials invalid\r\n"] * 2


@pytest.mark.parametrize(
    "name",
    ["nobody", "nobody@castle.test", "alice@elsewhere.test", "info", "postmaster", "al\udcffice"],
)
def test_every_refusal_costs_the_scrypt_a_wrong_password_costs(users: Users, name: str) -> None:
    """An unknown name, one in another domain, an alias without a password, the synthetic
    postmaster and a name that is not UTF-8 all take one scrypt, as a wrong password does."""
    logins = users.logins()

    async def body() -> None:
        before = users.kdf.calls
        assert await logins.authenticate(b"alice", b"wrong") is None
        wrong = users.kdf.calls - before
        before = users.kdf.calls
        login = name.encode("utf-8", "surrogateescape")
        assert await logins.authenticate(login, b"wonderland") is None
        assert users.kdf.calls - before == wrong == 1

    run(body())


def test_the_password_check_runs_off_the_event_loop(users: Users) -> None:
    logins = users.logins()

    async def body() -> None:
        assert await logins.authenticate(b"alice", b"wonderland") == "alice"
        assert threading.get_ident() not in users.kdf.threads

    run(body())


def test_a_login_in_progress_holds_up_no_other_session(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    """The password check waits until another client has been answered: on the event loop,
    that client would never be, and the check gives up (in 5 s) and the login fails."""
    started, release = threading.Event(), threading.Event()
    check = users.passwords.kdf

    def held(password: bytes, salt: bytes, cost: Cost, length: int) -> bytes:
        started.set()
        if not release.wait(5):
            raise AssertionError("no other session was answered during the check")
        return check(password, salt, cost, length)

    users.passwords.kdf = held

    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            first = await RawSession.open(running.tls_port, running.context)
            await first.send("EHLO client.test")
            first.writer.write(f"AUTH PLAIN {plain('alice', 'wonderland')}\r\n".encode())
            assert await asyncio.to_thread(started.wait, 10)
            second = await RawSession.open(running.starttls_port)
            assert (await second.send("EHLO other.test")).startswith("250")
            release.set()
            assert (await first.reply()).startswith("235 2.7.0")
            first.close()
            second.close()

    run(body())


@pytest.mark.parametrize("name", ["alice", "ALICE", "alice@castle.test", "Alice@CASTLE.Test"])
def test_login_name_is_the_local_part_or_our_address_in_any_case(users: Users, name: str) -> None:
    logins = users.logins()

    async def body() -> None:
        assert await logins.authenticate(name.encode(), b"wonderland") == "alice"

    run(body())


def test_a_seed_hash_is_replaced_by_scrypt_on_the_first_good_login(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    legacy = hashlib.blake2b(b"to be or not").hexdigest()
    write_record(users.directory, "hamlet", ["hamlet@bigmail.test"], legacy)
    record = users.directory / "hamlet.json"
    logins = users.logins()

    async def body() -> None:
        async with submission(tmp_path, authority, logins) as running:
            async with running.client(implicit=True) as client:
                await client.login("hamlet", "to be or not")
            stored = logins.users.map.lookup("hamlet")
            assert stored is not None
            assert stored.password is not None
            assert stored.password.startswith(f"$scrypt${TEST_COST}$")
            assert f'"password": "{stored.password}"' in record.read_text()
            assert stored.targets == ("hamlet@bigmail.test",)
            # The next login checks the new hash, which needs no rehash: the record stays.
            before = record.stat().st_ino
            async with running.client(implicit=True) as client:
                reply = await client.login("hamlet", "to be or not")
                assert reply.code == 235
            assert record.stat().st_ino == before
            assert users.passwords.verify("to be or not", stored.password).rehash is False

    run(body())


def test_a_password_changed_during_the_login_is_not_overwritten_by_the_rehash(
    users: Users,
) -> None:
    legacy = hashlib.blake2b(b"to be or not").hexdigest()
    write_record(users.directory, "hamlet", ["hamlet@bigmail.test"], legacy)
    logins = users.logins()
    newer = users.passwords.hash("the rest is silence")
    check = users.passwords.kdf

    def check_then_change(password: bytes, salt: bytes, cost: Cost, length: int) -> bytes:
        # The administrator sets a new password while the old one is being checked.
        write_record(users.directory, "hamlet", ["hamlet@bigmail.test"], newer)
        return check(password, salt, cost, length)

    users.passwords.kdf = check_then_change

    async def body() -> None:
        assert await logins.authenticate(b"hamlet", b"to be or not") == "hamlet"

    run(body())
    assert newer in (users.directory / "hamlet.json").read_text()


def test_a_wrong_password_leaves_a_seed_hash_alone(users: Users) -> None:
    legacy = hashlib.blake2b(b"to be or not").hexdigest()
    write_record(users.directory, "hamlet", ["hamlet@bigmail.test"], legacy)
    logins = users.logins()

    async def body() -> None:
        assert await logins.authenticate(b"hamlet", b"not to be") is None

    run(body())
    assert legacy in (users.directory / "hamlet.json").read_text()


def test_each_login_event_is_one_escaped_log_line(
    tmp_path: Path, authority: LocalAuthority, users: Users, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            raw = await RawSession.open(running.tls_port, running.context)
            await raw.send("EHLO client.test")
            forged = plain("mallory\r\nforged: line", "x")
            await raw.send(f"AUTH PLAIN {forged}")
            await raw.send(f"AUTH PLAIN {plain('alice', 'wonderland')}")
            raw.close()

    with caplog.at_level(logging.INFO):
        run(body())
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("login:")]
    # aiosmtpd warns about its own deprecated login_data on every good login: not logged.
    assert not [r for r in caplog.records if "login_data" in r.getMessage()]
    assert lines == [
        "login: client=[127.0.0.1], name=<mallory\\x0d\\x0aforged: line>, mechanism=PLAIN, "
        "status=failed",
        "login: client=[127.0.0.1], name=<alice>, mechanism=PLAIN, status=ok, user=alice",
    ]


def test_plain_and_login_take_their_credentials_after_a_challenge(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    """RFC 4954 4: without an initial response, PLAIN's comes after an empty ``334 ``
    challenge, LOGIN's name and password after one challenge each."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            for exchange in (
                [("AUTH PLAIN", "334 \r\n"), (plain("alice", "wonderland"), "235 2.7.0")],
                [("AUTH LOGIN", "334 "), (b64("alice"), "334 "), (b64("wonderland"), "235 2.7.0")],
            ):
                raw = await RawSession.open(running.tls_port, running.context)
                await raw.send("EHLO client.test")
                for line, expected in exchange:
                    reply = await raw.send(line)
                    assert reply.startswith(expected), (line, reply)
                raw.close()

    run(body())


def test_a_cancelled_auth_gets_one_reply(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    """RFC 4954 4: "*" cancels the exchange with 501, and nothing more: a second reply would
    be read as the answer to the client's next command."""

    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            raw = await RawSession.open(running.tls_port, running.context)
            await raw.send("EHLO client.test")
            assert (await raw.send("AUTH LOGIN")).startswith("334 ")
            assert (await raw.send("*")).startswith("501 5.7.0")
            assert (await raw.send("NOOP")).startswith("250 ")
            raw.close()

    run(body())


# -- the throttle over SMTP ------------------------------------------------------------------


def test_throttle_closes_after_n_failures_and_spares_other_addresses(
    tmp_path: Path, authority: LocalAuthority, users: Users, caplog: pytest.LogCaptureFixture
) -> None:
    throttle = Throttle(failures=3, window=600.0)

    async def body() -> None:
        async with submission(tmp_path, authority, users.logins(), throttle) as running:
            raw = await RawSession.open(running.tls_port, running.context)
            await raw.send("EHLO client.test")
            for _ in range(3):
                reply = await raw.send(f"AUTH PLAIN {plain('alice', 'guess')}")
                assert reply.startswith("535 5.7.8")
            checks = users.kdf.calls
            # The right password now changes nothing: it is not even looked at.
            reply = await raw.send(f"AUTH PLAIN {plain('alice', 'wonderland')}")
            assert reply.startswith("421 4.7.0 Too many failed logins"), reply
            assert await raw.closed()
            assert users.kdf.calls == checks
            # A new connection from the same address fares no better.
            again = await RawSession.open(running.tls_port, running.context)
            await again.send("EHLO client.test")
            reply = await again.send(f"AUTH PLAIN {plain('alice', 'wonderland')}")
            assert reply.startswith("421 4.7.0"), reply
            assert await again.closed()
            # Another address logs in.
            async with running.client(implicit=True, source="127.0.0.2") as client:
                assert (await client.login("alice", "wonderland")).code == 235

    with caplog.at_level(logging.INFO, logger="elsinore.services.submission"):
        run(body())
    refusals = [r.getMessage() for r in caplog.records if "too many" in r.getMessage()]
    refusal = "login: client=[127.0.0.1], name=<->, mechanism=PLAIN, status=refused, "
    assert refusals == [refusal + "too many failures"] * 2


# -- sending as oneself ----------------------------------------------------------------------


async def _mail_from(running: Running, user: str, password: str, sender: str) -> str:
    raw = await RawSession.open(running.tls_port, running.context)
    await raw.send("EHLO client.test")
    assert (await raw.send(f"AUTH PLAIN {plain(user, password)}")).startswith("235")
    reply = await raw.send(f"MAIL FROM:<{sender}>")
    raw.close()
    return reply


def test_sending_as_someone_else_is_refused(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    async def body() -> list[str]:
        async with submission(tmp_path, authority, users.logins()) as running:
            return [
                await _mail_from(running, "alice", "wonderland", sender)
                for sender in ("bob@castle.test", "alice@bigmail.test", "alice@other.test", "")
            ]

    assert run(body()) == [
        "553 5.7.1 <bob@castle.test>: Sender address rejected: not owned by user alice\r\n",
        "553 5.7.1 <alice@bigmail.test>: Sender address rejected: not owned by user alice\r\n",
        "553 5.7.1 <alice@other.test>: Sender address rejected: not owned by user alice\r\n",
        "553 5.7.1 <>: Sender address rejected: not owned by user alice\r\n",
    ]


def test_sending_as_an_alias_or_in_another_case_is_accepted(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            for sender in ("info@castle.test", "Alice@Castle.Test"):
                async with running.client(implicit=True) as client:
                    await client.login("alice", "wonderland")
                    await client.sendmail(sender, ["ophelia@bigmail.test"], MESSAGE)
            assert [m.sender for m in running.queued] == ["info@castle.test", "Alice@Castle.Test"]
            # bob has no alias info: the same address is refused to him.
            reply = await _mail_from(running, "bob", "builder", "info@castle.test")
            assert reply.startswith("553 5.7.1")

    run(body())


def test_writing_another_users_address_in_from_is_refused(
    tmp_path: Path, authority: LocalAuthority, users: Users
) -> None:
    forged = MESSAGE.replace(b"From: alice@castle.test", b"From: Bob <bob@castle.test>")

    async def body() -> None:
        async with submission(tmp_path, authority, users.logins()) as running:
            async with running.client(implicit=True) as client:
                await client.login("alice", "wonderland")
                with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                    await client.sendmail("alice@castle.test", ["ophelia@bigmail.test"], forged)
            assert (refused.value.code, refused.value.message) == (
                550,
                "5.7.1 <bob@castle.test>: Author address rejected: not owned by user alice",
            )
            assert running.queued == []

    run(body())


@pytest.mark.parametrize(
    ("author", "refused"),
    [
        (b"alice@castle.test", None),
        (b"Alice <ALICE@Castle.Test>", None),
        (b"info@castle.test", None),  # alice's alias
        (b"bob@castle.test", "bob@castle.test"),
        (b'"bob"@CASTLE.test', "bob@CASTLE.test"),  # quoted, and in another case
        (b"alice@castle.test, bob@castle.test", "bob@castle.test"),
        # Read leniently, as the signer reads them: what it would sign for us is checked.
        (b"bob@castle.test (((", "bob@castle.test"),
        (b"<bob@castle.test", "bob@castle.test"),
        # No mailbox read at all, or a group: the signer signs nothing.
        (b"bob@castle.test.", None),
        (b"garbage ((", None),
        (b"team: bob@castle.test;", None),
        (b"nobody@castle.test", "nobody@castle.test"),
        (b"bob@bigmail.test", None),  # not ours to vouch for: the signer does not sign it
        (b"bob@sub.castle.test", None),
    ],
)
def test_unowned_author_reads_from_as_the_signer_does(
    users: Users, author: bytes, refused: str | None
) -> None:
    aliases = users.logins().users.map
    message = parse(b"From: " + author + b"\r\nSubject: x\r\n\r\nbody\r\n")

    def owns(local: str) -> bool:
        return aliases.may_send_as("alice", f"{local}@castle.test")

    assert unowned_author(message, "castle.test", owns) == refused
    # The signer signs as castle.test for every address the check looked at.
    signed = "castle.test" in [d.lower() for d in author_domains(message)]
    assert signed or refused is None


def test_two_from_fields_are_left_to_the_signer_which_signs_neither(users: Users) -> None:
    message = parse(b"From: alice@castle.test\r\nFrom: bob@castle.test\r\n\r\nbody\r\n")
    assert unowned_author(message, "castle.test", lambda local: local == "alice") is None


# -- the throttle, without sockets -----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_refuses_at_n_failures_within_the_window() -> None:
    clock = Clock()
    throttle = Throttle(failures=3, window=60.0, clock=clock)
    for _ in range(2):
        throttle.failed("192.0.2.1")
        clock.now += 10
    assert not throttle.refused("192.0.2.1")
    throttle.failed("192.0.2.1")
    assert throttle.refused("192.0.2.1")
    assert not throttle.refused("192.0.2.2")


def test_throttle_window_slides() -> None:
    clock = Clock()
    throttle = Throttle(failures=3, window=60.0, clock=clock)
    for _ in range(3):
        throttle.failed("192.0.2.1")
        clock.now += 25  # failures at 0, 25, 50
    clock.now = 1000.0 + 59
    assert throttle.refused("192.0.2.1")
    clock.now = 1000.0 + 60  # the first has left the window
    assert not throttle.refused("192.0.2.1")
    throttle.failed("192.0.2.1")  # 25, 50, 60: three within the window again
    assert throttle.refused("192.0.2.1")


def test_throttle_forgets_old_entries_and_stays_within_capacity() -> None:
    clock = Clock()
    throttle = Throttle(failures=2, window=60.0, capacity=100, clock=clock)
    for number in range(1000):
        throttle.failed(f"10.0.{number // 256}.{number % 256}")
    assert len(throttle) == 100
    throttle.failed("10.0.3.231")  # the last one: still counted
    assert throttle.refused("10.0.3.231")
    clock.now += 60
    assert not throttle.refused("10.0.3.231")
    assert len(throttle) == 0


@given(
    st.lists(
        st.tuples(st.floats(0, 40), st.sampled_from(["a", "b", "c"]), st.booleans()),
        max_size=60,
    )
)
def test_throttle_agrees_with_counting_every_failure_in_the_window(
    steps: list[tuple[float, str, bool]],
) -> None:
    """The throttle keeps a few times per client and forgets; the model keeps every failure
    for ever.  They agree on every answer."""
    clock = Clock()
    throttle = Throttle(failures=3, window=60.0, clock=clock)
    model: dict[str, list[float]] = {}
    for elapsed, client, fails in steps:
        clock.now += elapsed
        if fails:
            throttle.failed(client)
            model.setdefault(client, []).append(clock.now)
        recent = [at for at in model.get(client, []) if at > clock.now - 60.0]
        assert throttle.refused(client) == (len(recent) >= 3)
    assert len(throttle) <= 3


def test_throttle_counts_an_ipv6_client_by_its_slash_64() -> None:
    throttle = Throttle(failures=2)
    throttle.failed(client_key("2001:db8:1:2::1"))
    throttle.failed(client_key("2001:db8:1:2:ffff::9"))
    assert throttle.refused(client_key("2001:db8:1:2::abcd"))
    assert not throttle.refused(client_key("2001:db8:1:3::1"))
    assert client_key("192.0.2.7") == "192.0.2.7"
