"""Fixtures for testing your own mail code against real servers: a recording SMTP sink, a
whole simulated internet, and the grammar of valid mail.

Load it with ``-p harness.pytest_plugin``, or ``pytest_plugins = ["harness.pytest_plugin"]``
in your top ``conftest.py``; where the package's ``pytest11`` entry point (``elsinore``) is
installed, pytest loads it by itself, and naming it again as well is an error (one module,
two plugin names): ``-p no:elsinore -p harness.pytest_plugin`` works either way.  It gives:

``smtp_sink`` (function scope)
    An aiosmtpd server on ``127.0.0.1``, on a port the kernel picks, that accepts every
    message and records its envelope and its bytes as they came (the transparency dots
    removed): ``.host``, ``.port``, ``.messages`` (:class:`SinkMessage`) and
    ``.wait_for(count, timeout)``.

``mail_world`` (session scope, or the ``elsinore_world_scope`` ini option's)
    The simulated internet of ``elsinore loop``, started once (about fifteen seconds) and
    stopped at the end: a root name server, the ``.test`` TLD and the reverse zones;
    ``castle.test``, run exactly as ``elsinore stack up`` runs it; ``bigmail.test``,
    Gmail-like; ``outpost.test``, Outlook-like; one CA behind every certificate.  It is a
    :class:`~harness.world.sync.MailWorld`: ``send``, ``wait_for_mail`` and ``folder`` as a
    user, the accounts ``hamlet_castle``, ``hamlet_bigmail`` and ``horatio``, ``endpoints``
    (``"castle.submission"``, ``"bigmail.mx"``, ...), ``ca_file`` and ``tls_context()`` for
    your clients, ``run(coroutine)`` for anything else, ``world`` itself.

``strategies``
    :mod:`harness.strategies`, the hypothesis strategies of valid mail, for property tests.

For example::

    import smtplib

    from hypothesis import given
    from harness.pytest_plugin import strategies

    MESSAGE = b"From: a@example.test\\r\\nSubject: hi\\r\\n\\r\\nhello\\r\\n"

    def test_the_sink_keeps_the_bytes(smtp_sink):
        with smtplib.SMTP(smtp_sink.host, smtp_sink.port) as client:
            client.sendmail("a@example.test", ["b@example.test"], MESSAGE)
        [received] = smtp_sink.wait_for(1)
        assert received.recipients == ["b@example.test"]
        assert received.data == MESSAGE

    def test_outpost_sees_bigmails_signature(mail_world):
        horatio = mail_world.horatio
        mail_world.send(mail_world.hamlet_bigmail, horatio.address, my_message())
        [delivered] = mail_world.wait_for_mail(horatio)
        assert b"dkim=pass" in delivered

    def test_my_client_submits_to_castle(mail_world):
        submission = mail_world.endpoints["castle.submission"]
        with smtplib.SMTP(submission.host, submission.port) as client:
            client.starttls(context=mail_world.tls_context())
            client.login(mail_world.hamlet_castle.address, mail_world.hamlet_castle.password)

    @given(strategies.wire_messages())
    def test_my_parser_reads_valid_mail(message):
        assert my_parser(message.data) is not None

**Where the world lives.**  Every host of a world has an address of its own in one /16 of
``127.0.0.0/8``: Linux answers for the whole /8 on ``lo``; where 127.0.0.1 is the only one,
``mail_world`` skips and says so.  The /16 is

1. ``ELSINORE_WORLD_NETWORK`` from the environment, else the ``elsinore_world_network`` ini
   option (e.g. ``127.91.0.0/16``); under pytest-xdist, worker ``gwN`` takes the Nth /16
   after it (``127.91+N``), so that the workers' worlds never share an address;
2. else one of ``127.128.0.0/16`` ... ``127.254.0.0/16``, picked from the run (xdist's run
   id, which its workers share, or the process id) plus the worker's number, stepping by
   the number of workers past any /16 whose root name server's port is bound already.  The
   workers of one run never meet; two runs meet only if both find one /16 free at the
   same instant.

The world listens on the standard ports (25, 53, 587, 465) where the process may bind them,
and on the stack's high ports otherwise, still one address per host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import threading
import zlib
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from harness import strategies

if TYPE_CHECKING:
    from harness.world.sync import MailWorld

Scope = Literal["session", "package", "module", "class", "function"]

#: The environment variable and the ini option naming the world's /16.
NETWORK_VARIABLE = "ELSINORE_WORLD_NETWORK"
NETWORK_OPTION = "elsinore_world_network"
#: The ini option naming ``mail_world``'s scope.
SCOPE_OPTION = "elsinore_world_scope"
#: The second octets a world picks from when none is configured: clear of 127.0.x (the
#: machine's own 127.0.0.1) and of 127.77 (``elsinore loop``'s default).
AUTO_OCTETS = range(128, 255)
_SCOPES: tuple[Scope, ...] = ("session", "package", "module", "class", "function")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        NETWORK_OPTION,
        "mail_world: the /16 of 127.0.0.0/8 for the world's hosts, e.g. 127.91.0.0/16 "
        f"(xdist worker gwN takes the Nth after it); {NETWORK_VARIABLE} overrides it.  "
        "Default: one per run among 127.128-254.",
        default="",
    )
    parser.addini(SCOPE_OPTION, f"mail_world's scope: {', '.join(_SCOPES)}.", default="session")


# -- smtp_sink ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SinkMessage:
    """One message the sink accepted: its envelope, and its bytes as they came."""

    sender: str
    recipients: list[str]
    data: bytes
    #: The client's EHLO or HELO name.
    helo: str
    #: The client's address and port.
    peer: tuple[str, int]


class _Recorder:
    """The sink's aiosmtpd handler: accepts everything, keeps it, wakes whoever waits."""

    def __init__(self) -> None:
        self.messages: list[SinkMessage] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = SinkMessage(
            sender=envelope.mail_from or "",
            recipients=list(envelope.rcpt_tos),
            data=envelope.original_content or b"",
            helo=session.host_name or "",
            peer=_address(session.peer),
        )
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 2.0.0 OK: recorded by smtp_sink"


def _address(peername: object) -> tuple[str, int]:
    # aiosmtpd annotates Session.peer as a string; it holds the socket's peername tuple.
    if isinstance(peername, tuple) and len(peername) >= 2:
        return str(peername[0]), int(peername[1])
    return str(peername), 0


class SmtpSink(Controller):
    """A recording SMTP server on ``host``, on a port the kernel picks; see the module."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._recorder = _Recorder()
        super().__init__(self._recorder, hostname=host, port=0)

    def _create_server(self) -> Coroutine[Any, Any, asyncio.AbstractServer]:
        # Port 0, and the kernel's choice read back from the bound socket: picking a free
        # port first and binding it later races every other test of an xdist run.
        return self._listen()

    async def _listen(self) -> asyncio.AbstractServer:
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
        )
        self.port = int(server.sockets[0].getsockname()[1])
        return server

    @property
    def host(self) -> str:
        return str(self.hostname)

    @property
    def messages(self) -> list[SinkMessage]:
        """What the sink accepted so far, oldest first (a copy)."""
        with self._recorder.arrived:
            return list(self._recorder.messages)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[SinkMessage]:
        """The messages, once there are at least ``count``; :class:`TimeoutError` saying how
        many came when ``timeout`` seconds pass first."""
        recorder = self._recorder
        with recorder.arrived:
            if not recorder.arrived.wait_for(lambda: len(recorder.messages) >= count, timeout):
                raise TimeoutError(
                    f"smtp_sink: {len(recorder.messages)} of {count} messages after {timeout:g} s"
                )
            return list(recorder.messages)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A recording SMTP server on 127.0.0.1 (aiosmtpd): .host, .port, .messages (sender,
    recipients, the bytes as they came, HELO name, peer) and .wait_for(count, timeout)."""
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


# -- where a world lives --------------------------------------------------------------------


def configured_network(network: str, worker: int) -> str:
    """The /16 of xdist worker number ``worker`` when the run names ``network``: the
    ``worker``-th after it.  :class:`ValueError` when ``network`` is no /16 of 127.0.0.0/8
    or the workers would run past it."""
    try:
        parsed = ipaddress.IPv4Network(network.strip())
    except ValueError as exc:
        raise ValueError(f"{network!r} is not a network: {exc}") from None
    if parsed.prefixlen != 16 or not parsed.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")):
        raise ValueError(f"a world needs a /16 of 127.0.0.0/8, not {network}")
    octet = parsed.network_address.packed[1] + worker
    if octet > 255:
        raise ValueError(f"xdist worker {worker} has no /16 of its own after {network}")
    return f"127.{octet}.0.0/16"


def chosen_network(run: str, worker: int, workers: int, taken: Callable[[str], bool]) -> str:
    """The /16 of worker number ``worker`` (of ``workers``) in the run named ``run`` when
    none is configured: the first of its candidates that ``taken`` says is free.

    Worker ``i`` tries only the octets ``start + i + k * workers`` of :data:`AUTO_OCTETS`
    (``start`` a hash of ``run``), so no two workers of a run ever try the same /16.
    :class:`RuntimeError` when all of them are taken.
    """
    if not 0 <= worker < workers:
        raise ValueError(f"no worker {worker} among {workers}")
    size = len(AUTO_OCTETS)
    start = zlib.crc32(run.encode()) % size
    candidates = [
        f"127.{AUTO_OCTETS[(start + index) % size]}.0.0/16"
        for index in range(worker, size, workers)
    ]
    for network in candidates:
        if not taken(network):
            return network
    raise RuntimeError(
        f"every /16 this worker may take is in use ({len(candidates)} tried; is a server "
        "listening on the DNS port of every address?)"
    )


def _xdist_worker() -> tuple[int, int, str]:
    """This process's xdist worker number, the number of workers, and the run's name."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not name.startswith("gw"):
        return 0, 1, str(os.getpid())
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getppid()))
    return int(name.removeprefix("gw")), count, run


def world_network(config: pytest.Config, taken: Callable[[str], bool]) -> str:
    """The /16 for this process's world (see the module); ``pytest.fail`` with one line
    when the configured one cannot be used."""
    worker, workers, run = _xdist_worker()
    variable = os.environ.get(NETWORK_VARIABLE, "").strip()
    configured = variable or str(config.getini(NETWORK_OPTION)).strip()
    try:
        if configured:
            return configured_network(configured, worker)
        return chosen_network(run, worker, workers, taken)
    except (ValueError, RuntimeError) as exc:
        problem = str(exc)
    # Outside the except clause: the report is this one line, not two chained exceptions.
    source = NETWORK_VARIABLE if variable else NETWORK_OPTION if configured else "mail_world"
    pytest.fail(f"{source}: {problem}", pytrace=False)


# -- mail_world -----------------------------------------------------------------------------


def _configured_scope(config: pytest.Config) -> Scope:
    wanted = str(config.getini(SCOPE_OPTION)).strip()
    for scope in _SCOPES:
        if wanted == scope:
            return scope
    raise pytest.UsageError(f"{SCOPE_OPTION} = {wanted!r}: not one of {', '.join(_SCOPES)}")


def pytest_configure(config: pytest.Config) -> None:
    # Checked here, where a UsageError is one line: pytest evaluates a fixture's scope while
    # collecting, and reports any error from it as an internal error with a traceback.
    _configured_scope(config)


def _world_scope(fixture_name: str, config: pytest.Config) -> Scope:
    return _configured_scope(config)


@pytest.fixture(scope=_world_scope)
def mail_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MailWorld]:
    """A running simulated internet: castle.test (run by `elsinore stack up`), bigmail.test,
    outpost.test, their DNS and one CA, on a /16 of 127.0.0.0/8 of its own.  .send(),
    .wait_for_mail(), .folder(), .endpoints, .ca_file, .run(coroutine); the /16 is
    ELSINORE_WORLD_NETWORK's or picked per run (see harness.pytest_plugin)."""
    # Only now: pytest imports every installed plugin in every run, and the world's modules
    # (DNS, DKIM, the stack's services) take longer to import than pytest itself.
    from harness.world import sync  # noqa: PLC0415

    network = world_network(request.config, sync.network_in_use)
    problem = sync.loopback_problem(network)
    if problem is not None:
        pytest.skip(problem)
    world = sync.MailWorld(tmp_path_factory.mktemp("mail-world"), network)
    try:
        world.start()
        yield world
    finally:
        world.stop()


__all__ = [
    "AUTO_OCTETS",
    "NETWORK_OPTION",
    "NETWORK_VARIABLE",
    "SCOPE_OPTION",
    "SinkMessage",
    "SmtpSink",
    "chosen_network",
    "configured_network",
    "mail_world",
    "smtp_sink",
    "strategies",
    "world_network",
]
