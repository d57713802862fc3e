"""Addresses: RFC 5322 §3.4 mailboxes and groups, the §4.4 obsolete forms, RFC 6532 UTF-8.

The values are semantic, not textual: a :class:`Mailbox` holds its display name decoded
(quoted-strings unquoted, encoded-words decoded, comments gone), its local-part unquoted and
its domain as written (case kept; domain literals keep their brackets).  The encoder writes
the one canonical form of such a value, so that it reads back as the same value.

Security properties, each pinned by a test:

* A comment is never an address.  ``alice@example.org(<bob@example.org>`` is alice plus an
  unterminated comment, never bob (CVE-2023-27043).
* A display name is written bare only if every word is atext; anything else is quoted or
  encoded, so a ``,`` or ``@`` in a name can never split or change the address (gh-80222,
  gh-121284).  Encoded-words inside a quoted-string are not decoded (RFC 2047 §5(3)), so a
  quoted name that merely looks encoded stays what it is.
* What RFC 5322 reads as an address stays one.  An encoded-word with a ``.`` or ``@`` in a
  display name (``=?utf-8?q?J._Doe?=``, a producer bug) is read whole only where nothing but
  a display name can stand, so an addr-spec whose local-part begins with ``=?`` is never
  taken for a name (found by the mime_check fuzzer).
* Empty list elements, a trailing comma and a comment-only display name are defects, not
  crashes.

Recovery in lenient mode: an element that cannot be read at all is reported as
``invalid-address`` and skipped up to the next top-level comma; the rest of the list is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.encoded_word import decode_encoded_words, encode_phrase
from stack.mime.fields.lexer import (
    ATEXT_CLASS,
    PLAIN_QTEXT,
    check_text,
    is_domain_literal,
    is_dot_atom_text,
    is_quotable,
    is_text,
    quote_string,
    read_atom,
    read_domain_literal,
    read_dotted,
    read_quoted_string,
    recover,
    report,
    skip_cfws,
    skip_run,
    skip_wsp,
)

__all__ = [
    "Address",
    "Group",
    "Mailbox",
    "decode_address_list",
    "decode_mailbox",
    "decode_mailbox_list",
    "encode_address",
    "encode_address_list",
    "encode_mailbox",
    "encode_mailbox_list",
]


def _encode_local(local: str) -> str:
    if is_dot_atom_text(local) and is_text(local):
        return local
    if is_quotable(local):
        return quote_string(local)
    raise EncodeError(f"local-part {local!r} holds characters mail cannot carry")


def _encode_domain(domain: str) -> str:
    if not is_text(domain):
        raise EncodeError(f"domain {domain!r} holds undecodable bytes")
    if is_dot_atom_text(domain) or is_domain_literal(domain):
        return domain
    raise EncodeError(f"domain {domain!r} is neither a dot-atom nor a domain literal")


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One mailbox (RFC 5322 §3.4): an optional display name and an addr-spec.

    ``name`` is ``None`` when there is no display name at all and ``""`` for an explicit
    empty one (``"" <a@b>``), so the two read back distinctly.
    """

    name: str | None
    local: str
    domain: str

    @property
    def addr_spec(self) -> str:
        """``local@domain`` as it is written on the wire, the local-part quoted if needed."""
        return f"{_encode_local(self.local)}@{_encode_domain(self.domain)}"


@dataclass(frozen=True, slots=True)
class Group:
    """A named group of mailboxes (RFC 5322 §3.4), possibly empty (``undisclosed:;``)."""

    name: str
    members: tuple[Mailbox, ...]


Address = Mailbox | Group


# The shapes nearly every real mailbox has, read by one possessive (non-backtracking) match:
# ``local@domain``, ``Some Name <local@domain>``, ``"Some Name" <local@domain>``, with plain
# white space only.  Anything else (comments, quoted-pairs, dots in names, encoded-words,
# domain literals) takes the general path, which gives the same value for these shapes.
_ATOM = f"{ATEXT_CLASS}++"
_DOT_ATOM = f"{_ATOM}(?:\\.{_ATOM})*+"
_FAST_MAILBOX = re.compile(
    f'(?:(?P<atoms>{_ATOM}(?:[ \\t]++{_ATOM})*+)[ \\t]*+|"(?P<quoted>{PLAIN_QTEXT})"[ \\t]*+)?'
    f"<(?P<local>{_DOT_ATOM})@(?P<domain>{_DOT_ATOM})>[ \\t]*+"
    f"|(?P<bare_local>{_DOT_ATOM})@(?P<bare_domain>{_DOT_ATOM})[ \\t]*+"
)
_WSP_RUN = re.compile(r"[ \t]+")

# RFC 2047 §5(3) admits an encoded-word in a phrase only as a whole atom.  Producers that
# Q-encode a name by the looser rule for unstructured text (§4.2) leave its '.' (an initial)
# or '@' (a name that is an address) as it is, and such a word is read whole; but it holds
# no other special.  '(', '"', '[' and '<' open a comment, a quoted-string, a domain literal
# or an angle-addr, and ',', ';' and ':' end an address or a group: RFC 5322 reads each of
# them before any encoded-word, so the word must stop short of them.
_NOT_IN_LOOSE_WORD = r'?\s()<>\[\]:;,\\"'
_LOOSE_ENCODED_WORD = re.compile(
    f"=\\?([^{_NOT_IN_LOOSE_WORD}*]+)(?:\\*[^{_NOT_IN_LOOSE_WORD}]*)?"
    f"\\?([QqBb])\\?([^{_NOT_IN_LOOSE_WORD}]*)\\?="
)


def _fast_mailbox(text: str, pos: int, stops: str) -> tuple[Mailbox, int] | None:
    """The mailbox at ``pos`` if it has one of the common shapes and ends the element."""
    match = _FAST_MAILBOX.match(text, pos)
    if match is None:
        return None
    end = match.end()
    if (end < len(text) and text[end] not in stops) or "=?" in match.group():
        return None
    local = match["local"]
    if local is None:
        return Mailbox(None, match["bare_local"], match["bare_domain"]), end
    atoms = match["atoms"]
    name = _WSP_RUN.sub(" ", atoms) if atoms is not None else match["quoted"]
    return Mailbox(name, local, match["domain"]), end


class _Word(NamedTuple):
    """One word of a phrase or local-part, with what is needed to rebuild either."""

    kind: Literal["atom", "quoted", "dot"]
    value: str  # unquoted for "quoted", as written for the others
    start: int
    spaced: bool  # whether CFWS came before it


def _read_words(text: str, pos: int, defects: list[Defect] | None) -> tuple[list[_Word], int]:
    """Read phrase-like words (RFC 5322 §3.2.5, obs-phrase §4.1) up to the first special."""
    words: list[_Word] = []
    end = len(text)
    names: dict[int, bool] = {}
    while True:
        before = pos
        pos = skip_cfws(text, pos, defects)
        if pos >= end:
            return words, pos
        spaced = pos != before
        char = text[pos]
        start = pos
        if char == '"':
            value, pos = read_quoted_string(text, pos, defects)
            words.append(_Word("quoted", value, start, spaced))
        elif char == ".":
            pos += 1
            words.append(_Word("dot", ".", start, spaced))
        else:
            atom, pos = read_atom(text, pos)
            if not atom:
                return words, start
            if atom.startswith("=?"):
                # An encoded-word whose text holds specials (``=?utf-8?q?J._Doe?=``) is a
                # producer bug common enough to read: take the whole word, and say so.  Only
                # in a display name, so that an addr-spec like ``=?x?q?a@b?=`` (or
                # ``=?x?q?a@b?==?y``) keeps its meaning.
                match = _LOOSE_ENCODED_WORD.match(text, start)
                if match and match.end() > pos and _before_angle_addr(text, match.end(), names):
                    report(defects, "encoded-word-with-specials", start, "specials in a phrase")
                    atom, pos = match.group(), match.end()
            words.append(_Word("atom", atom, start, spaced))


def _before_angle_addr(text: str, pos: int, known: dict[int, bool]) -> bool:
    """Whether an angle-addr follows ``pos``, after CFWS and any number of encoded-words.

    Only then are the words before it a display name: '@' follows a local-part, and ',',
    ';' or the end follow an addr-spec.  ``known`` keeps the answer for each encoded-word
    passed on the way, which the caller reads next, so that a name of n such words is
    looked through once, not n times.
    """
    passed: list[int] = []
    while True:
        pos = skip_cfws(text, pos, [])
        answer = known.get(pos)
        if answer is not None:
            break
        if text.startswith("<", pos):
            answer = True
            break
        match = _LOOSE_ENCODED_WORD.match(text, pos)
        if match is None:
            answer = False
            break
        passed.append(pos)
        pos = match.end()
    known.update(dict.fromkeys(passed, answer))
    return answer


def _phrase(words: list[_Word], defects: list[Defect] | None) -> str:
    """The display name a list of phrase words stands for.

    Words separated by CFWS are joined with one space, words that touch are joined as they
    are, and adjacent encoded-words lose the space between them (RFC 2047 §6.2).
    """
    pieces: list[str] = []
    previous_encoded = False
    for index, word in enumerate(words):
        if word.kind == "dot":
            report(defects, "obs-phrase", word.start, "'.' in a display name")
        decoded = None
        if word.kind == "atom":
            decoded = decode_encoded_words(word.value, defects, word.start)
        if index and word.spaced and not (decoded is not None and previous_encoded):
            pieces.append(" ")
        pieces.append(word.value if decoded is None else decoded)
        previous_encoded = decoded is not None
    return "".join(pieces)


def _local_part(words: list[_Word], at: int, defects: list[Defect] | None) -> str:
    """The semantic local-part (RFC 5322 §3.4.1; obs-local-part §4.4) from its words."""
    if not words:
        raise ParseError("empty local-part", at)
    for index, word in enumerate(words):
        if (word.kind == "dot") != (index % 2 == 1):
            raise ParseError("misplaced '.' in local-part", word.start)
    if len(words) % 2 == 0:
        raise ParseError("local-part ends with '.'", words[-1].start)
    obsolete = any(word.spaced for word in words[1:]) or (
        len(words) > 1 and any(word.kind == "quoted" for word in words)
    )
    if obsolete:
        report(defects, "obs-local-part", words[0].start, "CFWS or quoted words around '.'")
    return "".join(word.value for word in words)


def _domain(text: str, pos: int, defects: list[Defect] | None) -> tuple[str, int]:
    """Read a domain (RFC 5322 §3.4.1; obs-domain §4.4) at ``pos``, after any CFWS."""
    pos = skip_cfws(text, pos, defects)
    if text.startswith("[", pos):
        literal, pos = read_domain_literal(text, pos, defects)
        return literal, skip_cfws(text, pos, defects)
    return read_dotted(text, pos, defects, "obs-domain", "a domain")


def _skip_route(text: str, pos: int, defects: list[Defect] | None) -> int:
    """Skip an obs-route (RFC 5322 §4.4) ``@a,@b:`` that starts at ``pos``."""
    report(defects, "obs-route", pos, "source route dropped")
    while True:
        pos = skip_cfws(text, pos, defects)
        if text.startswith(",", pos):
            pos += 1
            continue
        if not text.startswith("@", pos):
            break
        _, pos = _domain(text, pos + 1, defects)
    if not text.startswith(":", pos):
        raise ParseError("obs-route without ':'", pos)
    return pos + 1


def _angle_addr(
    text: str, pos: int, name: str | None, defects: list[Defect] | None
) -> tuple[Mailbox, int]:
    """Read an angle-addr (RFC 5322 §3.4; obs-angle-addr §4.4) whose ``<`` is at ``pos``."""
    pos = skip_cfws(text, pos + 1, defects)
    if text.startswith("@", pos):
        pos = _skip_route(text, pos, defects)
    words, pos = _read_words(text, pos, defects)
    if not text.startswith("@", pos):
        raise ParseError("expected '@' in angle-addr", pos)
    local = _local_part(words, pos, defects)
    domain, pos = _domain(text, pos + 1, defects)
    if text.startswith(">", pos):
        pos += 1
    else:
        report(defects, "missing-angle-bracket", pos, "angle-addr is not closed by '>'")
    return Mailbox(name, local, domain), skip_cfws(text, pos, defects)


def _mailbox_after_words(
    text: str, pos: int, words: list[_Word], defects: list[Defect] | None
) -> tuple[Mailbox, int]:
    """Finish a mailbox whose leading words have been read and that stops at ``pos``."""
    if text.startswith("<", pos):
        name = _phrase(words, defects) if words else None
        return _angle_addr(text, pos, name, defects)
    if text.startswith("@", pos):
        local = _local_part(words, pos, defects)
        domain, pos = _domain(text, pos + 1, defects)
        return Mailbox(None, local, domain), pos
    if not words:
        raise ParseError("expected an address", pos)
    raise ParseError("expected '@' or '<' after the words of an address", pos)


def _mailbox(text: str, pos: int, defects: list[Defect] | None) -> tuple[Mailbox, int]:
    words, pos = _read_words(text, pos, defects)
    return _mailbox_after_words(text, pos, words, defects)


def _members(
    text: str, pos: int, stops: str, defects: list[Defect] | None, *, groups: bool
) -> tuple[list[Address], int]:
    """Read a comma-separated list of addresses (or mailboxes) up to a stop character.

    Empty elements and a trailing comma are obs-addr-list / obs-mbox-list (RFC 5322 §4.4):
    reported, then ignored.
    """
    found: list[Address] = []
    end = len(text)
    expect_element = True
    # Named after the productions so that strict mode knows them for obsolete syntax.
    obsolete = "obs-addr-list" if groups else "obs-mbox-list"
    while True:
        pos = skip_cfws(text, pos, defects)
        if pos >= end or text[pos] in stops:
            if found and expect_element:
                report(defects, obsolete, pos, "list ends with ','")
            return found, pos
        if text[pos] == ",":
            # One defect for a whole run of empty elements keeps ",,,,"-stuffing cheap.
            report(defects, obsolete, pos, "empty element in a list")
            pos = skip_run(text, pos, ", \t")
            expect_element = True
            continue
        start = pos
        try:
            if not expect_element:
                raise ParseError(f"expected ',' between addresses, found {text[pos]!r}", pos)
            fast = _fast_mailbox(text, pos, "," + stops)
            if fast is not None:
                found.append(fast[0])
                pos = fast[1]
                expect_element = False
                if text.startswith(",", pos):
                    pos += 1
                    expect_element = True
                continue
            words, pos = _read_words(text, pos, defects)
            if groups and text.startswith(":", pos):
                group, pos = _group(text, pos, words, defects)
                found.append(group)
            else:
                mailbox, pos = _mailbox_after_words(text, pos, words, defects)
                found.append(mailbox)
        except ParseError as error:
            resume = max(start, min(error.offset, len(text)))
            pos = recover(error, defects, "invalid-address", text, resume, "," + stops)
        expect_element = False
        if text.startswith(",", pos):
            pos += 1
            expect_element = True


def _group(
    text: str, colon: int, words: list[_Word], defects: list[Defect] | None
) -> tuple[Group, int]:
    """Read a group (RFC 5322 §3.4; obs-group-list §4.4) whose ``:`` is at ``colon``."""
    if not words:
        raise ParseError("group without a display name", colon)
    name = _phrase(words, defects)
    members, pos = _members(text, colon + 1, ";", defects, groups=False)
    if text.startswith(";", pos):
        pos = skip_cfws(text, pos + 1, defects)
    else:
        report(defects, "missing-group-terminator", pos, "group is not closed by ';'")
    mailboxes = tuple(member for member in members if isinstance(member, Mailbox))
    return Group(name, mailboxes), pos


def _whole_list(text: str, defects: list[Defect] | None, *, groups: bool) -> tuple[Address, ...]:
    check_text(text, defects)
    found, pos = _members(text, 0, "", defects, groups=groups)
    if not found:
        report(defects, "empty-address-list", min(pos, len(text)), "no address in the list")
    return tuple(found)


def decode_address_list(text: str, defects: list[Defect] | None = None) -> tuple[Address, ...]:
    """Decode an address-list (RFC 5322 §3.4): To:, Cc:, Bcc:, Reply-To:."""
    return _whole_list(text, defects, groups=True)


def decode_mailbox_list(text: str, defects: list[Defect] | None = None) -> tuple[Mailbox, ...]:
    """Decode a mailbox-list (RFC 5322 §3.4): From:, Resent-From:.  Groups are refused."""
    found = _whole_list(text, defects, groups=False)
    return tuple(address for address in found if isinstance(address, Mailbox))


def decode_mailbox(text: str, defects: list[Defect] | None = None) -> Mailbox:
    """Decode exactly one mailbox (RFC 5322 §3.4): Sender:, Resent-Sender:."""
    check_text(text, defects)
    fast = _fast_mailbox(text, skip_wsp(text, 0), "")
    if fast is not None:
        return fast[0]
    mailbox, pos = _mailbox(text, 0, defects)
    pos = skip_cfws(text, pos, defects)
    if pos < len(text):
        report(defects, "trailing-garbage", pos, f"unexpected {text[pos]!r} after the mailbox")
    return mailbox


def encode_mailbox(mailbox: Mailbox) -> str:
    """Write a mailbox: a bare addr-spec without a name, ``name <addr-spec>`` with one."""
    if mailbox.name is None:
        return mailbox.addr_spec
    return f"{encode_phrase(mailbox.name)} <{mailbox.addr_spec}>"


def encode_address(address: Address) -> str:
    """Write a mailbox or a group (``name: a@b, c@d;``, ``name:;`` when empty)."""
    if isinstance(address, Mailbox):
        return encode_mailbox(address)
    members = ", ".join(encode_mailbox(member) for member in address.members)
    return f"{encode_phrase(address.name)}:{' ' + members if members else ''};"


def encode_address_list(addresses: Sequence[Address]) -> str:
    """Write an address-list; a space follows each comma so the folder may break there.

    An empty list (what the lenient decoder makes of ``To:`` with nothing in it) is written
    as an empty value, which reads back as the same empty list and the same defect.
    """
    return ", ".join(encode_address(address) for address in addresses)


def encode_mailbox_list(mailboxes: Sequence[Mailbox]) -> str:
    """Write a mailbox-list (From:); empty as for :func:`encode_address_list`."""
    return ", ".join(encode_mailbox(mailbox) for mailbox in mailboxes)
