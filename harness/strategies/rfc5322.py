"""RFC 5322 (and RFC 6532, RFC 2047 in headers) as hypothesis strategies.

Two kinds of strategy live here, side by side as the RFC's productions do:

- *wire* strategies (``*_wire``) draw a production as a sender writes it, with comments,
  folding white space, quoted-pairs, encoded-words and obsolete syntax, paired with the value
  a conformant reader must find in it: ``(text, value)``.  They come from the one grammar in
  :mod:`harness.strategies.grammar.rfc5322`, which also writes the corpora;
- *value* strategies draw the typed values of :mod:`stack.mime.fields` (``mailboxes()``,
  ``date_times()``, ``message_ids()``...) for ``decode(encode(v)) == v``: every value the wire
  grammar can write, plus values no sender writes literally (control characters, any Unicode)
  that an encoder must still make safe.

Hold RFC 5322 beside this file: section numbers are given at each production.
"""

from __future__ import annotations

from typing import Literal

from hypothesis import strategies as st

from harness.strategies.grammar import rfc5322 as grammar
from harness.strategies.grammar.rfc5322 import (
    ATEXT,
    CTEXT,
    DTEXT,
    QTEXT,
    VCHAR,
)
from harness.strategies.source import strategy
from stack.mime.fields import DateTime, Group, Mailbox, MessageId

__all__ = [
    "ATEXT",
    "CTEXT",
    "DTEXT",
    "QTEXT",
    "VCHAR",
    "address_list_wire",
    "address_lists",
    "atom_text",
    "cfws",
    "comment",
    "date_time_wire",
    "date_times",
    "display_names",
    "domain_literals",
    "domain_wire",
    "domains",
    "dot_atom_text",
    "fws",
    "groups",
    "local_part_wire",
    "local_parts",
    "mailbox_lists",
    "mailbox_wire",
    "mailboxes",
    "message_id_lists",
    "message_ids",
    "msg_id_list_wire",
    "msg_id_wire",
    "optional_cfws",
    "phrase_wire",
    "quoted_pair",
    "quoted_string",
    "raw_values",
    "unstructured_values",
    "unstructured_wire",
    "utf8_atext",
    "wsp",
]

#: Unicode categories that are not text: surrogates (lone ones are 8-bit bytes in disguise)
#: and control characters.
NOT_TEXT: tuple[Literal["Cs", "Cc"], ...] = ("Cs", "Cc")
NO_SURROGATES: tuple[Literal["Cs"], ...] = ("Cs",)

Wire = tuple[str, str]

# -- 3.2.1 quoted characters, 3.2.2 white space and comments --------------------------------


def wsp() -> st.SearchStrategy[str]:
    """WSP: one space or horizontal tab."""
    return strategy(grammar.wsp)


def fws() -> st.SearchStrategy[str]:
    """FWS (3.2.2), unfolded: a run of white space (a fold is only a CRLF before it)."""
    return strategy(grammar.fws)


def quoted_pair() -> st.SearchStrategy[str]:
    """quoted-pair (3.2.1): a backslash and the VCHAR or WSP it quotes."""
    return strategy(grammar.quoted_pair).map(lambda written: written.text)


def comment(max_depth: int = 3) -> st.SearchStrategy[str]:
    """comment (3.2.2): ``(`` ccontent ``)``, with nested comments up to ``max_depth``."""
    return strategy(grammar.comment, max_depth)


def cfws() -> st.SearchStrategy[str]:
    """CFWS (3.2.2): white space and comments, at least one of them."""
    return strategy(grammar.cfws)


def optional_cfws() -> st.SearchStrategy[str]:
    """[CFWS]: nothing, a space, or comments and white space."""
    return strategy(grammar.optional_cfws)


# -- 3.2.3 atoms, 3.2.4 quoted strings, 3.2.5 phrases and unstructured text -----------------


def atom_text() -> st.SearchStrategy[str]:
    """1*atext (3.2.3)."""
    return strategy(grammar.atom_text)


def dot_atom_text() -> st.SearchStrategy[str]:
    """dot-atom-text (3.2.3): atext runs joined by single dots."""
    return strategy(grammar.dot_atom_text)


def utf8_atext() -> st.SearchStrategy[str]:
    """RFC 6532 3.2: atext widened to non-ASCII UTF-8."""
    return strategy(grammar.atom_text, utf8=True)


def quoted_string() -> st.SearchStrategy[Wire]:
    """quoted-string (3.2.4) as ``(wire, value)``: qtext, quoted-pairs and inner white space."""
    return strategy(grammar.quoted_string).map(tuple)  # type: ignore[arg-type]


def phrase_wire() -> st.SearchStrategy[Wire]:
    """phrase (3.2.5) and obs-phrase (4.1) as ``(wire, display name)``: atoms, quoted-strings,
    RFC 2047 encoded-words (B and Q, many charsets), RFC 6532 UTF-8, comments, ``.``."""
    return strategy(grammar.phrase).map(tuple)  # type: ignore[arg-type]


def unstructured_wire() -> st.SearchStrategy[Wire]:
    """unstructured (3.2.5) as ``(wire, value)``: plain words, RFC 2047 encoded-words in
    several charsets, RFC 6532 UTF-8; encoded-words may carry control characters."""
    return strategy(grammar.unstructured).map(tuple)  # type: ignore[arg-type]


def unstructured_values() -> st.SearchStrategy[str]:
    """Values of unstructured fields (3.2.5) after RFC 2047 decoding: everything the wire
    grammar writes, and any text at all (control characters, runs of white space, CR and LF)
    for an encoder to make safe."""
    return st.one_of(
        unstructured_wire().map(lambda wire: wire[1]),
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


def date_time_wire() -> st.SearchStrategy[tuple[str, DateTime]]:
    """date-time (3.3, obs-date-time 4.3) as ``(wire, value)``: with and without day of week
    and seconds, 1- and 2-digit days, 2-, 3- and 4-digit years, numeric zones, ``-0000``,
    the obsolete names (UT, GMT, EST... PDT) and military letters, comments between tokens."""
    return strategy(grammar.date_time).map(tuple)  # type: ignore[arg-type]


def date_times() -> st.SearchStrategy[DateTime]:
    """date-time (3.3) values: a valid calendar date, seconds optional, a zone or ``-0000``."""
    return date_time_wire().map(lambda wire: wire[1])


# -- 3.4 addresses --------------------------------------------------------------------------


def local_part_wire() -> st.SearchStrategy[Wire]:
    """local-part (3.4.1) as ``(wire, value)``: dot-atom, quoted-string, obs-local-part,
    RFC 6532 UTF-8."""
    return strategy(grammar.local_part).map(tuple)  # type: ignore[arg-type]


def local_parts() -> st.SearchStrategy[str]:
    """local-part (3.4.1) values: dot-atoms, strings that need quoting, UTF-8."""
    return st.one_of(
        local_part_wire().map(lambda wire: wire[1]),
        st.text(alphabet=QTEXT + ' \\"', min_size=1, max_size=12),
    )


def domain_literals() -> st.SearchStrategy[str]:
    """domain-literal (3.4.1): IPv4, ``IPv6:`` (RFC 5321 4.1.3, compressed or not) and
    general literals."""
    return strategy(grammar.domain_literal)


def domain_wire() -> st.SearchStrategy[Wire]:
    """domain (3.4.1) as ``(wire, value)``: host names, other dot-atoms, U-labels, domain
    literals and obs-domain (CFWS around the dots)."""
    return strategy(grammar.domain).map(tuple)  # type: ignore[arg-type]


def domains() -> st.SearchStrategy[str]:
    """domain (3.4.1) values: dot-atom names and domain literals, IPv4 and IPv6."""
    return domain_wire().map(lambda wire: wire[1])


def display_names() -> st.SearchStrategy[str | None]:
    """display-name (3.4) values after decoding: absent, empty, plain, needing quotes
    (commas, ``@``, angle brackets), or non-ASCII (encoded-words)."""
    return st.one_of(
        st.none(),
        st.just(""),
        phrase_wire().map(lambda wire: wire[1]),
        st.text(alphabet=VCHAR + " ", min_size=1, max_size=20).map(lambda s: " ".join(s.split())),
        st.text(max_size=12, alphabet=st.characters(exclude_categories=NOT_TEXT)),
    )


def mailbox_wire() -> st.SearchStrategy[tuple[str, Mailbox]]:
    """mailbox (3.4) as ``(wire, value)``: name-addr (with or without a name, obs-route
    included) or addr-spec, CFWS around."""
    return strategy(grammar.mailbox).map(tuple)  # type: ignore[arg-type]


@st.composite
def mailboxes(draw: st.DrawFn) -> Mailbox:
    """mailbox (3.4) values: the wire grammar's, and any display name over any address."""
    if draw(st.booleans()):
        return draw(mailbox_wire())[1]
    return Mailbox(draw(display_names()), draw(local_parts()), draw(domains()))


@st.composite
def groups(draw: st.DrawFn) -> Group:
    """group (3.4) values: a display name and a possibly empty mailbox list."""
    name = draw(phrase_wire())[1]
    return Group(name, tuple(draw(st.lists(mailboxes(), max_size=3))))


def address_list_wire() -> st.SearchStrategy[tuple[str, tuple[Mailbox | Group, ...]]]:
    """address-list (3.4, obs-addr-list 4.4) as ``(wire, addresses)``: mailboxes and groups
    (empty ones too) with comments and white space around every token, quoted and encoded
    display names, obsolete empty elements."""
    return strategy(grammar.address_list).map(tuple)  # type: ignore[arg-type]


def address_lists() -> st.SearchStrategy[tuple[Mailbox | Group, ...]]:
    """address-list (3.4) values: one or more mailboxes and groups."""
    return st.lists(st.one_of(mailboxes(), mailboxes(), groups()), min_size=1, max_size=4).map(
        tuple
    )


def mailbox_lists() -> st.SearchStrategy[tuple[Mailbox, ...]]:
    """mailbox-list (3.4) values."""
    return st.lists(mailboxes(), min_size=1, max_size=4).map(tuple)


# -- 3.6.4 identification -------------------------------------------------------------------


def msg_id_wire() -> st.SearchStrategy[tuple[str, MessageId]]:
    """msg-id (3.6.4) as ``(wire, value)``: dot-atom or quoted (obs-id-left) id-left;
    dot-atom, no-fold-literal or obs-id-right id-right; CFWS around."""
    return strategy(grammar.msg_id).map(tuple)  # type: ignore[arg-type]


def msg_id_list_wire() -> st.SearchStrategy[tuple[str, tuple[MessageId, ...]]]:
    """1*msg-id (In-Reply-To, References) as ``(wire, value)``, separated or touching."""
    return strategy(grammar.msg_id_list).map(tuple)  # type: ignore[arg-type]


def message_ids() -> st.SearchStrategy[MessageId]:
    """msg-id (3.6.4) values: ``<id-left@id-right>``."""
    return msg_id_wire().map(lambda wire: wire[1])


def message_id_lists() -> st.SearchStrategy[tuple[MessageId, ...]]:
    """Lists of msg-id values (In-Reply-To, References)."""
    return msg_id_list_wire().map(lambda wire: wire[1])
