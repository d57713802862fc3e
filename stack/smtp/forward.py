"""The queue runner: takes due messages from the spool and delivers them onward.

A message newly stored is handed to :meth:`QueueRunner.enqueue` by the inbound handler and
tried at once; messages left from before a restart, and recipients deferred by a 4xx or by
no answer, are found in the spool when they fall due.  Each attempt ends, per recipient,
in one outcome the spool records (:data:`stack.smtp.spool.RECIPIENT_TRANSITIONS`):

- a 2xx: delivered;
- a 5xx: bounced now, with a delivery status notification (RFC 3464) to the sender;
- anything else: deferred, tried again after an exponential backoff
  (:class:`RetryPolicy`), until the message is older than ``expire`` (5 days by default):
  then bounced too, with a DSN that says the time ran out.

The null sender is never bounced (RFC 5321 4.5.5, 6.1): a DSN that cannot be delivered
has nowhere to go, and bouncing it would start a loop.

A DSN is stored in the spool *before* the recipient is recorded as bounced: a crash between
the two repeats the attempt and may send a second DSN, but never none (DESIGN principle 5).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from stack.mime.safe import safe_text
from stack.smtp.client import RecipientResult
from stack.smtp.dsn import build_dsn
from stack.smtp.policy import LOG_LIMIT
from stack.smtp.spool import AsyncSpool, Incoming, Outcome, Queued, Result, new_queue_id

log = logging.getLogger("elsinore.smtp")


class Deliverer(Protocol):
    """What the runner delivers through: :class:`stack.smtp.client.Outbound`."""

    async def deliver(
        self, sender: str, recipients: Sequence[str], data: bytes
    ) -> list[RecipientResult]: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try a deferred recipient again, and when to give up.

    The wait after the n-th failed attempt is ``first * factor ** (n - 1)``, at most
    ``ceiling``: with the defaults 1, 2, 4, ... minutes up to 4 hours, as Postfix's
    ``minimal_backoff_time`` and ``maximal_backoff_time`` do."""

    first: float = 60.0
    factor: float = 2.0
    ceiling: float = 4 * 3600.0
    expire: float = 5 * 86400.0

    def retry_at(self, attempts_before: int, now: float) -> float:
        return now + min(self.first * self.factor**attempts_before, self.ceiling)

    def expired(self, arrival: float, now: float) -> bool:
        return now >= arrival + self.expire


class QueueRunner:
    """Delivers what the spool holds; see the module."""

    def __init__(
        self,
        spool: AsyncSpool,
        outbound: Deliverer,
        *,
        reporting_mta: str,
        policy: RetryPolicy | None = None,
        concurrency: int = 50,
        scan_interval: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spool = spool
        self.outbound = outbound
        self.reporting_mta = reporting_mta
        self.policy = policy or RetryPolicy()
        self.scan_interval = scan_interval
        self.clock = clock
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._next_scan = 0.0  # the first scan is at once: what a restart left is due
        self._stopping = False

    # -- the two ways in -------------------------------------------------------------------

    def enqueue(self, message: Queued) -> None:
        """Start on a message just stored (the inbound handler's ``on_queued``)."""
        if self._stopping or message.queue_id in self._in_flight:
            return
        if len(self._tasks) >= self.concurrency:
            # Every slot is taken: the message waits for one without its bytes in memory
            # (they are read again when its turn comes), or a slow downstream and a fast
            # upstream would hold every waiting message in memory.
            message = dataclasses.replace(message, data=None)
        self._start(message)

    async def run(self) -> None:
        """Scan the spool whenever something falls due, until :meth:`stop`."""
        while not self._stopping:
            now = self.clock()
            if now >= self._next_scan:
                self._next_scan = now + self.scan_interval
                # A message in this answer may be in flight already (handed to enqueue while
                # the scan ran): it is skipped.  One whose attempt ended meanwhile is not in
                # the answer: the spool's one thread recorded it before this read, or its
                # task leaves _in_flight only after this loop has run (callbacks run in order).
                for message in await self.spool.due(now):
                    if message.queue_id not in self._in_flight and not self._stopping:
                        self._start(message)
            self._wake.clear()
            wait = max(0.0, self._next_scan - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def stop(self, grace: float = 10.0) -> None:
        """Start nothing new; give the deliveries under way ``grace`` seconds, then cancel
        them (what they had not recorded is tried again after the restart)."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- one message -----------------------------------------------------------------------

    def _start(self, message: Queued) -> None:
        self._in_flight.add(message.queue_id)
        task = asyncio.get_running_loop().create_task(self._attempt(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, message: Queued) -> None:
        try:
            async with self._slots:
                data = message.data
                if data is None:
                    data = await self.spool.data(message.queue_id)
                    if data is None:
                        return  # finished since the scan read it
                await self._deliver(message, data)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug, not a delivery failure: the message waits for a scan
            log.exception("%s: delivery attempt failed", message.queue_id)
            self._schedule(self.clock() + self.scan_interval)
        finally:
            self._in_flight.discard(message.queue_id)

    async def _deliver(self, message: Queued, data: bytes) -> None:
        now = self.clock()
        policy = self.policy
        if policy.expired(message.arrival, now):
            replies = [
                RecipientResult(r, 0, "4.4.7", "delivery time expired", "")
                for r in message.recipients
            ]
        else:
            replies = await self.outbound.deliver(message.sender, message.recipients, data)
            now = self.clock()
        expired = policy.expired(message.arrival, now)
        retry_at = policy.retry_at(message.attempts, now)
        results: list[Result] = []
        bounced: list[RecipientResult] = []
        for reply in replies:
            if reply.delivered:
                outcome = Outcome.DELIVERED
            elif reply.permanent:
                outcome = Outcome.PERMANENT
            elif expired:
                outcome = Outcome.EXPIRED
            else:
                outcome = Outcome.TEMPORARY
            if outcome in (Outcome.PERMANENT, Outcome.EXPIRED):
                bounced.append(reply)
            text = _reply_text(reply)
            results.append(Result(reply.recipient, outcome, text, retry_at))
            self._log(message, reply, outcome, text, retry_at - now)
        if bounced and message.sender:
            # Every temporary failure in ``bounced`` is an expiry: the DSN says it failed.
            await self._bounce(message, data, bounced, expired=expired)
        await self.spool.record(message.queue_id, results)
        if any(result.outcome is Outcome.TEMPORARY for result in results):
            self._schedule(retry_at)

    async def _bounce(
        self,
        message: Queued,
        data: bytes,
        bounced: Sequence[RecipientResult],
        *,
        expired: bool,
    ) -> None:
        now = self.clock()
        report = build_dsn(
            reporting_mta=self.reporting_mta,
            sender=message.sender,
            results=bounced,
            original=data,
            arrival=datetime.fromtimestamp(message.arrival, UTC),
            queue_id=message.queue_id,
            expired=expired,
        )
        notice = Incoming(
            sender="",
            recipients=(message.sender,),
            data=report,
            queue_id=new_queue_id(now),
            arrival=now,
        )
        await self.spool.store(notice)
        log.info("%s: sender non-delivery notification: %s", message.queue_id, notice.queue_id)
        self.enqueue(Queued(notice.queue_id, "", notice.recipients, report, now, 0))

    def _schedule(self, when: float) -> None:
        if when < self._next_scan:
            self._next_scan = when
            self._wake.set()

    def _log(
        self, message: Queued, reply: RecipientResult, outcome: Outcome, text: str, delay: float
    ) -> None:
        status = {
            Outcome.DELIVERED: "sent",
            Outcome.TEMPORARY: f"deferred, retry in {delay:.0f}s",
            Outcome.PERMANENT: "bounced",
            Outcome.EXPIRED: "expired",
        }[outcome]
        # The recipient and the reply text are others' choice: escaped, one line each.
        log.info(
            "%s: to=<%s>, relay=%s, status=%s (%s)",
            message.queue_id,
            safe_text(reply.recipient, limit=LOG_LIMIT),
            safe_text(reply.remote, limit=LOG_LIMIT) or "none",
            status,
            safe_text(text, limit=2 * LOG_LIMIT),
        )


def _reply_text(reply: RecipientResult) -> str:
    code = f"{reply.code} " if reply.code else ""
    enhanced = f"{reply.enhanced} " if reply.enhanced else ""
    return f"{code}{enhanced}{reply.text}".strip()


__all__ = ["Deliverer", "QueueRunner", "RetryPolicy"]
