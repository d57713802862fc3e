"""RFC 5322 productions as hypothesis strategies, named after the ABNF they follow.

Two kinds of strategy live here, side by side as the RFC's productions do:

- *wire* strategies draw the text of a production as it appears in a header (``atom()``,
  ``quoted_string()``, ``comment()``, ``cfws()``...), sometimes paired with the value a reader
  must find in it (``address_list_wire()`` gives ``(text, addresses)``);
- *value* strategies draw the typed values of :mod:`stack.mime.fields` (``mailboxes()``,
  ``date_times()``, ``message_ids()``...), for ``decode(encode(v)) == v``.

Hold RFC 5322 beside this file: section numbers are given at each production.
"""

from __future__ import annotations

import calendar
import string
from typing import Literal

from hypothesis import strategies as st

from stack.mime.fields import DateTime, Group, Mailbox, MessageId

# -- 3.2.1 quoted characters, 3.2.2 white space and comments --------------------------------

#: RFC 5322 3.2.3 atext (ASCII; RFC 6532 widens it to UTF-8, see ``utf8_atext``).
ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
#: RFC 5322 3.2.4 qtext: printable ASCII except backslash and double quote.
QTEXT = "".join(chr(c) for c in range(33, 127) if chr(c) not in '\\"')
#: RFC 5322 3.2.2 ctext: printable ASCII except parentheses and backslash.
CTEXT = "".join(chr(c) for c in range(33, 127) if chr(c) not in "()\\")
#: RFC 5322 3.4.1 dtext: printable ASCII except brackets and backslash.
DTEXT = "".join(chr(c) for c in range(33, 127) if chr(c) not in "[]\\")
VCHAR = "".join(chr(c) for c in range(33, 127))
#: Unicode categories that are not text: surrogates (lone ones are 8-bit bytes in disguise)
#: and control characters.
NOT_TEXT: tuple[Literal["Cs", "Cc"], ...] = ("Cs", "Cc")
NO_SURROGATES: tuple[Literal["Cs"], ...] = ("Cs",)


def wsp() -> st.SearchStrategy[str]:
    """WSP: one space or horizontal tab."""
    return st.sampled_from([" ", "\t"])


def fws() -> st.SearchStrategy[str]:
    """FWS (3.2.2), unfolded: a run of white space (a fold is only a CRLF before it)."""
    return st.text(alphabet=" \t", min_size=1, max_size=3)


def quoted_pair() -> st.SearchStrategy[str]:
    """quoted-pair (3.2.1): a backslash and the VCHAR or WSP it quotes."""
    return st.sampled_from(VCHAR + " \t").map(lambda c: "\\" + c)


@st.composite
def comment(draw: st.DrawFn, max_depth: int = 3) -> str:
    """comment (3.2.2): ``(`` ccontent ``)``, with nested comments up to ``max_depth``."""
    pieces = [st.text(alphabet=CTEXT, min_size=1, max_size=8), quoted_pair(), fws()]
    if max_depth > 0:
        pieces.append(comment(max_depth=max_depth - 1))
    return "(" + "".join(draw(st.lists(st.one_of(pieces), max_size=4))) + ")"


def cfws() -> st.SearchStrategy[str]:
    """CFWS (3.2.2): white space and comments, at least one of them."""
    return st.lists(st.one_of(fws(), comment()), min_size=1, max_size=3).map("".join)


def optional_cfws() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), st.just(" "), cfws())


# -- 3.2.3 atoms ----------------------------------------------------------------------------


def atom_text() -> st.SearchStrategy[str]:
    """1*atext."""
    return st.text(alphabet=ATEXT, min_size=1, max_size=12)


def dot_atom_text() -> st.SearchStrategy[str]:
    """dot-atom-text (3.2.3): atext runs joined by single dots."""
    return st.lists(atom_text(), min_size=1, max_size=4).map(".".join)


def utf8_atext() -> st.SearchStrategy[str]:
    """RFC 6532 3.2: atext widened to non-ASCII UTF-8 (no surrogates, no controls)."""
    return st.text(
        alphabet=st.characters(
            min_codepoint=0xA0, exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")
        ),
        min_size=1,
        max_size=6,
    )


# -- 3.2.4 quoted strings -------------------------------------------------------------------


@st.composite
def quoted_string(draw: st.DrawFn) -> tuple[str, str]:
    """quoted-string (3.2.4) as ``(wire, value)``: qtext, quoted-pairs and inner white space."""
    wire: list[str] = []
    value: list[str] = []
    for kind in draw(st.lists(st.sampled_from(["qtext", "pair", "wsp"]), max_size=8)):
        if kind == "qtext":
            text = draw(st.text(alphabet=QTEXT, min_size=1, max_size=6))
            wire.append(text)
            value.append(text)
        elif kind == "pair":
            char = draw(st.sampled_from(VCHAR + " \t"))
            wire.append("\\" + char)
            value.append(char)
        else:
            space = draw(st.sampled_from([" ", "\t"]))
            wire.append(space)
            value.append(space)
    return '"' + "".join(wire) + '"', "".join(value)


# -- 3.2.5 miscellaneous tokens -------------------------------------------------------------


def unstructured_values() -> st.SearchStrategy[str]:
    """Values of unstructured fields (3.2.5) after RFC 2047 decoding: any text at all,
    control characters and runs of white space included, for the encoder to make safe."""
    return st.one_of(
        st.text(alphabet=VCHAR + " ", max_size=40).map(lambda s: " ".join(s.split())),
        st.text(max_size=30, alphabet=st.characters(exclude_categories=NO_SURROGATES)),
        st.text(alphabet="ab \t\r\n=?_", max_size=20),
    )


def raw_values() -> st.SearchStrategy[str]:
    """Values of fields carried as written (Received:, DKIM-Signature:): printable ASCII
    words separated by single spaces."""
    return st.lists(st.text(alphabet=VCHAR, min_size=1, max_size=20), min_size=1, max_size=8).map(
        " ".join
    )


# -- 3.3 date and time ----------------------------------------------------------------------


@st.composite
def date_times(draw: st.DrawFn) -> DateTime:
    """date-time (3.3): a valid calendar date, seconds optional, a zone or ``-0000``."""
    year = draw(st.integers(1900, 2099))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, calendar.monthrange(year, month)[1]))
    second = draw(st.one_of(st.none(), st.integers(0, 59)))
    zone = draw(st.one_of(st.none(), st.integers(-(23 * 60 + 59), 23 * 60 + 59)))
    return DateTime(
        year, month, day, draw(st.integers(0, 23)), draw(st.integers(0, 59)), second, zone
    )


# -- 3.4 addresses --------------------------------------------------------------------------


def local_parts() -> st.SearchStrategy[str]:
    """local-part (3.4.1) values: dot-atoms, and strings that need quoting."""
    return st.one_of(
        dot_atom_text(),
        st.text(alphabet=QTEXT + ' \\"', min_size=1, max_size=12),
        utf8_atext(),
    )


def domains() -> st.SearchStrategy[str]:
    """domain (3.4.1): dot-atom names and domain literals, IPv4 and IPv6."""
    ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: "[" + ".".join(map(str, t)) + "]")
    ipv6 = st.ip_addresses(v=6).map(lambda ip: f"[IPv6:{ip}]")
    names = st.lists(
        st.text(
            alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=10
        ).filter(lambda label: not label.startswith("-") and not label.endswith("-")),
        min_size=1,
        max_size=4,
    ).map(".".join)
    return st.one_of(names, dot_atom_text(), ipv4, ipv6)


def display_names() -> st.SearchStrategy[str | None]:
    """display-name (3.4) values after decoding: absent, empty, plain, needing quotes
    (commas, ``@``, angle brackets), or non-ASCII (encoded-words)."""
    return st.one_of(
        st.none(),
        st.just(""),
        st.lists(atom_text(), min_size=1, max_size=3).map(" ".join),
        st.text(alphabet=VCHAR + " ", min_size=1, max_size=20).map(lambda s: " ".join(s.split())),
        st.text(max_size=12, alphabet=st.characters(exclude_categories=NOT_TEXT)),
    )


@st.composite
def mailboxes(draw: st.DrawFn) -> Mailbox:
    """mailbox (3.4): ``name-addr`` or ``addr-spec``."""
    return Mailbox(draw(display_names()), draw(local_parts()), draw(domains()))


@st.composite
def groups(draw: st.DrawFn) -> Group:
    """group (3.4): a display name and a possibly empty mailbox list."""
    name = draw(st.lists(atom_text(), min_size=1, max_size=2).map(" ".join))
    return Group(name, tuple(draw(st.lists(mailboxes(), max_size=3))))


def address_lists() -> st.SearchStrategy[tuple[Mailbox | Group, ...]]:
    """address-list (3.4): one or more mailboxes and groups."""
    return st.lists(st.one_of(mailboxes(), mailboxes(), groups()), min_size=1, max_size=4).map(
        tuple
    )


def mailbox_lists() -> st.SearchStrategy[tuple[Mailbox, ...]]:
    return st.lists(mailboxes(), min_size=1, max_size=4).map(tuple)


@st.composite
def address_list_wire(draw: st.DrawFn) -> tuple[str, tuple[Mailbox, ...]]:
    """An address list as a sender might write it, with the mailboxes a reader must find:
    comments and white space around every token, quoted display names and local parts."""
    wire: list[str] = []
    values: list[Mailbox] = []
    for _ in range(draw(st.integers(1, 3))):
        local = draw(dot_atom_text())
        domain = draw(dot_atom_text())
        around = draw(optional_cfws())
        if draw(st.booleans()):
            quoted, name = draw(quoted_string())
            wire.append(f"{around}{quoted} <{local}@{domain}>{draw(optional_cfws())}")
            values.append(Mailbox(name, local, domain))
        else:
            wire.append(f"{around}{local}@{domain}{draw(optional_cfws())}")
            values.append(Mailbox(None, local, domain))
    return ",".join(wire), tuple(values)


# -- 3.6.4 identification -------------------------------------------------------------------


@st.composite
def message_ids(draw: st.DrawFn) -> MessageId:
    """msg-id (3.6.4): ``<id-left@id-right>``, id-right a dot-atom or a no-fold-literal."""
    right = draw(
        st.one_of(
            dot_atom_text(),
            st.text(alphabet=DTEXT, max_size=10).map(lambda s: f"[{s}]"),
        )
    )
    return MessageId(draw(dot_atom_text()), right)


def message_id_lists() -> st.SearchStrategy[tuple[MessageId, ...]]:
    return st.lists(message_ids(), min_size=1, max_size=4).map(tuple)
