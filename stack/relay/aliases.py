"""The alias map: which real mailboxes each local address of our domain goes to.

The map is a folder of per-user records, one JSON file each, as the seed keeps them in its
Git database (one key per local-part)::

    DIR/alice.json
    {"targets": ["alice@bigmail.test"], "password": "$scrypt$...", "insecure": false}

``targets`` are the addresses mail for ``alice@OUR-DOMAIN`` is forwarded to; ``password`` is
a hash :mod:`stack.auth.passwords` reads (the seed's BLAKE2b hex too), the one submission
checks AUTH against, or ``null`` (or absent) for an alias nobody logs in as; ``insecure``
(default ``false``) is the seed's per-user flag to send without STARTTLS, carried for the
submission service to decide on.  Any other key is refused, so a misspelt ``"target"`` is an
error, not a user who silently receives nothing.

Decisions, each pinned by a test:

* **Case.**  Lookups ignore case (``Alice`` finds ``alice.json``).  RFC 5321 2.4 leaves the
  local-part's case to the destination host and asks it to avoid mailboxes whose case
  matters; the seed compared exactly.  Two records whose names differ only in case are
  refused at load, since either would be a guess.
* **Names** are dot-atom-text (RFC 5322 3.2.3, UTF-8 allowed by RFC 6532) of at most 64
  octets (RFC 5321 4.5.3.1.1): a quoted local-part, which RFC 5321 asks hosts not to define,
  has no file name here.  Files whose names start with ``.`` are not records (the Git folder,
  :func:`write_record`'s temporary files); any other file that is not ``NAME.json`` is refused.
* **postmaster always resolves** (RFC 5321 4.5.1: every host that delivers mail MUST accept
  ``postmaster``, case-insensitively).  Its record is ``postmaster.json`` when there is one,
  otherwise the ``postmaster`` address given to :meth:`AliasMap.load` (the seed's
  ``--postmaster``); with neither, the map is refused at load rather than a 550 for
  postmaster found at RCPT time.

Reloading: :class:`Watcher` compares the folder's listing (name, inode, size and mtime of
each file) with the one the current map was read from, and on a change reads the whole
folder again.  The new map replaces the old one whole, and only if every record in it is
valid: a half-written or bad record leaves the old map in force and is reported once.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from stack.auth.passwords import StoredHashError, check_stored
from stack.errors import ElsinoreError, excerpt
from stack.files import fsync_directory
from stack.mime.errors import EncodeError, ParseError
from stack.mime.fields.address import decode_mailbox
from stack.mime.fields.lexer import is_dot_atom_text, is_text
from stack.smtp.policy import Limits, check_address

__all__ = [
    "MAX_RECORD_BYTES",
    "MAX_TARGETS",
    "POSTMASTER",
    "AliasError",
    "AliasMap",
    "Record",
    "Watcher",
    "check_name",
    "check_target",
    "fingerprint",
    "read_record",
    "remove_record",
    "write_record",
]

POSTMASTER = "postmaster"
SUFFIX = ".json"
#: A record is a few addresses and a hash; anything this large is not one.
MAX_RECORD_BYTES = 64 * 1024
#: As many targets as one SMTP transaction takes recipients (RFC 5321 4.5.3.1.8).
MAX_TARGETS = 100

_KEYS = frozenset({"targets", "password", "insecure"})
_SMTP_LIMITS = Limits()

#: What the folder looked like when it was read: (file name, inode, size, mtime in ns).
Fingerprint = frozenset[tuple[str, int, int, int]]


class AliasError(ElsinoreError):
    """A record or folder the alias map cannot use: which file (or folder) and why, on one
    line."""

    def __init__(self, where: Path | str, reason: str) -> None:
        self.where = str(where)
        self.reason = reason
        super().__init__(where, reason)

    def __str__(self) -> str:
        # A file name is input too: one holding a line break must not break the line.
        where = self.where if self.where.isprintable() else excerpt(self.where, 4096)
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Record:
    """One local address: its name (as its file names it), where its mail goes, the hash of
    its password (None: nobody logs in as it) and the seed's ``insecure`` flag."""

    name: str
    targets: tuple[str, ...]
    password: str | None = None
    insecure: bool = False


def _key(local_part: str) -> str:
    return local_part.casefold()


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be a record's name, or None when it can."""
    if "/" in name:  # atext, but a file name cannot hold it
        return f"the name {excerpt(name)} holds a '/'"
    if not is_text(name) or not is_dot_atom_text(name):
        return f"the name {excerpt(name)} is not a dot-atom local-part (RFC 5322 3.2.3)"
    if len(name.encode("utf-8")) > _SMTP_LIMITS.local_part:
        return f"the name is longer than {_SMTP_LIMITS.local_part} octets (RFC 5321 4.5.3.1.1)"
    return None


def check_target(target: object) -> str | None:
    """Why ``target`` is not an address the relay can forward to, or None when it is.

    It must be a bare addr-spec as an envelope carries it (no display name, no comment, no
    white space), read by the codec's address decoder, with a domain name (mail is delivered
    by MX, not to a literal address) and within SMTP's path limits.
    """
    if not isinstance(target, str):
        return f"a target is {type(target).__name__}, not a string"
    shown = excerpt(target)
    try:
        mailbox = decode_mailbox(target)
        canonical = mailbox.addr_spec
    except (ParseError, EncodeError) as error:
        return f"the target {shown} is not an address: {error}"
    if mailbox.name is not None or canonical != target:
        return f"the target {shown} is not a bare local-part@domain"
    if mailbox.domain.startswith("["):
        return f"the target {shown} has a domain literal, not a domain name"
    refused = check_address(target, _SMTP_LIMITS, sender=False)
    if refused is not None:
        return f"the target {shown}: {refused.text}"
    return None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"the key {excerpt(key)} appears twice")
    return dict(pairs)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse(path: Path, data: bytes) -> Record:
    """The record in ``data``, read from ``path``; :class:`AliasError` when it is not one."""
    name = path.name[: -len(SUFFIX)]
    problem = check_name(name)
    if problem is not None:
        raise AliasError(path, problem)
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError as error:
        raise AliasError(path, f"byte {error.start}: not UTF-8") from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise AliasError(path, f"{where}: not JSON: {error.msg}") from None
    except ValueError as error:
        raise AliasError(path, str(error)) from None
    except RecursionError:  # json's C scanner recurses once per "[" or "{"
        raise AliasError(path, "nested too deeply to be a record") from None
    if not isinstance(value, dict):
        raise AliasError(path, 'not a JSON object {"targets": [...], ...}')
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise AliasError(
            path, f"unknown key {excerpt(unknown[0])} (known: insecure, password, targets)"
        )
    return _record(path, name, value)


def _record(where: Path | str, name: str, value: Mapping[str, object]) -> Record:
    if "targets" not in value:
        raise AliasError(where, 'no "targets" list')
    targets = value["targets"]
    if not isinstance(targets, list):
        raise AliasError(where, '"targets" is not a list')
    if len(targets) > MAX_TARGETS:
        raise AliasError(where, f"{len(targets)} targets, over {MAX_TARGETS}")
    for target in targets:
        problem = check_target(target)
        if problem is not None:
            raise AliasError(where, problem)
    password = value.get("password")
    if password is not None:
        if not isinstance(password, str):
            raise AliasError(where, '"password" is neither a hash string nor null')
        try:
            check_stored(password)  # at load, so a bad hash is never found at login
        except StoredHashError as error:
            raise AliasError(where, f'"password": {error}') from None
    insecure = value.get("insecure", False)
    if not isinstance(insecure, bool):
        raise AliasError(where, '"insecure" is not true or false')
    if not targets and password is None:
        raise AliasError(where, "no targets and no password: the record does nothing")
    return Record(name, tuple(targets), password, insecure)


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as listing:
            return [entry for entry in listing if not entry.name.startswith(".")]
    except OSError as error:
        raise AliasError(directory, f"cannot read the folder: {_reason(error)}") from None


def read_record(path: Path) -> Record:
    """The record in ``DIR/NAME.json``, checked as :meth:`AliasMap.load` checks each one;
    :class:`AliasError` when it is not one (for ``elsinore user``, which reads one record
    without the folder's map)."""
    if not path.name.endswith(SUFFIX):
        raise AliasError(path, f"not a record (records are NAME{SUFFIX} files)")
    return _parse(path, _read(path))


def _reason(error: OSError) -> str:
    return os.strerror(error.errno).lower() if error.errno else str(error)


def fingerprint(directory: Path) -> Fingerprint:
    """The folder's listing as :class:`Watcher` compares it: a rename, a rewrite in place
    or a new or removed file each change it."""
    prints = set()
    for entry in _entries(directory):
        try:
            status = entry.stat()
        except FileNotFoundError:
            continue  # gone since the listing: the next look sees the folder without it
        except OSError as error:
            raise AliasError(Path(entry.path), f"cannot read: {_reason(error)}") from None
        prints.add((entry.name, status.st_ino, status.st_size, status.st_mtime_ns))
    return frozenset(prints)


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_RECORD_BYTES + 1)
    except OSError as error:
        raise AliasError(path, f"cannot read: {_reason(error)}") from None
    if len(data) > MAX_RECORD_BYTES:
        raise AliasError(path, f"larger than {MAX_RECORD_BYTES:,} bytes")
    return data


@dataclass(frozen=True)
class AliasMap:
    """Every record of one folder, for one domain, read at one moment."""

    domain: str
    records: Mapping[str, Record]
    postmaster: Record
    fingerprint: Fingerprint = field(default=frozenset(), compare=False)

    @classmethod
    def load(cls, directory: Path, domain: str, *, postmaster: str | None = None) -> AliasMap:
        """Read and check every record in ``directory``, the local-parts of ``domain``.

        ``postmaster`` is where postmaster's mail goes when there is no ``postmaster.json``.
        Raises :class:`AliasError` naming the first file that is wrong and why, or the
        folder when it changed while it was read (read again later).
        """
        before = fingerprint(directory)
        records: dict[str, Record] = {}
        for name, *_ in sorted(before):
            path = directory / name
            if not name.endswith(SUFFIX) or not path.is_file():
                raise AliasError(path, f"not a record (records are NAME{SUFFIX} files)")
            record = _parse(path, _read(path))
            other = records.setdefault(_key(record.name), record)
            if other is not record:
                raise AliasError(path, f"the same name as {other.name}{SUFFIX}, but for case")
        if fingerprint(directory) != before:
            raise AliasError(directory, "changed while it was read; read it again")
        found = records.get(POSTMASTER)
        if found is None:
            if postmaster is None:
                raise AliasError(
                    directory,
                    f"no {POSTMASTER}{SUFFIX} and no postmaster address: RFC 5321 4.5.1 "
                    "requires postmaster to work",
                )
            found = _record("the postmaster address", POSTMASTER, {"targets": [postmaster]})
        return cls(domain, MappingProxyType(records), found, before)

    def lookup(self, local_part: str) -> Record | None:
        """The record of ``local_part`` (any case), or None; postmaster always has one."""
        key = _key(local_part)
        if key == POSTMASTER:
            return self.postmaster
        return self.records.get(key)

    def addresses_of(self, user: str) -> frozenset[str]:
        """The addresses ``user`` (a login name) may send as: its own
        ``user@domain``, and each local address whose targets include it (an alias such as
        ``info`` forwarded to ``alice@domain``).  Empty for a name that has no record."""
        record = self.lookup(user)
        if record is None:
            return frozenset()
        own = f"{record.name}@{self.domain}"
        mine = _key(own)
        found = {own}
        for alias in (*self.records.values(), self.postmaster):
            if any(_key(target) == mine for target in alias.targets):
                found.add(f"{alias.name}@{self.domain}")
        return frozenset(found)

    def may_send_as(self, user: str, address: str) -> bool:
        """Whether ``user`` may use ``address`` as its sender (case-insensitively)."""
        wanted = _key(address)
        return any(_key(mine) == wanted for mine in self.addresses_of(user))


#: The listing of a folder that cannot be listed ("/" is in no file name).
_UNREADABLE: Fingerprint = frozenset({("/", 0, 0, 0)})


class Watcher:
    """The current alias map of a folder, read again when the folder changes.

    The first read happens at construction and raises :class:`AliasError` (a service must
    not start without a valid map).  After that, :meth:`poll` swaps in a new map only when
    the whole folder reads well; a bad folder leaves the old map and :meth:`poll` returns
    the error, once per change of the folder.
    """

    def __init__(self, directory: Path, domain: str, *, postmaster: str | None = None) -> None:
        self.directory = directory
        self.domain = domain
        self.postmaster = postmaster
        self.map = AliasMap.load(directory, domain, postmaster=postmaster)
        self.error: AliasError | None = None
        self._refused: Fingerprint | None = None  # the folder as it was when refused

    def poll(self) -> AliasError | None:
        """Read the folder again if it changed: None when there is nothing new to report
        (unchanged, or read and swapped in), else the error that kept the old map."""
        try:
            now = fingerprint(self.directory)
        except AliasError as error:
            now = _UNREADABLE
            if self._refused != now:
                return self._refuse(error, now)
        if now in (self.map.fingerprint, self._refused):
            return None
        try:
            fresh = AliasMap.load(self.directory, self.domain, postmaster=self.postmaster)
        except AliasError as error:
            return self._refuse(error, now)
        self.map, self.error, self._refused = fresh, None, None
        return None

    def _refuse(self, error: AliasError, now: Fingerprint) -> AliasError:
        self.error, self._refused = error, now
        return error


def write_record(
    directory: Path,
    name: str,
    targets: Sequence[str],
    password_hash: str | None,
    *,
    insecure: bool = False,
) -> Path:
    """Write ``DIR/NAME.json`` so that a reader sees the old record or the new one, whole.

    The record is checked as :meth:`AliasMap.load` checks it, written to a hidden temporary
    file in the same folder, flushed to disk, renamed over the old one, and the folder
    flushed too, so the rename survives a crash.  Raises :class:`AliasError` for a record
    the map would refuse; nothing is written then.
    """
    path = directory / f"{name}{SUFFIX}"
    problem = check_name(name)
    if problem is not None:
        raise AliasError(path, problem)
    value: dict[str, object] = {"targets": list(targets), "password": password_hash}
    if insecure:
        value["insecure"] = True
    _record(path, name, value)
    data = (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    temporary = directory / f".{name}{SUFFIX}.{secrets.token_hex(8)}.tmp"
    try:
        # 0600: a password hash is a secret an attacker can grind offline.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        fsync_directory(directory)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise AliasError(path, f"cannot write: {_reason(error)}") from None
    return path


def remove_record(path: Path) -> None:
    """Remove the record ``path`` so that the removal survives a crash (the folder is
    flushed after the unlink); :class:`AliasError` when it cannot be removed."""
    try:
        path.unlink()
        fsync_directory(path.parent)
    except OSError as error:
        raise AliasError(path, f"cannot remove: {_reason(error)}") from None
