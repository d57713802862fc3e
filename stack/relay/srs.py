"""The Sender Rewriting Scheme, as libsrs2 and Postfix's postsrsd write it.

A forwarder that relays ``alice@example.org`` to a mailbox elsewhere sends from an address in
its own domain, so that SPF checks the forwarder's record and passes, and bounces come back to
the forwarder, which can undo the rewriting and pass them on.  The forms (Shevek's "Sender
Rewriting Scheme" paper; libsrs2)::

    SRS0=HHHH=TT=example.org=alice@castle.test
    SRS1=HHHH=first.test==HHHH=TT=example.org=alice@castle.test

``SRS0`` rewrites an ordinary sender: ``HHHH`` is the hash, ``TT`` the day it was made.  A
second forwarder does not wrap an ``SRS0`` address again (it would grow at every hop): it keeps
the first forwarder's part as it is, names the first forwarder's domain, and signs both,
giving ``SRS1``.  An ``SRS1`` address forwarded once more keeps naming the first forwarder
and is only signed again.  Reversing ``SRS0`` gives the original sender; reversing ``SRS1``
gives the ``SRS0`` address at the first forwarder, which alone can check its own hash and
stamp.

Compatibility with libsrs2 (and so postsrsd 1.x, which carries a copy of it):

- the hash is HMAC-SHA1, keyed with the secret, over the fields concatenated without
  separators (``SRS0``: stamp, original domain, original local-part; ``SRS1``: first
  forwarder's domain, then the rest of the ``SRS0`` part including its leading separator),
  each lower-cased in ASCII only; it is the first ``hash_length`` characters of the digest in
  base64 (``+`` and ``/`` included, no padding);
- a hash is checked without regard to case, because MTAs on the way may change the case of
  a local-part; a hash longer than ``hash_length`` is checked on its first ``hash_length``
  characters, so addresses made with a longer hash before a configuration change still work;
- the stamp is the day number (POSIX time // 86400) modulo 1024, in two base32 characters
  (``A-Z2-7``); it is valid for ``max_age_days`` days after the day it names, and a stamp
  from the "future" is one 1,024-day cycle old, so expired;
- the tag is followed by ``=``, ``+`` or ``-`` (the separator is configurable in libsrs2);
  every later separator is ``=``.

Where we differ, and why:

- a sender's domain is what follows its *last* ``@`` (libsrs2 takes the first), because a
  quoted local-part may hold an ``@`` (``"a@b"@example.org``);
- a quoted local-part is rewritten by its content and the result quoted again when it is not
  a dot-string (RFC 5321 4.1.2), so the rewritten address is a valid path; libsrs2 works on
  the characters as written, quotes included;
- a domain containing ``=`` (possible only in a general address literal) cannot be reversed,
  because ``=`` separates the fields: :meth:`Srs.forward` refuses it instead of writing an
  address whose bounces would be lost;
- the hash is checked before the stamp, so that a forged address is reported as forged, not
  as expired.

Length: RFC 5321 4.5.3.1.1 limits a local-part to 64 octets, yet 4.5.3.1 asks implementations
to impose no limits where they can, and many do not.  A rewritten local-part carries the
original domain and local-part plus 13 octets, so it passes 64 octets for long senders;
like postsrsd, :meth:`Srs.forward` writes it anyway: refusing would lose the message, and a
receiver that enforces the limit answers with a reply the hop handles like any other.

The module is sans-IO: a clock is passed in, and nothing else is read.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Sequence

from stack.errors import ElsinoreError, excerpt

#: The tags of the two forms; any case is accepted on input.
SRS0 = "SRS0"
SRS1 = "SRS1"
#: What may follow the tag (libsrs2's ``srs_separators``); later fields are split on ``=``.
SEPARATORS = "=+-"

_FIELD = "="
_DAY = 86_400
_STAMP_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_STAMP_SLOTS = 1024  # two base32 characters
#: HMAC-SHA1 gives 20 octets: 27 base64 characters before the padding.
_MAX_HASH_LENGTH = 27

# RFC 5321 Dot-string, with RFC 6531's UTF-8; one alternative per position, so no backtracking.
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff]"
_DOT_STRING = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
# A domain, or an address literal (RFC 5321 4.1.3) whose brackets are its ends: one with an
# "@" inside ("a@[b@c]") is seen from its last "@" as "c]", and refused by this.
_DOMAIN = re.compile(r"[^\[\]@]+|\[[^\[\]\\@]*\]")
# C0 controls and DEL: no SMTP path carries them, quoted or not (RFC 5321 4.1.2).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SrsFailure(enum.Enum):
    """Why an address could not be rewritten or reversed."""

    #: Not an address of the form the operation needs.
    MALFORMED = "malformed"
    #: The hash does not match under any of our secrets: forged, or made by someone else.
    BAD_HASH = "bad hash"
    #: The hash matches, but the stamp is older than the maximum age.
    EXPIRED = "expired"


class SrsError(ElsinoreError, ValueError):
    """An address that SRS cannot rewrite or reverse, with where and why."""

    def __init__(self, failure: SrsFailure, reason: str, address: str, offset: int) -> None:
        self.failure = failure
        self.reason = reason
        self.address = address
        #: Where in ``address`` the problem starts (for a quoted local-part, counted in its
        #: content after the opening quote).
        self.offset = offset
        super().__init__(failure, reason, address, offset)

    def __str__(self) -> str:
        return (
            f"SRS address {excerpt(self.address)}, character {self.offset}: "
            f"{self.failure.value}: {self.reason}"
        )


class Srs:
    """Forward and reverse rewriting for one domain of ours.

    >>> srs = Srs([b"tangerine"], "castle.test", clock=lambda: 20_000 * 86_400)
    >>> srs.forward("alice@example.org")
    'SRS0=NDcz=RA=example.org=alice@castle.test'
    >>> srs.reverse("SRS0=NDcz=RA=example.org=alice@castle.test")
    'alice@example.org'

    ``secrets``: the first signs, every one verifies, so a new secret is put first and the old
    one kept until the addresses it signed have expired.  ``clock`` gives POSIX seconds.
    The constructor's arguments are configuration, checked with :class:`ValueError`; the
    addresses given to the methods are input, refused with :class:`SrsError` only.
    """

    def __init__(
        self,
        secrets: Sequence[bytes],
        domain: str,
        *,
        hash_length: int = 4,
        max_age_days: int = 21,
        separator: str = "=",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secrets or not all(secrets):
            raise ValueError("SRS needs at least one secret, and no secret may be empty")
        if not domain or "@" in domain or _FIELD in domain or _CONTROL.search(domain):
            raise ValueError(f"not a domain for SRS addresses: {excerpt(domain)}")
        if not 1 <= hash_length <= _MAX_HASH_LENGTH:
            raise ValueError(f"hash_length must be 1 to {_MAX_HASH_LENGTH}, not {hash_length}")
        if not 0 <= max_age_days < _STAMP_SLOTS:
            raise ValueError(f"max_age_days must be 0 to {_STAMP_SLOTS - 1}, not {max_age_days}")
        if len(separator) != 1 or separator not in SEPARATORS:
            raise ValueError(f"the separator must be one of {SEPARATORS!r}, not {separator!r}")
        self.secrets = tuple(secrets)
        self.domain = domain
        self.hash_length = hash_length
        self.max_age_days = max_age_days
        self.separator = separator
        self.clock = clock

    # -- the two operations ----------------------------------------------------------------

    def forward(self, sender: str) -> str:
        """The envelope sender to use when forwarding mail from ``sender``.

        The null sender (``""`` or ``"<>"``) and senders in our domain are returned unchanged;
        an ``SRS0`` or ``SRS1`` address of another forwarder becomes ``SRS1``; any other
        sender becomes ``SRS0``.  Raises :class:`SrsError` for a sender that cannot be
        rewritten so that it reverses (no ``@``, an empty part, ``=`` in the domain or ``@`` in
        an address literal, control characters).
        """
        if sender in ("", "<>"):
            return sender
        local, domain, base = _split(sender)
        if _ascii_lower(domain) == _ascii_lower(self.domain):
            return sender
        if _FIELD in domain or not _DOMAIN.fullmatch(domain):
            raise SrsError(
                SrsFailure.MALFORMED,
                "a domain with '=' in it, or an address literal with '@', cannot be reversed",
                sender,
                len(sender) - len(domain),
            )
        tag = _tag(local)
        if tag == SRS1:
            # Keep the first forwarder's domain and part; sign them again with our secret.
            _, host, rest = _fields(local, 3, sender, base, "SRS1 address")
            return self._srs1(host, rest)
        if tag == SRS0:
            return self._srs1(domain, local[len(SRS0) :])
        stamp = _stamp(self.clock())
        digest = self._hash(0, stamp, domain, local)
        return self._address(f"{SRS0}{self.separator}{digest}={stamp}={domain}={local}")

    def reverse(self, address: str) -> str:
        """The address that ``address``, an SRS address of ours, was made from.

        ``SRS0`` gives the original sender, ``SRS1`` the ``SRS0`` address at the first
        forwarder.  The domain of ``address`` is not checked (libsrs2 does not either): the
        hash alone says it is ours.  Raises :class:`SrsError` for anything else: not an SRS
        address or not well formed (:attr:`SrsFailure.MALFORMED`), a hash that none of our
        secrets made (:attr:`~SrsFailure.BAD_HASH`), a stamp too old
        (:attr:`~SrsFailure.EXPIRED`).
        """
        local, _, base = _split(address)
        tag = _tag(local)
        if tag == SRS1:
            digest, host, rest = _fields(local, 3, address, base, "SRS1 address")
            self._check_hash(digest, address, base + len(SRS1) + 1, host, rest)
            return _join(SRS0 + rest, host)
        if tag == SRS0:
            digest, stamp, host, user = _fields(local, 4, address, base, "SRS0 address")
            at = base + len(SRS0) + 2 + len(digest)
            then = _read_stamp(stamp, address, at)
            self._check_hash(digest, address, base + len(SRS0) + 1, stamp, host, user)
            self._check_age(then, address, at)
            return _join(user, host)
        raise SrsError(
            SrsFailure.MALFORMED,
            f"the local-part does not start with {SRS0} or {SRS1} and one of {SEPARATORS!r}",
            address,
            base,
        )

    def is_srs(self, address: str) -> bool:
        """Whether ``address`` has the form of an SRS address (of anyone: the hash is not
        checked); never raises."""
        try:
            local, _, _ = _split(address)
        except SrsError:
            return False
        return _tag(local) is not None

    # -- the parts -------------------------------------------------------------------------

    def _srs1(self, host: str, rest: str) -> str:
        digest = self._hash(0, host, rest)
        return self._address(f"{SRS1}{self.separator}{digest}={host}={rest}")

    def _address(self, local: str) -> str:
        return _join(local, self.domain)

    def _hash(self, secret: int, *fields: str) -> str:
        mac = hmac.new(self.secrets[secret], digestmod=hashlib.sha1)
        for field in fields:
            mac.update(field.encode("utf-8").lower())  # bytes.lower(): ASCII only, as C's
        return base64.b64encode(mac.digest()).decode("ascii")[: self.hash_length]

    def _check_hash(self, digest: str, address: str, offset: int, *fields: str) -> None:
        if len(digest) < self.hash_length:
            raise SrsError(
                SrsFailure.BAD_HASH,
                f"the hash has {len(digest)} characters, fewer than {self.hash_length}",
                address,
                offset,
            )
        given = digest[: self.hash_length].encode("utf-8").lower()
        # Every secret is tried, matched or not, so the time taken says nothing of which.
        matched = False
        for index in range(len(self.secrets)):
            expected = self._hash(index, *fields).encode("ascii").lower()
            matched |= hmac.compare_digest(given, expected)
        if not matched:
            raise SrsError(
                SrsFailure.BAD_HASH, "the hash does not match any secret", address, offset
            )

    def _check_age(self, then: int, address: str, offset: int) -> None:
        age = (_day(self.clock()) - then) % _STAMP_SLOTS
        if age > self.max_age_days:
            raise SrsError(
                SrsFailure.EXPIRED,
                f"made {age} days ago, more than {self.max_age_days}",
                address,
                offset,
            )


def _day(now: float) -> int:
    return int(now // _DAY)


def _stamp(now: float) -> str:
    day = _day(now)
    return _STAMP_ALPHABET[(day >> 5) & 31] + _STAMP_ALPHABET[day & 31]


def _read_stamp(stamp: str, address: str, offset: int) -> int:
    """The day slot that ``stamp`` names; any case, as libsrs2 reads it."""
    upper = _ascii_upper(stamp)
    if len(upper) != 2 or any(c not in _STAMP_ALPHABET for c in upper):
        raise SrsError(
            SrsFailure.MALFORMED, "the stamp is not two base32 characters", address, offset
        )
    return _STAMP_ALPHABET.index(upper[0]) << 5 | _STAMP_ALPHABET.index(upper[1])


def _tag(local: str) -> str | None:
    """``SRS0`` or ``SRS1`` when ``local`` starts with one, in any case, and a separator."""
    tag = _ascii_upper(local[: len(SRS0)])
    if tag in (SRS0, SRS1) and len(local) > len(SRS0) and local[len(SRS0)] in SEPARATORS:
        return tag
    return None


def _fields(local: str, count: int, address: str, base: int, what: str) -> list[str]:
    """The ``count`` fields after the tag and its separator, the last one taking the rest;
    the domain field (the one before the last) may not hold an ``@``."""
    fields = local[len(SRS0) + 1 :].split(_FIELD, count - 1)
    offset = base + len(SRS0) + 1
    for field in fields:
        if not field:
            break
        offset += len(field) + 1
    if len(fields) == count and all(fields):
        if "@" not in fields[-2]:
            return fields
        reason = f"the domain field of an {what} holds an '@'"
        offset = base + len(local) - len(fields[-1]) - 1 - len(fields[-2])
    else:
        reason = f"an {what} needs {count} non-empty fields separated by '='"
    raise SrsError(SrsFailure.MALFORMED, reason, address, min(offset, base + len(local)))


def _split(address: str) -> tuple[str, str, int]:
    """The local-part's content, the domain, and where the content starts in ``address``."""
    local, at, domain = address.rpartition("@")
    found = _CONTROL.search(address)
    if found:
        raise SrsError(SrsFailure.MALFORMED, "a control character", address, found.start())
    if not at or not local or not domain:
        where = len(local) + 1 if at else len(address)
        raise SrsError(
            SrsFailure.MALFORMED, "not local-part@domain, both non-empty", address, where
        )
    try:
        address.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SrsError(SrsFailure.MALFORMED, "not UTF-8 text", address, exc.start) from None
    if local.startswith('"'):
        return _unquote(local, address), domain, 1
    return local, domain, 0


def _unquote(quoted: str, address: str) -> str:
    content: list[str] = []
    escaped = False
    for index, char in enumerate(quoted[1:], start=1):
        if escaped:
            content.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            if index != len(quoted) - 1 or not content:
                break
            return "".join(content)
        else:
            content.append(char)
    raise SrsError(
        SrsFailure.MALFORMED,
        "a quoted local-part must be one non-empty quoted-string",
        address,
        0,
    )


def _join(local: str, domain: str) -> str:
    if _DOT_STRING.fullmatch(local):
        return f"{local}@{domain}"
    quoted = local.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}"@{domain}'


_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_upper(text: str) -> str:
    return text.translate(_UPPER)


def _ascii_lower(text: str) -> str:
    return text.translate(_LOWER)
