"""RFC 5322 (with RFC 6532 UTF-8 and the section 4 obsolete syntax), production by production.

Every function takes a :class:`~harness.strategies.source.Source` and returns what the
production writes.  Productions that carry meaning return :class:`Written`: the text as it
appears in a header field and the value a conformant reader must find in it (comments gone,
quoted-strings unquoted, encoded-words decoded, obsolete forms normalised).  Pure syntax (white
space, comments) returns only its text.

Hold RFC 5322 beside this file: section numbers are given at each production.  The choices
are ordered simplest first, so a shrunk example is the plainest text that still fails.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
import string
from typing import Generic, NamedTuple, TypeVar

from harness.strategies.grammar.rfc2047 import CHARSETS, NON_ASCII, encoded_words, text_in
from harness.strategies.source import Source, production
from stack.mime.fields import DateTime, Group, Mailbox, MessageId

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Written(NamedTuple, Generic[T_co]):
    """A production as written (``text``) and the value a reader must find in it."""

    text: str
    value: T_co


#: RFC 5322 3.2.3 atext (ASCII; RFC 6532 widens it to UTF-8, see :data:`UTF8_ATEXT`).
ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
#: RFC 5322 3.2.4 qtext: printable ASCII except backslash and double quote.
QTEXT = "".join(chr(c) for c in range(33, 127) if chr(c) not in '\\"')
#: RFC 5322 3.2.2 ctext: printable ASCII except parentheses and backslash.
CTEXT = "".join(chr(c) for c in range(33, 127) if chr(c) not in "()\\")
#: RFC 5322 3.4.1 dtext: printable ASCII except brackets and backslash.
DTEXT = "".join(chr(c) for c in range(33, 127) if chr(c) not in "[]\\")
#: RFC 5234 VCHAR: printable ASCII.
VCHAR = "".join(chr(c) for c in range(33, 127))
#: RFC 6532 3.2: UTF-8 non-ASCII is atext, qtext, ctext and dtext too.
UTF8_ATEXT = "".join(c for c in NON_ASCII if c.isprintable() and not c.isspace())
#: Letters, digits and hyphens: an LDH label (RFC 1034 3.5).
LDH = string.ascii_lowercase + string.digits

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: RFC 5322 4.3 obs-zone names and their offsets in minutes.
NAMED_ZONES = (
    ("UT", 0), ("GMT", 0), ("EST", -300), ("EDT", -240), ("CST", -360), ("CDT", -300),
    ("MST", -420), ("MDT", -360), ("PST", -480), ("PDT", -420),
)  # fmt: skip
#: RFC 5322 4.3: military zone letters (every letter but J) mean -0000.
MILITARY_ZONES = "ABCDEFGHIKLMNOPQRSTUVWXYZ"


# -- 3.2.1 quoted characters, 3.2.2 white space and comments --------------------------------


def wsp(source: Source) -> str:
    """WSP: a space or a horizontal tab."""
    return source.choice(" \t")


def fws(source: Source) -> str:
    """FWS (3.2.2) unfolded: a run of white space.  A fold is a CRLF put before one of its
    characters, which :func:`fold` does when the field is written."""
    if source.chance(4):
        return source.text(" \t", 1, 3)
    return " "


def quoted_pair(source: Source) -> Written[str]:
    """quoted-pair (3.2.1): a backslash and the VCHAR or WSP it stands for."""
    char = source.choice(VCHAR + " \t")
    return Written("\\" + char, char)


def comment(source: Source, max_depth: int = 3) -> str:
    """comment (3.2.2): ``(`` *([FWS] ccontent) [FWS] ``)``; ccontent is ctext, a
    quoted-pair or a nested comment, down to ``max_depth`` levels."""
    # The hottest productions mark themselves inline: a decorator's frame costs more here.
    source.seen["rfc5322:comment"] = None
    pieces = []
    for _ in range(source.repeat(0, 4)):
        kind = source.integer(0, 3 if max_depth > 0 else 2)
        if kind == 0:
            pieces.append(source.text(CTEXT, 1, 8))
        elif kind == 1:
            pieces.append(fws(source))
        elif kind == 2:
            pieces.append(quoted_pair(source).text)
        else:
            source.mark("rfc5322:nested-comment")
            pieces.append(comment(source, max_depth - 1))
    if source.chance(8):
        source.mark("rfc6532:utf8-ctext")
        pieces.append(source.text(UTF8_ATEXT, 1, 4))
    return "(" + "".join(pieces) + ")"


def cfws(source: Source) -> str:
    """CFWS (3.2.2): comments and white space, at least one of them; a comment is always
    followed or preceded by white space here, so that it never glues two atoms."""
    pieces = []
    for _ in range(source.integer(1, 2)):
        if source.boolean():
            pieces.append(" " + comment(source) + " ")
        else:
            pieces.append(fws(source))
    return "".join(pieces)


def optional_cfws(source: Source) -> str:
    """[CFWS]: mostly nothing, sometimes a space, sometimes comments."""
    kind = source.integer(0, 5)
    if kind <= 2:
        return ""
    if kind <= 4:
        return " "
    return cfws(source)


def separator(source: Source) -> str:
    """CFWS where white space is required (between two words): at least one space."""
    return " " if source.integer(0, 3) else cfws(source)


# -- 3.2.3 atoms ----------------------------------------------------------------------------


def atom_text(source: Source, *, utf8: bool = False) -> str:
    """1*atext (3.2.3), never starting ``=?`` (which a reader may take for an encoded-word);
    with ``utf8``, RFC 6532 UTF-8 atext too."""
    if utf8:
        source.mark("rfc6532:utf8-atext")
        text = source.text(UTF8_ATEXT + "abc", 1, 6)
    else:
        text = source.text(ATEXT, 1, 10)
    return "x" + text if text.startswith("=?") else text


def dot_atom_text(source: Source, *, utf8: bool = False) -> str:
    """dot-atom-text (3.2.3): atext runs joined by single dots."""
    return ".".join(atom_text(source, utf8=utf8) for _ in range(source.repeat(1, 3)))


# -- 3.2.4 quoted strings -------------------------------------------------------------------


def quoted_string(source: Source, value: str | None = None) -> Written[str]:
    """quoted-string (3.2.4): qtext, quoted-pairs and white space, which unfolding keeps.

    With ``value``, write that value (quoting ``"`` and ``\\``, and any other character at
    random); otherwise draw one."""
    source.seen["rfc5322:quoted-string"] = None
    if value is None:
        value = source.text(QTEXT + '  \t\\"', 0, 12)
        if source.chance(8):
            source.mark("rfc6532:utf8-qtext")
            value += source.text(UTF8_ATEXT, 1, 4)
    out = []
    for char in value:
        if char in '"\\' or (char in QTEXT and source.chance(16)):
            source.mark("rfc5322:quoted-pair")
            out.append("\\" + char)
        else:
            out.append(char)
    return Written('"' + "".join(out) + '"', value)


# -- 3.2.5 phrases and unstructured text ----------------------------------------------------


def _phrase_word_text(source: Source) -> str:
    return source.text(string.ascii_letters + string.digits + ".,@<>:;!'", 1, 10)


def phrase(source: Source) -> Written[str]:
    """phrase (3.2.5) and obs-phrase (4.1): words (atoms, quoted-strings, RFC 2047
    encoded-words, RFC 6532 UTF-8 atoms) and, after the first, ``.``.

    The value is the words' values joined by one space where CFWS separates them, joined as
    they are where they touch, and without the space between two adjacent encoded-words
    (RFC 2047 6.2).
    """
    source.seen["rfc5322:phrase"] = None
    words: list[tuple[str, str, str]] = []  # kind, text, value
    for index in range(source.repeat(1, 4)):
        kind = source.choice(["atom", "atom", "quoted", "encoded", "utf8", "dot"])
        if kind == "dot" and index == 0:
            kind = "atom"
        if kind == "atom":
            text = atom_text(source)
            words.append(("atom", text, text))
        elif kind == "quoted":
            written = quoted_string(source)
            words.append(("quoted", written.text, written.value))
        elif kind == "encoded":
            charset, value = _encodable(source)
            encoded = encoded_words(source, value, charset=charset, phrase=True)
            words.append(("encoded", " ".join(encoded), value))
        elif kind == "utf8":
            text = atom_text(source, utf8=True)
            words.append(("atom", text, text))
        else:
            source.mark("rfc5322:obs-phrase")
            words.append(("dot", ".", "."))
    text_parts: list[str] = []
    value_parts: list[str] = []
    previous = ""
    for index, (kind, text, value) in enumerate(words):
        if index:
            # Two atoms (or an atom and an encoded-word) that touch would read as one word.
            touching_ok = "encoded" not in (kind, previous) and not (
                kind == "atom" and previous == "atom"
            )
            if touching_ok and source.chance(3):
                pass
            else:
                text_parts.append(separator(source))
                if not (kind == "encoded" and previous == "encoded"):
                    value_parts.append(" ")
        text_parts.append(text)
        value_parts.append(value)
        previous = kind
    return Written("".join(text_parts), "".join(value_parts))


def _encodable(source: Source) -> tuple[str, str]:
    """Text for an encoded-word, never empty (RFC 2047 2: 1*encoded-text), and a charset
    that holds it."""
    charset = source.choice(CHARSETS)
    return charset, text_in(source, charset, 1, 16)


def unstructured(source: Source) -> Written[str]:
    """unstructured (3.2.5) with RFC 2047 encoded-words and RFC 6532 UTF-8.

    The value is the text with encoded-words decoded, the white space between two adjacent
    encoded-words removed (RFC 2047 6.2), and the leading and trailing white space dropped
    (it is the FWS after the colon, not text).
    """
    source.seen["rfc5322:unstructured"] = None
    text_parts: list[str] = []
    value_parts: list[str] = []
    previous = ""
    for index in range(source.repeat(0, 6)):
        kind = source.choice(["plain", "plain", "encoded", "utf8"])
        if kind == "plain":
            text = source.text(VCHAR, 1, 12).replace("=?", "=!")
            value = text
        elif kind == "utf8":
            source.mark("rfc6532:utf8-unstructured")
            text = value = source.text(UTF8_ATEXT + "ab", 1, 6)
        else:
            charset, value = _encodable(source)
            if source.chance(6):
                # Any character may travel in an encoded-word, controls and all.
                source.mark("rfc2047:encoded-control")
                value += source.choice(["\t", "\r\n", "\x01", "  "]) + "x"
            text = " ".join(encoded_words(source, value, charset=charset))
        if index:
            space = fws(source)
            text_parts.append(space)
            if not (kind == "encoded" and previous == "encoded"):
                value_parts.append(space)
        text_parts.append(text)
        value_parts.append(value)
        previous = kind
    return Written("".join(text_parts), "".join(value_parts))


# -- 3.3 date and time ----------------------------------------------------------------------


def date_time(source: Source) -> Written[DateTime]:
    """date-time (3.3) and obs-date-time (4.3): optional day of week, one- or two-digit day,
    two-, three- or four-digit year, seconds optional, numeric or named zone, CFWS between
    the tokens."""
    source.seen["rfc5322:date-time"] = None
    year = source.integer(1900, 2099)
    month = source.integer(1, 12)
    day = source.integer(1, calendar.monthrange(year, month)[1])
    hour, minute = source.integer(0, 23), source.integer(0, 59)
    second = source.integer(0, 59) if source.integer(0, 3) else None

    def gap() -> str:
        if source.chance(10):
            source.mark("rfc5322:obs-date-cfws")
            return cfws(source)
        return " "

    out = []
    if source.integer(0, 3):
        weekday = DAYS[calendar.weekday(year, month, day)]
        out.append(f"{weekday}," + gap())
    day_text = str(day)
    if day < 10 and source.chance(3):
        day_text = f"0{day}"
    month_text = MONTHS[month - 1]
    if source.chance(8):
        month_text = month_text.upper()
    year_form = source.integer(0, 7)
    if year_form == 0 and 1950 <= year <= 2049:
        source.mark("rfc5322:obs-year-2")
        year_text = f"{year % 100:02d}"
    elif year_form == 1 and year >= 2000:
        source.mark("rfc5322:obs-year-3")
        year_text = str(year - 1900)
    else:
        year_text = str(year)
    out.append(f"{day_text}{gap()}{month_text}{gap()}{year_text}{gap()}")
    out.append(f"{hour:02d}:{minute:02d}" + ("" if second is None else f":{second:02d}"))
    zone_form = source.integer(0, 6)
    zone: int | None
    if zone_form <= 3:
        zone = source.integer(-(23 * 60 + 59), 23 * 60 + 59)
        if zone_form == 3:
            zone = source.choice([0, 60, -300, 330, 345, -570, 840, -720])
        sign = "-" if zone < 0 else "+"
        zone_text = f"{sign}{abs(zone) // 60:02d}{abs(zone) % 60:02d}"
    elif zone_form == 4:
        source.mark("rfc5322:zone-unknown")
        zone, zone_text = None, "-0000"
    elif zone_form == 5:
        source.mark("rfc5322:obs-zone-name")
        zone_text, zone = source.choice(NAMED_ZONES)
    else:
        source.mark("rfc5322:obs-zone-military")
        zone_text, zone = source.choice(MILITARY_ZONES), None
        if source.boolean():
            zone_text = zone_text.lower()
    out.append(" " + zone_text)
    if source.chance(8):
        out.append(" " + comment(source))
    return Written("".join(out), DateTime(year, month, day, hour, minute, second, zone))


# -- 3.4 addresses --------------------------------------------------------------------------


def local_part(source: Source) -> Written[str]:
    """local-part (3.4.1): dot-atom, quoted-string, obs-local-part (4.4: words joined by
    dots with CFWS around them) or RFC 6532 UTF-8."""
    source.seen["rfc5322:local-part"] = None
    form = source.integer(0, 5)
    if form <= 1:
        text = dot_atom_text(source)
        return Written(text, text)
    if form == 2:
        written = quoted_string(source, source.text(QTEXT + ' \\"', 1, 12))
        return Written(written.text, written.value)
    if form == 3:
        source.mark("rfc6532:utf8-local-part")
        text = dot_atom_text(source, utf8=True)
        return Written(text, text)
    if form == 4:
        source.mark("rfc5322:obs-local-part")
        texts, values = [], []
        for _ in range(source.integer(2, 3)):
            if source.boolean():
                written = quoted_string(source, source.text(QTEXT + " ", 1, 6))
                texts.append(written.text)
                values.append(written.value)
            else:
                atom = atom_text(source)
                texts.append(atom)
                values.append(atom)
        glue = [optional_cfws(source) + "." + optional_cfws(source) for _ in texts[1:]]
        text = texts[0] + "".join(g + t for g, t in zip(glue, texts[1:], strict=True))
        return Written(text, ".".join(values))
    # A local-part that needs quoting for one character only.
    atom = atom_text(source)
    value = atom + source.choice([" ", "@", ",", "(", ")", "..", "<", '"'])
    written = quoted_string(source, value)
    return Written(written.text, written.value)


def domain_literal(source: Source) -> str:
    """domain-literal (3.4.1): an IPv4 address, an RFC 5321 4.1.3 ``IPv6:`` literal, or a
    general address literal, in brackets."""
    source.seen["rfc5322:domain-literal"] = None
    form = source.integer(0, 2)
    if form == 0:
        source.mark("rfc5321:ipv4-literal")
        return "[" + ".".join(str(source.integer(0, 255)) for _ in range(4)) + "]"
    if form == 1:
        source.mark("rfc5321:ipv6-literal")
        groups = [source.integer(0, 0xFFFF) if source.integer(0, 2) else 0 for _ in range(8)]
        address = ipaddress.IPv6Address(sum(g << (16 * (7 - i)) for i, g in enumerate(groups)))
        text = str(address) if source.boolean() else address.exploded
        return f"[IPv6:{text}]"
    return "[" + source.text(DTEXT, 1, 12) + "]"


def domain(source: Source) -> Written[str]:
    """domain (3.4.1): a dot-atom (host names, other atext, RFC 6532 U-labels), a domain
    literal, or obs-domain (4.4: CFWS around the dots)."""
    source.seen["rfc5322:domain"] = None
    form = source.integer(0, 6)
    if form <= 2:
        labels = []
        for _ in range(source.repeat(1, 4)):
            label = source.text(LDH, 1, 8)
            labels.append(label)
        text = ".".join(labels)
        if source.chance(6):
            text = text.upper()
        return Written(text, text)
    if form == 3:
        text = dot_atom_text(source)
        return Written(text, text)
    if form == 4:
        source.mark("rfc6532:utf8-domain")
        text = dot_atom_text(source, utf8=True)
        return Written(text, text)
    if form == 5:
        text = domain_literal(source)
        return Written(text, text)
    source.mark("rfc5322:obs-domain")
    labels = [source.text(LDH, 1, 6) for _ in range(source.integer(2, 3))]
    glue = [optional_cfws(source) + "." + separator(source) for _ in labels[1:]]
    text = labels[0] + "".join(g + t for g, t in zip(glue, labels[1:], strict=True))
    return Written(text, ".".join(labels))


def addr_spec(source: Source) -> Written[tuple[str, str]]:
    """addr-spec (3.4.1): local-part ``@`` domain."""
    source.seen["rfc5322:addr-spec"] = None
    local = local_part(source)
    where = domain(source)
    return Written(f"{local.text}@{where.text}", (local.value, where.value))


def angle_addr(source: Source) -> Written[tuple[str, str]]:
    """angle-addr (3.4) and obs-angle-addr (4.4, with a source route that readers drop)."""
    source.seen["rfc5322:angle-addr"] = None
    spec = addr_spec(source)
    route = ""
    if source.chance(12):
        source.mark("rfc5322:obs-route")
        hops = [f"@{domain(source).text}" for _ in range(source.integer(1, 2))]
        route = ",".join(hops) + ":"
    return Written(f"<{route}{spec.text}>", spec.value)


def mailbox(source: Source) -> Written[Mailbox]:
    """mailbox (3.4): name-addr (with or without a display name) or a bare addr-spec."""
    source.seen["rfc5322:mailbox"] = None
    form = source.integer(0, 3)
    if form == 0:
        spec = addr_spec(source)
        local, where = spec.value
        return Written(
            optional_cfws(source) + spec.text + optional_cfws(source), Mailbox(None, local, where)
        )
    angle = angle_addr(source)
    local, where = angle.value
    if form == 1:
        source.mark("rfc5322:name-addr-without-name")
        return Written(optional_cfws(source) + angle.text, Mailbox(None, local, where))
    name = phrase(source)
    text = (
        optional_cfws(source) + name.text + separator(source) + angle.text + optional_cfws(source)
    )
    return Written(text, Mailbox(name.value, local, where))


@production("rfc5322:mailbox-list")
def mailbox_list(source: Source) -> Written[tuple[Mailbox, ...]]:
    """mailbox-list (3.4): mailboxes separated by commas."""
    found = [mailbox(source) for _ in range(source.repeat(1, 3))]
    return Written(",".join(m.text for m in found), tuple(m.value for m in found))


def sender(source: Source) -> Written[tuple[Mailbox, ...]]:
    """Sender (3.6.2): exactly one mailbox."""
    one = mailbox(source)
    return Written(one.text, (one.value,))


@production("rfc5322:group")
def group(source: Source) -> Written[Group]:
    """group (3.4): display-name ``:`` [group-list] ``;``; an empty group-list may be CFWS."""
    name = phrase(source)
    members = [mailbox(source) for _ in range(source.repeat(0, 2))]
    inside = ",".join(m.text for m in members) if members else optional_cfws(source)
    if not members:
        source.mark("rfc5322:empty-group")
    return Written(
        f"{name.text}:{inside};{optional_cfws(source)}",
        Group(name.value, tuple(m.value for m in members)),
    )


@production("rfc5322:address-list")
def address_list(source: Source) -> Written[tuple[Mailbox | Group, ...]]:
    """address-list (3.4) and obs-addr-list (4.4: empty elements, which readers skip)."""
    found: list[Written[Mailbox] | Written[Group]] = []
    for _ in range(source.repeat(1, 3)):
        found.append(group(source) if source.chance(5) else mailbox(source))
    texts = [a.text for a in found]
    if source.chance(12):
        source.mark("rfc5322:obs-addr-list")
        texts.insert(source.integer(0, len(texts)), optional_cfws(source))
    return Written(",".join(texts), tuple(a.value for a in found))


# -- 3.6.4 identification -------------------------------------------------------------------


def msg_id(source: Source) -> Written[MessageId]:
    """msg-id (3.6.4): ``<id-left@id-right>``; id-left a dot-atom-text or obs-id-left (a
    quoted-string, 4.5.4); id-right a dot-atom-text, a no-fold-literal or obs-id-right."""
    source.seen["rfc5322:msg-id"] = None
    if source.chance(6):
        # obs-id-left (4.5.4) quotes a local-part; its value is kept to dot-atom-text, the
        # only id-left a conformant writer can produce (3.6.4), so the model stays writable.
        source.mark("rfc5322:obs-id-left")
        left = dot_atom_text(source)
        left_text = quoted_string(source, left).text
    else:
        left_text = left = dot_atom_text(source)
    form = source.integer(0, 5)
    if form <= 3:
        right_text = right = dot_atom_text(source)
    elif form == 4:
        source.mark("rfc5322:no-fold-literal")
        right_text = right = "[" + source.text(DTEXT, 0, 12) + "]"
    else:
        source.mark("rfc5322:obs-id-right")
        where = domain(source)
        right_text, right = where.text, where.value
        if right.startswith("["):
            right_text = right
    text = f"<{left_text}@{right_text}>"
    return Written(optional_cfws(source) + text + optional_cfws(source), MessageId(left, right))


@production("rfc5322:msg-id-list")
def msg_id_list(source: Source) -> Written[tuple[MessageId, ...]]:
    """1*msg-id (In-Reply-To, References): separated by CFWS, or touching."""
    found = [msg_id(source) for _ in range(source.repeat(1, 4))]
    glue = [source.choice(["", " ", " "]) for _ in found[1:]]
    text = found[0].text + "".join(g + m.text for g, m in zip(glue, found[1:], strict=True))
    return Written(text, tuple(m.value for m in found))


# -- 2.2 header fields ----------------------------------------------------------------------


def field_name(source: Source, name: str) -> str:
    """A field name as senders write it: canonical, lower or upper case (names are
    case-insensitive, 1.2.2)."""
    form = source.integer(0, 7)
    if form == 0:
        return name.lower()
    if form == 1:
        return name.upper()
    return name


_BREAKABLE = re.compile(r"[^ \t\\]([ \t])")


def fold(source: Source, name: str, value: str) -> str:
    """``name: value`` as one field with its CRLF, folded (2.2.3) before white space to keep
    lines within 78 characters where it can, and sometimes where nothing requires it.

    A fold goes only before white space that follows a visible character of the value: never
    right after the colon (a fold there breaks some DKIM verifiers), never inside a
    quoted-pair (``\\`` then white space), never before white space that only trails.
    """
    head = f"{name}:"
    if value and value[0] not in " \t" and source.integer(0, 5):
        head += " "
    line = head + value
    if len(line) <= 78 and not source.chance(6):
        return line + "\r\n"
    last = len(line.rstrip(" \t"))
    breaks = [m.start(1) for m in _BREAKABLE.finditer(line, len(name) + 1) if m.start(1) < last]
    if not breaks:
        return line + "\r\n"
    chosen: list[int] = []
    if len(line) <= 78:
        source.mark("rfc5322:folding")
        chosen.append(source.choice(breaks))
    else:
        start = 0
        previous = -1
        for position in breaks:
            if position - start > 78 and previous > start:
                chosen.append(previous)
                start = previous
            previous = position
        if len(line) - start > 78 and previous > start:
            chosen.append(previous)
    pieces = []
    start = 0
    for position in chosen:
        pieces.append(line[start:position])
        start = position
    pieces.append(line[start:])
    return "\r\n".join(pieces) + "\r\n"
