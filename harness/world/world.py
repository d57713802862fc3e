"""The whole simulated internet: its DNS, our domain, two providers and two strangers.

::

    127.77.0.0/16          (one address per host; a /24 per domain)
      .0.1  root server      .0.2  .test TLD       .0.3  reverse zones
      .10.x castle.test      our stack, exactly as `elsinore stack up` runs it
      .20.x bigmail.test     Gmail-like: demands FCrDNS, SPF/DKIM/DMARC, Spam folder, send-as
      .30.x outpost.test     Outlook-like: Authentication-Results with compauth, Received-SPF
      .40.1 mail.elsewhere.test   a host of another domain, with PTR and SPF (a forwarder,
                                  a spoofer)
      .40.2 (no name)             a host without a PTR record

:class:`World` starts it all and stops it all; the users below exist in every world.  Our
domain's spam filter is trained as the world starts (:mod:`harness.world.spam`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from harness.world.castle import Castle, WorldError
from harness.world.dns import WorldDns
from harness.world.net import DEFAULT_NETWORK, AddressPlan, Ports, choose_ports
from harness.world.provider import BIGMAIL, OUTPOST, Hosts, Policy, Provider
from harness.world.spam import TrainingSummary, prepare_spam_database
from stack.auth.passwords import hash_password
from stack.dns.blocking import BlockingResolver
from stack.dns.resolver import Resolver

log = logging.getLogger("elsinore.world")

#: The domain of the strangers' host with a name.
ELSEWHERE = "elsewhere.test"


@dataclass(frozen=True)
class Account:
    """A user of one domain, with the password its owner knows."""

    name: str
    domain: str
    password: str

    @property
    def address(self) -> str:
        return f"{self.name}@{self.domain}"


#: Hamlet has a mailbox at bigmail.test and an address of ours that forwards to it: the
#: seed's own situation.  Horatio reads his mail at outpost.test.
HAMLET_CASTLE = Account("hamlet", "castle.test", "the rest is silence")
HAMLET_BIGMAIL = Account("hamlet", "bigmail.test", "to be or not to be")
HORATIO = Account("horatio", "outpost.test", "more things in heaven and earth")


@dataclass
class World:
    """One simulated internet in ``directory`` (its stack, mailboxes and spools)."""

    directory: Path
    network: str = DEFAULT_NETWORK
    plan: AddressPlan = field(init=False)
    ports: Ports = field(init=False)
    note: str | None = field(init=False, default=None)
    dns: WorldDns = field(init=False)
    castle: Castle = field(init=False)
    providers: dict[str, Provider] = field(init=False, default_factory=dict)
    spam: TrainingSummary | None = field(init=False, default=None)
    lookup: BlockingResolver | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.plan = AddressPlan(self.network)
        self.ports, self.note = choose_ports(self.plan.root)
        self.dns = WorldDns(self.plan, self.ports)
        self.castle = Castle(self.directory / "castle", self.plan, self.ports)

    @property
    def bigmail(self) -> Provider:
        return self.providers["bigmail.test"]

    @property
    def outpost(self) -> Provider:
        return self.providers["outpost.test"]

    def resolver(self) -> Resolver:
        return self.dns.resolver()

    def _provider(self, domain: str, policy: Policy, subnet: int) -> Provider:
        hosts = Hosts(**self.plan.provider(subnet))
        return Provider(
            domain,
            policy,
            hosts,
            resolver=self.resolver(),
            authority=self.castle.authority(),
            directory=self.directory / domain,
            smtp_port=self.ports.smtp,
            submission_port=self.ports.submission,
            submissions_port=self.ports.submissions,
        )

    def _declare(self) -> None:
        self.castle.declare(self.dns)
        for provider in self.providers.values():
            self.dns.serve(provider.domain, provider.hosts.ns, provider.zone_text())
            for address, name in provider.ptr_records().items():
                self.dns.pointer(address, name)
        stranger = self.plan.stranger(1)
        self.dns.serve(
            ELSEWHERE,
            self.plan.stranger(3),
            "\n".join(
                [
                    f"$ORIGIN {ELSEWHERE}.",
                    "$TTL 300",
                    "@ IN SOA ns hostmaster 1 3600 600 86400 300",
                    "@ IN NS ns",
                    f"ns IN A {self.plan.stranger(3)}",
                    f"mail IN A {stranger}",
                    f'@ IN TXT "v=spf1 ip4:{stranger} -all"',
                ]
            )
            + "\n",
        )
        self.dns.pointer(stranger, f"mail.{ELSEWHERE}")

    async def start(self) -> None:
        """Write, start and populate everything; :meth:`stop` undoes it, also after a
        failure here."""
        if self.note:
            log.info("%s", self.note)
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self.castle.prepare(postmaster=HAMLET_BIGMAIL.address)
            self.spam = await asyncio.to_thread(
                prepare_spam_database, self.castle.directory / "spam.db"
            )
            self.castle.add_user(
                HAMLET_CASTLE.name, [HAMLET_BIGMAIL.address], hash_password(HAMLET_CASTLE.password)
            )
            self.providers = {
                "bigmail.test": self._provider("bigmail.test", BIGMAIL, 20),
                "outpost.test": self._provider("outpost.test", OUTPOST, 30),
            }
            self._declare()
            await self.dns.start()
            await asyncio.to_thread(self.castle.start)
            for provider in self.providers.values():
                await provider.start()
            self.bigmail.add_user(HAMLET_BIGMAIL.name, HAMLET_BIGMAIL.password)
            self.outpost.add_user(HORATIO.name, HORATIO.password)
            self.lookup = BlockingResolver(self.resolver())
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for provider in self.providers.values():
            await provider.stop()
        await asyncio.to_thread(self.castle.stop)
        await self.dns.stop()
        if self.lookup is not None:
            self.lookup.close()
            self.lookup = None


__all__ = [
    "ELSEWHERE",
    "HAMLET_BIGMAIL",
    "HAMLET_CASTLE",
    "HORATIO",
    "Account",
    "World",
    "WorldError",
]
