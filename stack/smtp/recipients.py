"""The MX's recipient policy, without I/O: which forward-paths a domain's MX accepts at RCPT.

Theory of operation
-------------------
The hop's own checks (:func:`stack.smtp.policy.check_address`) keep out what no server may
store: controls, lines too long, text that is not UTF-8.  An MX for a domain that relays
nothing needs more: it accepts a recipient only when the address ends in one of our domains
and names a user the alias map knows (or postmaster), and it must read the address the way
every program after it will, or a later one finds a second destination inside the first.
That is the relay trick: ``user%other.test@castle.test`` (the ``%`` hack),
``other.test!user@castle.test`` (a UUCP bang path), ``"user@other.test"@castle.test`` (an
``@`` hidden in quotes) and ``user@other.test@castle.test`` (a second ``@``) all look local
to a server that reads only the last ``@``, and all go to ``other.test`` through one that
reads further.

:func:`check_recipient` answers as Postfix 3.7 answers with its defaults
(``allow_percent_hack``, ``swap_bangpath`` and ``resolve_dequoted_address`` on,
``strict_rfc821_envelopes`` off), our domains as ``virtual_alias_domains``, the alias map as
``virtual_alias_maps``, ``reject_unauth_destination`` and ``reject_non_fqdn_recipient``; the
tests ask a real Postfix set up that way the same questions.  In order:

1. The path is read (RFC 5321 4.1.2): angle brackets are optional; a source route
   (``@a.test,@b.test:``) is dropped, as RFC 5321 3.6.1 and Postfix's trivial-rewrite do, and
   what remains is checked like any other address; a quoted local part is unquoted; the
   domain may end in one dot (Postfix strips it).  What cannot be read is
   ``501 5.1.3 Bad recipient address syntax``.
2. A local part that still holds ``@``, ``%`` or ``!`` routes the mail on (Postfix's
   "sender-specified routing"): ``554 5.7.1 <address>: Relay access denied``, whatever the
   domain, ours included.  So is a domain that is not ours, and every domain literal: the MX
   is named by its domains, and a literal of its own address is only a way round them.
3. ``postmaster``, in any case, with one of our domains or none, is always accepted (RFC 5321
   4.5.1).  Another local part without a domain is
   ``504 5.5.2 <address>: Recipient address rejected: need fully-qualified address``.
4. In our domain, a local part the alias map does not know is
   ``550 5.1.1 <address>: Recipient address rejected: User unknown in virtual alias table``.

Domains are compared in their A-label form (RFC 5890), lower case: under SMTPUTF8
(RFC 6531 3.2) ``jörg@bücher.test`` is the same address as ``jörg@xn--bcher-kva.test``.
Postfix 3.7 compares U-labels as they are written and refuses the first as a relay: here we
follow the RFC rather than Postfix.  U-labels are checked by IDNA 2008 (the ``idna``
package), without UTS 46 mapping, so a look-alike written in full-width letters is bad
syntax, not our domain.  Local parts are compared case-folded, as Postfix folds table keys.

The reply quotes the address as Postfix does: unquoted, without its source route, in the case
the client wrote it.  Only an address that parsed is quoted, so a reply is always one line
of printable text, and never longer than the path limit allows.
"""

from __future__ import annotations

import ipaddress
import re
import string
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass

import idna

from stack.errors import ElsinoreError, excerpt
from stack.smtp.policy import Limits, Reply

#: The local part that every domain must accept (RFC 5321 4.5.1), compared case-folded.
POSTMASTER = "postmaster"

#: RFC 5321 4.1.2 atext, which an unquoted local part is made of, with the dots between.
_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
#: Characters that route mail on when they stand in a local part, once it is unquoted.
_ROUTING = re.compile(r"[@%!]")
# An ASCII label as Postfix's valid_hostname() takes it: letters, digits, hyphens and
# underscores, no hyphen at either end.  One class, then an optional run ending in a class
# without the hyphen: nothing to backtrack into.
_ASCII_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
# RFC 5321 4.1.3 General-address-literal: Standardized-tag ":" 1*dcontent.
_GENERAL_LITERAL = re.compile(r"[A-Za-z0-9-]*[A-Za-z0-9]:[!-Z^-~]+")

SYNTAX_REPLY = Reply(501, "5.1.3", "Bad recipient address syntax")
_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Accept:
    """A recipient to take: its local part unquoted and case-folded (the alias map's key) and
    our domain in A-labels, lower case; ``domain`` is None for a bare ``postmaster``."""

    local: str
    domain: str | None

    @property
    def address(self) -> str:
        """``local@domain``, or the bare local part (``postmaster``)."""
        return self.local if self.domain is None else f"{self.local}@{self.domain}"


@dataclass(frozen=True, slots=True)
class Refuse:
    """A recipient refused: the SMTP reply to give, worded as Postfix words it, and the reason
    for the log, which says where the address went wrong when it could not be read."""

    reply: Reply
    reason: str


class NotOurDomainError(ElsinoreError):
    """A domain configured as ours that no recipient could write: why, and where in it."""

    def __init__(self, name: str, reason: str, position: int) -> None:
        super().__init__(f"{excerpt(name)} cannot be one of our domains: {reason} at {position}")
        self.name = name
        self.reason = reason
        self.position = position


class _Unreadable(Exception):
    """The path cannot be read: why, and where (a character offset in the path)."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(f"{reason} at character {position}")
        self.reason = reason
        self.position = position


@dataclass(frozen=True, slots=True)
class _Mailbox:
    local: str  # unquoted
    domain: str | None  # as written, trailing dot kept; None when the path had no "@"
    literal: bool
    domain_at: int = 0  # where the domain starts in the path


def check_recipient(
    path: str,
    *,
    our_domains: Collection[str],
    known: Callable[[str], bool],
    limits: Limits = _LIMITS,
) -> Accept | Refuse:
    """Whether the MX of ``our_domains`` takes ``path`` (a forward-path, with or without its
    angle brackets, as the client wrote it or as aiosmtpd hands it over) at RCPT.

    ``known`` is asked about the local part, unquoted and case-folded (``Alice`` and ``ALICE``
    are ``alice``), only once the domain is ours; ``our_domains`` may be written in U-labels
    or A-labels, in any case.  Never raises for any ``path``: what cannot be read is refused.
    Raises :class:`NotOurDomainError` for an entry of ``our_domains`` that is not a domain.
    """
    # RFC 5321 4.5.3.1.3 counts the angle brackets, which aiosmtpd has taken off.
    brackets = 0 if path.startswith("<") else 2
    if len(path.encode("utf-8", "surrogatepass")) + brackets > limits.path:
        return _unreadable(_Unreadable(f"longer than {limits.path} octets", limits.path))
    try:
        mailbox = _read_path(path)
        domain = None
        if mailbox.domain is not None and not mailbox.literal:
            domain = _a_labels(mailbox.domain, mailbox.domain_at)
    except _Unreadable as problem:
        return _unreadable(problem)
    written = mailbox.local if mailbox.domain is None else f"{mailbox.local}@{mailbox.domain}"
    if _ROUTING.search(mailbox.local):
        return _relay_denied(
            written, "the local part routes the mail on (sender-specified routing)"
        )
    local = mailbox.local.casefold()
    if mailbox.literal:
        return _relay_denied(written, "a domain literal is not one of our domains")
    if domain is None:
        if local == POSTMASTER:
            return Accept(POSTMASTER, None)
        return Refuse(
            Reply(
                504,
                "5.5.2",
                f"<{written}>: Recipient address rejected: need fully-qualified address",
            ),
            "no domain, and only postmaster may go without one (RFC 5321 4.5.1)",
        )
    if domain not in {our_domain(name) for name in our_domains}:
        return _relay_denied(written, f"{domain} is not one of our domains")
    if local == POSTMASTER:
        return Accept(POSTMASTER, domain)
    if not known(local):
        return Refuse(
            Reply(
                550,
                "5.1.1",
                f"<{written}>: Recipient address rejected: User unknown in virtual alias table",
            ),
            "the alias map has no such user",
        )
    return Accept(local, domain)


def recipient_policy(
    our_domains: Collection[str], known: Callable[[str], bool], limits: Limits = _LIMITS
) -> Callable[[str], Reply | None]:
    """:func:`check_recipient` as a hop's recipient check
    (:attr:`stack.smtp.server.InboundConfig.recipients`): None to accept, else the reply.

    Raises :class:`NotOurDomainError` at once for a domain of ``our_domains`` that is not one.
    """
    ours = frozenset(our_domain(name) for name in our_domains)

    def policy(path: str) -> Reply | None:
        result = check_recipient(path, our_domains=ours, known=known, limits=limits)
        return result.reply if isinstance(result, Refuse) else None

    return policy


# -- reading the path -----------------------------------------------------------------------


def _read_path(path: str) -> _Mailbox:
    """RFC 5321 4.1.2 Path, leniently as Postfix reads it: brackets optional, the source route
    dropped, dots in the local part unchecked, one trailing dot in the domain."""
    start, end = 0, len(path)
    if path.startswith("<"):
        if not path.endswith(">") or end < 2:
            raise _Unreadable("'<' without its '>'", end)
        start, end = 1, end - 1
    elif path.endswith(">"):
        raise _Unreadable("'>' without its '<'", end - 1)
    if start == end:
        raise _Unreadable("an empty path (the null path is for senders only)", start)
    if path[start] == "@" and ":" in path[start:end]:
        start = _skip_route(path, start, end)
    if path[start] == '"':
        local, position = _quoted_local(path, start, end)
    else:
        position = path.rfind("@", start, end)
        if position < 0:
            position = end
        local = path[start:position]
        _check_unquoted(local, start)
    if position == end:
        return _Mailbox(local, None, literal=False)
    if path[position] != "@":
        raise _Unreadable("text after the quoted local part", position)
    domain = path[position + 1 : end]
    literal = domain.startswith("[")
    if literal:
        _check_literal(domain, position + 1)
    elif not domain:
        raise _Unreadable("no domain after '@'", end)
    return _Mailbox(local, domain, literal, position + 1)


def _skip_route(path: str, start: int, end: int) -> int:
    """Where the mailbox starts after an A-d-l source route (RFC 5321 4.1.2); the route's
    domains must be domains, but where they point is ignored (RFC 5321 3.6.1)."""
    colon = path.find(":", start, end)
    if colon < 0:
        raise _Unreadable("a source route without its ':'", start)
    position = start
    for hop in path[start:colon].split(","):
        if not hop.startswith("@") or len(hop) == 1:
            raise _Unreadable("a source route hop that is not '@domain'", position)
        if hop.startswith("@["):
            _check_literal(hop[1:], position + 1)
        else:
            _a_labels(hop[1:], position + 1)
        position += len(hop) + 1
    if colon + 1 == end:
        raise _Unreadable("a source route and no mailbox", end)
    return colon + 1


def _quoted_local(path: str, start: int, end: int) -> tuple[str, int]:
    """The value of the quoted-string at ``start`` (RFC 5321 4.1.2, UTF-8 under RFC 6531) and
    where it ends."""
    value: list[str] = []
    position = start + 1
    while position < end:
        char = path[position]
        if char == '"':
            return "".join(value), position + 1
        if char == "\\":
            position += 1
            if position == end or not " " <= path[position] <= "~":
                raise _Unreadable("a backslash not followed by a printable character", position)
            value.append(path[position])
        elif " " <= char <= "~" or _utf8_text(char):
            value.append(char)
        else:
            raise _Unreadable(f"{_name(char)} in the quoted local part", position)
        position += 1
    raise _Unreadable("a quoted local part without its closing '\"'", end)


def _check_unquoted(local: str, offset: int) -> None:
    """An unquoted local part: atext, dots and ``@`` (a route, refused later), UTF-8 text
    under RFC 6531.  Postfix does not check where the dots stand, and neither do we: ``a..b``
    is a user the alias map does not know, not an attack."""
    for index, char in enumerate(local):
        if char not in _ATEXT and char not in ".@" and not _utf8_text(char):
            raise _Unreadable(f"{_name(char)} outside a quoted local part", offset + index)


def _check_literal(literal: str, offset: int) -> None:
    """A domain literal (RFC 5321 4.1.3): IPv4, ``IPv6:`` or a general address literal."""
    if len(literal) < 3 or not literal.endswith("]"):
        raise _Unreadable("a domain literal without its ']'", offset + len(literal))
    inside = literal[1:-1]
    try:
        if inside[:5].lower() == "ipv6:":
            ipaddress.IPv6Address(inside[5:])
        elif inside[:1].isdigit() and ":" not in inside:
            ipaddress.IPv4Address(inside)
        elif not _GENERAL_LITERAL.fullmatch(inside):
            raise ValueError(inside)
    except ValueError:
        raise _Unreadable("not an address literal", offset + 1) from None


def _a_labels(domain: str, offset: int = 0) -> str:
    """``domain`` in A-labels, lower case, without its one trailing dot; each ASCII label as
    Postfix takes host names, each other label a U-label by IDNA 2008."""
    name = domain[:-1] if domain.endswith(".") else domain
    labels: list[str] = []
    position = offset
    for label in name.split("."):
        if label.isascii():
            if not _ASCII_LABEL.fullmatch(label):
                raise _Unreadable("not a host name label", position)
            labels.append(label.lower())
        else:
            try:
                labels.append(idna.alabel(label.lower()).decode("ascii"))
            except (idna.IDNAError, UnicodeError):
                raise _Unreadable("not an IDNA 2008 label", position) from None
        position += len(label) + 1
    a_labels = ".".join(labels)
    if len(a_labels) > 253:
        raise _Unreadable("a domain longer than 253 octets", offset)
    return a_labels


def our_domain(name: str) -> str:
    """One of our domains (configuration: U-labels or A-labels, any case, one trailing dot or
    none) as recipients' domains are compared: A-labels, lower case.

    Raises :class:`NotOurDomainError` when ``name`` is not a domain name a recipient could
    write, so that a mistake in the configuration shows at start, not as mail refused.
    """
    if name.startswith("["):
        raise NotOurDomainError(name, "a domain literal: the MX is named by its domains", 0)
    try:
        return _a_labels(name)
    except _Unreadable as problem:
        raise NotOurDomainError(name, problem.reason, problem.position) from None


def _utf8_text(char: str) -> bool:
    # RFC 6531 3.3: UTF-8 in addresses, but not controls, separators or lone surrogates
    # (a byte that was not UTF-8, kept by surrogateescape).
    return not char.isascii() and unicodedata.category(char)[0] not in "CZ"


def _name(char: str) -> str:
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"


# -- replies ----------------------------------------------------------------------------------


def _unreadable(problem: _Unreadable) -> Refuse:
    return Refuse(SYNTAX_REPLY, str(problem))


def _relay_denied(written: str, reason: str) -> Refuse:
    return Refuse(Reply(554, "5.7.1", f"<{written}>: Relay access denied"), reason)


__all__ = [
    "POSTMASTER",
    "SYNTAX_REPLY",
    "Accept",
    "NotOurDomainError",
    "Refuse",
    "check_recipient",
    "our_domain",
    "recipient_policy",
]
