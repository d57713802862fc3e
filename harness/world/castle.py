"""Our domain in the world: ``castle.test``, made by ``stack init`` and run by ``stack up``.

Nothing here stands in for the stack: the directory is the one ``elsinore stack init`` writes
(with the world's root as the resolver's root hint, and high ports when the world runs
high), the users are added as ``elsinore user add`` adds them, and the services run as
``elsinore stack up DIR`` runs them: a process each, started in order, stopped by SIGTERM.
The world reads the stack's CA and issues every other host's certificate from it, so one CA
serves the whole world.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import dns.reversename

from harness.world.dns import WorldDns
from harness.world.net import AddressPlan, Ports
from stack.config import SERVICES, StackConfig, load
from stack.dns.addresses import Endpoint
from stack.errors import ElsinoreError
from stack.relay.aliases import write_record
from stack.services.cli import stack_status
from stack.services.init import ADDRESS_ORDER, HOST_NAMES, initialise, plan
from stack.smtp.tls import LocalAuthority

DOMAIN = "castle.test"
#: How long the services may take to answer, all of them (each is a Python process).
START_TIMEOUT = 60.0


class WorldError(ElsinoreError):
    """The world could not be set up or run as asked."""


class Castle:
    """Our domain, in ``directory``: :meth:`prepare` writes it, :meth:`start` runs it."""

    def __init__(self, directory: Path, plan_: AddressPlan, ports: Ports) -> None:
        self.directory = directory
        self.plan = plan_
        self.ports = ports
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory.parent / "castle.log"
        self._config: StackConfig | None = None

    @property
    def config(self) -> StackConfig:
        if self._config is None:
            self._config = load(self.directory)
        return self._config

    def prepare(self, postmaster: str) -> None:
        """Write the stack directory (``stack init``), as a user would for this world."""
        layout = plan(DOMAIN, self.plan.castle, high_ports=self.ports.high)
        initialise(self.directory, layout, postmaster=postmaster, roots=[self.plan.root])

    def declare(self, world_dns: WorldDns) -> None:
        """Delegate our domain and our reverse zone to our own primary."""
        primary = self.config.service("dns").listen[0].host
        world_dns.delegate(DOMAIN, f"ns.{DOMAIN}", primary)
        addresses = [self.plan.castle_host(index + 1) for index in range(len(ADDRESS_ORDER))]
        reverse = dns.reversename.from_address(addresses[0]).parent()
        world_dns.delegate_reverse(reverse.to_text(), f"ns.{DOMAIN}", primary)
        for service, address in zip(ADDRESS_ORDER, addresses, strict=True):
            world_dns.pointer(address, f"{HOST_NAMES.get(service, service)}.{DOMAIN}")

    def add_user(self, name: str, targets: list[str], password_hash: str | None) -> None:
        write_record(self.config.users, name, targets, password_hash)

    def authority(self) -> LocalAuthority:
        """The stack's CA: the world's one CA."""
        tls = self.directory / "tls"
        return LocalAuthority.load(tls / "ca.crt", tls / "ca.key")

    def endpoint(self, service: str, index: int = 0) -> Endpoint:
        return self.config.service(service).endpoints()[index]

    def start(self) -> None:
        """``elsinore stack up DIR`` in a process of its own; returns once every service
        answers, or raises :class:`WorldError` naming the ones that do not (and the log)."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stack", "stack", "up", str(self.directory)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            states = {
                name: entry["state"]
                for name, entry in stack_status(self.config)["services"].items()
            }
            if all(state == "up" for state in states.values()):
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                down = ", ".join(name for name in SERVICES if states[name] != "up")
                self.stop()
                raise WorldError(f"castle.test did not come up ({down} down); see {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; the transactions in progress finish first."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


__all__ = ["DOMAIN", "Castle", "WorldError"]
