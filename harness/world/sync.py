"""A world driven from synchronous code: the face of ``mail_world`` (:mod:`harness.pytest_plugin`).

:class:`~harness.world.world.World` is asyncio through and through, and pytest fixtures and
most tests are not.  :class:`MailWorld` runs a world on an event loop in a thread of its own
and waits for each of its coroutines with a bound: :meth:`~MailWorld.run` for any of them,
and the few things a test of someone's mail code needs without knowing the world's
insides: :meth:`~MailWorld.send` as a user's mail client submits, :meth:`~MailWorld.
wait_for_mail` and :meth:`~MailWorld.folder` as the user reads, the accounts, where each
service listens (:attr:`~MailWorld.endpoints`) and the CA that signed every certificate
(:attr:`~MailWorld.ca_file`).

Before a world is made, :func:`loopback_problem` says whether this machine can give it its
addresses, and :func:`network_in_use` whether another world holds a /16 already.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosmtplib

from harness.world.net import AddressPlan, choose_ports
from harness.world.provider import Provider, ProviderError, Sent, SubmitError
from harness.world.world import HAMLET_BIGMAIL, HAMLET_CASTLE, HORATIO, Account, World
from stack.dns.addresses import Endpoint
from stack.smtp.client import read_reply

T = TypeVar("T")

#: How long the world may take to start (a process per service of ours) or to stop.
START_TIMEOUT = 180.0
#: How long one step may take: mail crosses DNS, TLS and several spools.
STEP_TIMEOUT = 60.0


def loopback_problem(network: str) -> str | None:
    """Why this machine cannot bind the addresses of ``network`` (a /16 of 127.0.0.0/8),
    in one line, or None when it can."""
    address = AddressPlan(network).root
    with socket.socket() as probe:
        try:
            probe.bind((address, 0))
        except OSError as exc:
            return (
                "a mail world needs addresses of 127.0.0.0/8 besides 127.0.0.1, one per "
                f"host, and this machine cannot bind {address} ({exc.strerror}); Linux "
                "answers for the whole /8 on lo, other systems need the addresses aliased"
            )
    return None


def network_in_use(network: str) -> bool:
    """Whether something (another world, most likely) holds the DNS port that a world in
    ``network`` would give its root name server."""
    root = AddressPlan(network).root
    ports, _ = choose_ports(root)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((root, ports.dns))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


class MailWorld:
    """A :class:`~harness.world.world.World` in ``directory`` on ``network``, run on an
    event loop in a thread of its own: :meth:`start`, use, :meth:`stop`."""

    #: ``hamlet@castle.test``: an address of ours, forwarded to hamlet@bigmail.test.
    hamlet_castle: Account = HAMLET_CASTLE
    #: ``hamlet@bigmail.test``: a mailbox at the Gmail-like provider.
    hamlet_bigmail: Account = HAMLET_BIGMAIL
    #: ``horatio@outpost.test``: a mailbox at the Outlook-like provider.
    horatio: Account = HORATIO

    def __init__(self, directory: Path, network: str) -> None:
        self.world = World(directory, network)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="mail-world")

    @property
    def network(self) -> str:
        """The /16 of 127.0.0.0/8 the world's hosts live in."""
        return self.world.network

    @property
    def directory(self) -> Path:
        """Where the world keeps its stack, mailboxes, spools and ``castle.log``."""
        return self.world.directory

    def start(self) -> None:
        """Start the loop's thread and the world on it; the world is stopped again when
        it fails to start (its error is raised)."""
        self._thread.start()
        self.run(self.world.start(), START_TIMEOUT)

    def stop(self) -> None:
        """Stop the world, then its loop and thread; safe after a failed :meth:`start`."""
        if not self._thread.is_alive():
            return
        try:
            self.run(self.world.stop(), START_TIMEOUT)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10.0)
            if not self._thread.is_alive():
                self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = STEP_TIMEOUT) -> T:
        """Run ``coroutine`` on the world's loop and return what it returns (or raise what it
        raises); cancelled, and :class:`TimeoutError`, after ``timeout`` seconds."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"mail world: no result after {timeout:g} s") from None

    # -- what a client needs ------------------------------------------------------------------

    @property
    def ca_file(self) -> Path:
        """The PEM file of the world's one CA, for clients that verify certificates."""
        return self.world.castle.directory / "tls" / "ca.crt"

    def tls_context(self) -> ssl.SSLContext:
        """A client context that trusts the world's CA and checks host names."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def endpoints(self) -> dict[str, Endpoint]:
        """Where each service listens, by name: ``castle.mx``, ``castle.submission`` (587,
        STARTTLS), ``castle.submissions`` (465, TLS), ``castle.dns``, ``castle.resolver``;
        ``bigmail.mx``, ``bigmail.submission``, ``bigmail.submissions``, and the same for
        ``outpost``; ``dns.root``, the root name server a resolver of the world starts
        from."""
        world = self.world
        castle = world.castle.config
        submission = castle.service("submission")
        found = {
            "dns.root": Endpoint(world.plan.root, world.ports.dns),
            "castle.dns": castle.service("dns").listen[0],
            "castle.resolver": castle.service("resolver").listen[0],
            "castle.mx": castle.service("verifier").listen[0],
            "castle.submission": submission.listen[0],
            "castle.submissions": submission.listen_tls[0],
        }
        for provider in world.providers.values():
            name = provider.domain.split(".")[0]
            hosts = provider.hosts
            found[f"{name}.mx"] = Endpoint(hosts.mx, provider.smtp_port)
            found[f"{name}.submission"] = Endpoint(hosts.smtp, provider.submission_port)
            found[f"{name}.submissions"] = Endpoint(hosts.smtp, provider.submissions_port)
        return found

    # -- what a user does ---------------------------------------------------------------------

    def send(self, sender: Account, recipients: str | Sequence[str], message: bytes) -> Sent:
        """Submit ``message`` as ``sender``'s mail client does: to the submission server of
        the sender's domain, STARTTLS, AUTH with the account's password, MAIL FROM its
        address.  Returns the server's reply and the recipients it refused; raises
        :class:`~harness.world.provider.SubmitError` with the reply when refused."""
        targets = [recipients] if isinstance(recipients, str) else list(recipients)
        provider = self.world.providers.get(sender.domain)
        if provider is not None:
            return self.run(provider.send(sender.name, sender.password, targets, message))
        return self.run(self._submit_to_castle(sender, targets, message))

    async def _submit_to_castle(
        self, sender: Account, recipients: list[str], message: bytes
    ) -> Sent:
        endpoint = self.endpoints["castle.submission"]
        client = aiosmtplib.SMTP(
            hostname=endpoint.host,
            port=endpoint.port,
            start_tls=True,
            tls_context=self.tls_context(),
            timeout=STEP_TIMEOUT,
        )
        what = f"{sender.address} could not submit"
        try:
            async with client:
                await client.login(sender.address, sender.password)
                refused, reply = await client.sendmail(sender.address, recipients, message)
        except aiosmtplib.SMTPResponseException as exc:
            raise SubmitError(what, exc.code, *read_reply(exc.code, exc.message)) from None
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            raise SubmitError(what, first.code, *read_reply(first.code, first.message)) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SubmitError(what, 0, None, str(exc) or type(exc).__name__) from None
        return Sent(reply, {address: f"{r.code} {r.message}" for address, r in refused.items()})

    def folder(self, account: Account, folder: str = "INBOX") -> list[bytes]:
        """The messages in ``account``'s ``folder`` ("INBOX" or "Spam"), oldest first, as
        its provider's MX stored them."""
        return self._provider_of(account).folder(account.name, folder)

    def wait_for_mail(
        self, account: Account, folder: str = "INBOX", count: int = 1, timeout: float = 30.0
    ) -> list[bytes]:
        """``account``'s ``folder`` once it holds at least ``count`` messages; raises
        :class:`~harness.world.provider.ProviderError` after ``timeout`` seconds."""
        waiting = self._provider_of(account).wait_for_mail(account.name, folder, count, timeout)
        return self.run(waiting, timeout + STEP_TIMEOUT)

    def _provider_of(self, account: Account) -> Provider:
        provider = self.world.providers.get(account.domain)
        if provider is None:
            raise ProviderError(
                f"{account.domain} keeps no mailboxes: it forwards its users' mail "
                f"({HAMLET_CASTLE.address}'s to {HAMLET_BIGMAIL.address}); read it there"
            )
        return provider


__all__ = ["START_TIMEOUT", "STEP_TIMEOUT", "MailWorld", "loopback_problem", "network_in_use"]
