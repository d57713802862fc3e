"""Stored passwords for submission: salted scrypt hashes, and the seed's BLAKE2b ones.

A new hash is scrypt (RFC 7914, through :func:`hashlib.scrypt`) in the self-describing form
passlib and the PHC string format use, so the cost travels with the hash::

    $scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>

(``ln`` is log2 of scrypt's N; base64 without padding.)  The seed stored an unsalted
BLAKE2b-512 digest of the password as 128 hex digits; such a record is still accepted, so
its users can move over, and :func:`verify` asks for a rehash on their next good login, as
it does for a scrypt hash made with another cost than the current one.

Two properties a login check needs, whatever the record says:

* **Bounded work.**  The cost is read from the stored string, which is input: a record that
  asks for more memory or time than :data:`LIMITS` allows is refused with a
  :class:`StoredHashError` before any hashing, never obeyed for minutes or gigabytes.
* **The same work for every failure.**  Every check runs scrypt once at the current cost:
  :func:`verify_unknown_user` for a name that has no record, and :func:`verify` beside the
  fast BLAKE2b of a seed record.  So the time of a refusal does not tell whether the user
  exists or how old the record is.  Digests are compared with :func:`hmac.compare_digest`.

Passwords are bytes as AUTH delivers them (RFC 4616: UTF-8); a ``str`` is encoded as UTF-8
(lone surrogates passed through, so every string has one encoding).  No normalisation: the
seed hashed the bytes it was given, and a client sends the same bytes each time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from stack.auth.errors import AuthError

__all__ = [
    "CURRENT",
    "LIMITS",
    "Cost",
    "Kdf",
    "Limits",
    "Passwords",
    "StoredHashError",
    "Verdict",
    "check_stored",
    "hash_password",
    "scrypt",
    "verify",
    "verify_unknown_user",
]

SALT_BYTES = 16
HASH_BYTES = 32
#: The length of the seed's hashes: BLAKE2b's default 64-byte digest in hex.
LEGACY_HEX_DIGITS = 128


class StoredHashError(AuthError, ValueError):
    """A stored password hash that cannot be read, or asks for an absurd cost: where in the
    stored string (a character index) and why.  The hash itself is never quoted."""

    def __init__(self, reason: str, position: int = 0) -> None:
        self.reason = reason
        self.position = position
        super().__init__(reason, position)

    def __str__(self) -> str:
        return f"stored password hash, character {self.position}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Cost:
    """scrypt's parameters: N = 2**log_n, block size r, parallelism p (RFC 7914 2)."""

    log_n: int
    r: int
    p: int

    @property
    def memory(self) -> int:
        """The bytes OpenSSL's scrypt allocates for this cost (its V and B arrays)."""
        return 128 * self.r * ((1 << self.log_n) + 2 + self.p)

    @property
    def work(self) -> int:
        """Proportional to the time a hash takes: N x r x p block mixes."""
        return (1 << self.log_n) * self.r * self.p

    def __str__(self) -> str:
        return f"ln={self.log_n},r={self.r},p={self.p}"


#: The cost of new hashes: N = 2**15, r = 8, p = 1, about 32 MiB and a few tens of
#: milliseconds, RFC 7914's interactive-login figures.
CURRENT = Cost(log_n=15, r=8, p=1)


@dataclass(frozen=True, slots=True)
class Limits:
    """The largest cost a stored hash may ask for before it is refused unread."""

    max_log_n: int = 20
    max_r: int = 32
    max_p: int = 16
    max_memory: int = 256 * 1024 * 1024
    #: 2**24 block mixes is 64 times the current cost: a few seconds, not minutes.
    max_work: int = 1 << 24

    def check(self, cost: Cost, position: int) -> None:
        """Raise :class:`StoredHashError` at ``position`` if ``cost`` is out of bounds."""
        if not 1 <= cost.log_n <= self.max_log_n:
            raise StoredHashError(f"ln must be 1 to {self.max_log_n}, not {cost.log_n}", position)
        if not 1 <= cost.r <= self.max_r:
            raise StoredHashError(f"r must be 1 to {self.max_r}, not {cost.r}", position)
        if not 1 <= cost.p <= self.max_p:
            raise StoredHashError(f"p must be 1 to {self.max_p}, not {cost.p}", position)
        if cost.log_n >= 16 * cost.r:  # RFC 7914 2: N < 2^(128 r / 8)
            raise StoredHashError(f"ln={cost.log_n} is too large for r={cost.r}", position)
        if cost.memory > self.max_memory:
            raise StoredHashError(
                f"{cost} needs {cost.memory >> 20} MiB, over {self.max_memory >> 20} MiB",
                position,
            )
        if cost.work > self.max_work:
            raise StoredHashError(f"{cost} is over {self.max_work:,} block mixes", position)


LIMITS = Limits()

#: What computes a hash: (password, salt, cost, length) -> digest.  :func:`scrypt` in use;
#: a test passes its own to count the work a check does.
Kdf = Callable[[bytes, bytes, Cost, int], bytes]


def scrypt(password: bytes, salt: bytes, cost: Cost, length: int) -> bytes:
    """scrypt through OpenSSL (:func:`hashlib.scrypt`), allowed exactly the memory it needs."""
    return hashlib.scrypt(
        password,
        salt=salt,
        n=1 << cost.log_n,
        r=cost.r,
        p=cost.p,
        maxmem=cost.memory + (1 << 20),
        dklen=length,
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a check found: ``ok`` when the password is right; ``rehash`` when it is right
    but the record is in an old form (the seed's BLAKE2b, or another scrypt cost), so the
    caller should store :func:`hash_password` of it in its place."""

    ok: bool
    rehash: bool = False


WRONG = Verdict(ok=False)

# Every part of a scrypt hash, one possessive match: the cost numbers have at most two
# digits and no leading zero, so int() never meets a long run.
_SCRYPT = re.compile(
    r"\$scrypt\$ln=(?P<ln>[1-9][0-9]?),r=(?P<r>[1-9][0-9]?),p=(?P<p>[1-9][0-9]?)"
    r"\$(?P<salt>[A-Za-z0-9+/]{11,86})\$(?P<hash>[A-Za-z0-9+/]{22,86})"
)
_LEGACY = re.compile(f"[0-9a-fA-F]{{{LEGACY_HEX_DIGITS}}}")
#: Longer than any hash this module reads: refused before any matching.
_MAX_STORED = 256


@dataclass(frozen=True, slots=True)
class _Scrypt:
    cost: Cost
    salt: bytes
    digest: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str, position: int, what: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise StoredHashError(f"the {what} is not base64", position) from None


def _scrypt_error(stored: str) -> StoredHashError:
    """Why ``stored``, which starts like a scrypt hash, is not one: the first part that is
    wrong and where it starts."""
    parts = stored.split("$")
    expected = (
        (1, "the scheme", re.compile("scrypt")),
        (2, "the cost (ln=N,r=N,p=N)", re.compile(r"ln=[1-9][0-9]?,r=[1-9][0-9]?,p=[1-9][0-9]?")),
        (3, "the salt (11 to 86 base64 characters)", re.compile("[A-Za-z0-9+/]{11,86}")),
        (4, "the hash (22 to 86 base64 characters)", re.compile("[A-Za-z0-9+/]{22,86}")),
    )
    for index, what, pattern in expected:
        position = sum(len(part) + 1 for part in parts[:index])
        if len(parts) <= index:
            return StoredHashError(f"{what} is missing", len(stored))
        if not pattern.fullmatch(parts[index]):
            return StoredHashError(f"{what} is malformed", position)
    return StoredHashError("more parts than $scrypt$COST$SALT$HASH", len("$".join(parts[:5])))


def _parse(stored: str, limits: Limits) -> _Scrypt | bytes:
    """A scrypt hash, or the digest of a seed (BLAKE2b) hash; :class:`StoredHashError` for
    anything else, including a cost outside ``limits``."""
    if not stored:
        raise StoredHashError("empty", 0)
    if len(stored) > _MAX_STORED:
        raise StoredHashError(f"longer than {_MAX_STORED} characters", _MAX_STORED)
    if _LEGACY.fullmatch(stored):
        return bytes.fromhex(stored)
    if not stored.startswith("$"):
        if re.fullmatch("[0-9a-fA-F]*", stored):
            reason = f"{len(stored)} hex digits, not the {LEGACY_HEX_DIGITS} of a BLAKE2b hash"
            raise StoredHashError(reason, 0)
        raise StoredHashError("neither $scrypt$... nor a hex BLAKE2b hash", 0)
    match = _SCRYPT.fullmatch(stored)
    if match is None:
        raise _scrypt_error(stored)
    cost = Cost(int(match["ln"]), int(match["r"]), int(match["p"]))
    limits.check(cost, match.start("ln") - len("ln="))
    salt = _unb64(match["salt"], match.start("salt"), "salt")
    digest = _unb64(match["hash"], match.start("hash"), "hash")
    return _Scrypt(cost, salt, digest)


def _encode(password: bytes | str) -> bytes:
    if isinstance(password, bytes):
        return password
    return password.encode("utf-8", "surrogatepass")


class Passwords:
    """Hashing and checking at one cost, with one key derivation function.

    The module's functions use a default instance (:data:`CURRENT`, :func:`scrypt`); make
    your own for another cost, or to watch the work a check does.
    """

    def __init__(self, cost: Cost = CURRENT, kdf: Kdf = scrypt, limits: Limits = LIMITS):
        limits.check(cost, 0)
        self.cost = cost
        self.kdf = kdf
        self.limits = limits
        # What an unknown user's password is hashed with and compared to: random, so no
        # password matches, and the same size as a real record's, so the work is the same.
        self._dummy_salt = secrets.token_bytes(SALT_BYTES)
        self._dummy_digest = secrets.token_bytes(HASH_BYTES)

    def hash(self, password: bytes | str) -> str:
        """A new salted scrypt hash of ``password`` at this cost, to store."""
        salt = secrets.token_bytes(SALT_BYTES)
        digest = self.kdf(_encode(password), salt, self.cost, HASH_BYTES)
        return f"$scrypt${self.cost}${_b64(salt)}${_b64(digest)}"

    def verify(self, password: bytes | str, stored: str) -> Verdict:
        """Whether ``password`` matches ``stored``, and whether to rehash it.

        Raises :class:`StoredHashError` if ``stored`` cannot be read or asks for more than
        the limits; no hashing is done then.
        """
        found = _parse(stored, self.limits)
        secret = _encode(password)
        if isinstance(found, bytes):
            # The seed's fast hash: add the scrypt a current record costs, so that a login
            # against it takes as long as any other.
            self._dummy(secret)
            legacy = hashlib.blake2b(secret).digest()
            return Verdict(ok=True, rehash=True) if hmac.compare_digest(legacy, found) else WRONG
        digest = self.kdf(secret, found.salt, found.cost, len(found.digest))
        if not hmac.compare_digest(digest, found.digest):
            return WRONG
        return Verdict(ok=True, rehash=found.cost != self.cost)

    def verify_unknown_user(self, password: bytes | str) -> Verdict:
        """The check for a user who has no record: always wrong, after the same scrypt and
        comparison a known user's check makes."""
        self._dummy(_encode(password))
        return WRONG

    def _dummy(self, secret: bytes) -> None:
        digest = self.kdf(secret, self._dummy_salt, self.cost, HASH_BYTES)
        hmac.compare_digest(digest, self._dummy_digest)


_DEFAULT = Passwords()


def hash_password(password: bytes | str) -> str:
    """A new salted scrypt hash of ``password`` at the :data:`CURRENT` cost."""
    return _DEFAULT.hash(password)


def check_stored(stored: str, limits: Limits = LIMITS) -> None:
    """Raise :class:`StoredHashError` unless ``stored`` is a hash :func:`verify` reads,
    within ``limits``; no hashing is done."""
    _parse(stored, limits)


def verify(password: bytes | str, stored: str) -> Verdict:
    """Whether ``password`` matches the stored hash; see :meth:`Passwords.verify`."""
    return _DEFAULT.verify(password, stored)


def verify_unknown_user(password: bytes | str) -> Verdict:
    """A refusal that costs what a wrong password costs; see
    :meth:`Passwords.verify_unknown_user`."""
    return _DEFAULT.verify_unknown_user(password)
