"""The crash test: a hop killed at random moments loses nothing it said 250 to, and between
two Elsinore hops delivers it exactly once.

Ten clients send through ``hop`` (killed with SIGKILL at random moments over several rounds,
and restarted on the same spool) into a second ``hop`` that forwards into ``srv``.  The second
hop is there because exactly once is a promise between Elsinore hops: when the first hop dies
after the second accepted a message and before it recorded so, it sends the message again on
restart, and the second hop knows the copy by the first hop's queue id and digest.  A message
that got no 250 may or may not arrive (its client was told nothing and must try again) but
never twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
from hop_testbed import HOST, hop, srv, stored, wait_until

from stack.mime import parse

CLIENTS = 10
ROUNDS = 4


@dataclass
class Ledger:
    """What the clients sent, by message id: the sha256 of the bytes, and whether a 250 came."""

    accepted: dict[str, str] = field(default_factory=dict)
    unanswered: dict[str, str] = field(default_factory=dict)


def message(client: int, number: int) -> tuple[str, bytes]:
    ident = f"c{client}-n{number}-{random.getrandbits(32):08x}"
    filler = b"".join(b"line %d of %s\r\n" % (i, ident.encode()) for i in range(20))
    data = (
        f"From: client{client}@client.test\r\nTo: sink@castle.test\r\n"
        f"Subject: {ident}\r\nMessage-ID: <{ident}@client.test>\r\n\r\n"
    ).encode() + filler
    return ident, data


async def client_loop(client: int, port: int, ledger: Ledger, stop: asyncio.Event) -> None:
    number = 0
    while not stop.is_set():
        ident, data = message(client, number)
        number += 1
        digest = hashlib.sha256(data).hexdigest()
        try:
            await aiosmtplib.send(
                data,
                sender=f"client{client}@client.test",
                recipients=["sink@castle.test"],
                hostname=HOST,
                port=port,
                timeout=10,
                start_tls=False,
                use_tls=False,
            )
        except (aiosmtplib.SMTPException, OSError):
            ledger.unanswered[ident] = digest
            await asyncio.sleep(0.05)  # the hop is down: try again a moment later
        else:
            ledger.accepted[ident] = digest


def original(received: bytes) -> tuple[str, str]:
    """The Subject (the message's id) and the sha256 of the bytes the client sent: what
    arrived, without the two Received fields the hops prepended."""
    parsed = parse(received)
    assert len(parsed.get_all("Received")) == 2
    parsed.remove("Received")
    subject = parsed.get("Subject")
    assert subject is not None
    return subject.unfolded().strip(), hashlib.sha256(bytes(parsed)).hexdigest()


def test_sigkilled_hop_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    sink = srv(tmp_path / "sink", tmp_path / "srv.log").start()
    second = hop(tmp_path / "spool2", sink.port, tmp_path / "hop2.log").start()
    first = hop(tmp_path / "spool1", second.port, tmp_path / "hop1.log")
    ledger = Ledger()
    rng = random.Random()
    try:
        first.start()

        async def rounds() -> None:
            stop = asyncio.Event()
            clients = [
                asyncio.create_task(client_loop(c, first.port, ledger, stop))
                for c in range(CLIENTS)
            ]
            for _ in range(ROUNDS):
                await asyncio.sleep(rng.uniform(0.4, 1.2))
                first.kill()
                await asyncio.sleep(rng.uniform(0.0, 0.2))
                await asyncio.to_thread(first.start)
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*clients)

        asyncio.run(rounds())
        assert len(ledger.accepted) >= 50, "too few messages to say anything"

        def arrived() -> Counter[str]:
            return Counter(original(data)[0] for data in stored(tmp_path / "sink"))

        wait_until(
            lambda: all(arrived()[ident] for ident in ledger.accepted), 40, "every 250 to arrive"
        )
        # Let any duplicate that is coming arrive too.
        time.sleep(1.0)
        counts: Counter[str] = Counter()
        digests: dict[str, str] = {}
        for data in stored(tmp_path / "sink"):
            ident, digest = original(data)
            counts[ident] += 1
            digests[ident] = digest
        lost = [ident for ident in ledger.accepted if counts[ident] == 0]
        twice = [ident for ident, count in counts.items() if count > 1]
        assert not lost, f"said 250 and lost: {lost}"
        assert not twice, f"delivered more than once: {twice}"
        assert all(digests[i] == d for i, d in ledger.accepted.items()), "bytes changed"
        strangers = set(counts) - set(ledger.accepted) - set(ledger.unanswered)
        assert not strangers
    finally:
        for command in (first, second, sink):
            command.close()
