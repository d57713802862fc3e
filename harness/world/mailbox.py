"""A provider's mail store: one folder per user and mailbox folder, one ``.eml`` file per message.

The layout is Maildir's idea without its three subfolders: ``ROOT/USER/FOLDER/NAME.eml``,
each message written under a hidden temporary name, flushed to disk and renamed, so a reader
(the user, the scenario runner, a person with ``ls``) sees a message whole or not at all, and
the rename survives a crash.  Names start with the time of delivery in nanoseconds, so a
folder lists in the order mail arrived.  The bytes are the ones the MX stored: nothing here
parses or rewrites a message.

:class:`LocalDelivery` is the MX's last step, the deliverer its queue runner hands each
message to (:class:`stack.smtp.forward.Deliverer`): it files the message in each recipient's
folder as ``folder_of`` decides, and answers per recipient as a remote server would, so the
spool records a delivery, a failure to retry (the disk is full) or a bounce (no such user)
exactly as it does for mail going on to another host.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from stack.errors import ElsinoreError
from stack.smtp.client import RecipientResult

log = logging.getLogger("elsinore.world.mailbox")

#: The folders a user has; mail is filed in one of them.
FOLDERS = ("INBOX", "Spam")
SUFFIX = ".eml"


class MailboxError(ElsinoreError):
    """A user or folder the store does not have."""


class Mailbox:
    """The messages of every user of one provider, under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _folder(self, user: str, folder: str) -> Path:
        if folder not in FOLDERS:
            raise MailboxError(f"no folder {folder!r} (folders: {', '.join(FOLDERS)})")
        # Users are checked names (stack.relay.aliases.check_name) stored in lower case: no
        # separator, no leading dot, so the path stays inside the root.
        return self.root / user.lower() / folder

    def store(self, user: str, folder: str, data: bytes) -> Path:
        """File ``data`` in ``user``'s ``folder``; durable when this returns."""
        directory = self._folder(user, folder)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}{SUFFIX}"
        scratch = directory / f".{name}.tmp"
        with scratch.open("xb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        final = directory / name
        scratch.rename(final)
        handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(handle)  # the rename itself
        finally:
            os.close(handle)
        return final

    def paths(self, user: str, folder: str) -> list[Path]:
        """The files of ``user``'s ``folder``, oldest first."""
        directory = self._folder(user, folder)
        if not directory.is_dir():
            return []
        return sorted(path for path in directory.glob(f"*{SUFFIX}") if path.is_file())

    def messages(self, user: str, folder: str) -> list[bytes]:
        """The messages of ``user``'s ``folder``, oldest first, bytes as stored."""
        return [path.read_bytes() for path in self.paths(user, folder)]


class LocalDelivery:
    """The MX's deliverer: files each message for each recipient in the folder ``folder_of``
    gives, for users ``user_of`` knows (it maps an address to a user, or None)."""

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        user_of: Callable[[str], str | None],
        folder_of: Callable[[bytes], str],
        hostname: str,
    ) -> None:
        self.mailbox = mailbox
        self.user_of = user_of
        self.folder_of = folder_of
        self.hostname = hostname

    async def deliver(
        self, sender: str, recipients: Sequence[str], data: bytes
    ) -> list[RecipientResult]:
        folder = self.folder_of(data)
        results: list[RecipientResult] = []
        for recipient in recipients:
            user = self.user_of(recipient)
            if user is None:
                # The MX checked RCPT against the same users: one removed since then.
                results.append(RecipientResult(recipient, 550, "5.1.1", "no such user", ""))
                continue
            try:
                path = await asyncio.to_thread(self.mailbox.store, user, folder, data)
            except OSError as exc:
                # Code 0, as the client gives when no server answered: the runner retries.
                reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
                log.error("%s: cannot file mail for %s: %s", self.hostname, user, reason)
                results.append(RecipientResult(recipient, 0, "4.3.0", reason, ""))
                continue
            log.info("%s: filed for %s in %s as %s", self.hostname, user, folder, path.name)
            results.append(
                RecipientResult(recipient, 250, "2.0.0", f"filed in {folder}", self.hostname)
            )
        return results


__all__ = ["FOLDERS", "LocalDelivery", "Mailbox", "MailboxError"]
