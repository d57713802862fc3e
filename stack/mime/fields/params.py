"""Content-Type, Content-Disposition and Content-Transfer-Encoding (RFC 2045, 2183, 2231).

Values are semantic: the media type, subtype, disposition and parameter names are lowercased
(they are case-insensitive, RFC 2045 §5.1), parameter order is kept, and parameter values are
decoded: quoted-strings unquoted, RFC 2231 continuations (``name*0``, ``name*1*``...) joined
in index order and their ``charset'language'`` prefix applied.

Decisions:

* The RFC 2231 language tag is dropped: it describes the text, it is not part of it, and no
  consumer of ``filename`` or ``name`` needs it.
* An RFC 2047 encoded-word in a plain value (``name="=?iso-8859-1?Q?Fr=F6sche.txt?="``, as
  Outlook writes non-ASCII file names) is forbidden by RFC 2047 §5, and decoded all the same,
  as Thunderbird, Apple Mail and CPython's email read it (``encoded-word-in-parameter``;
  strict mode refuses it).  The encoder never writes a value that would read that way plainly.
* When a parameter appears both plainly and in RFC 2231 form (``filename="a"``,
  ``filename*=utf-8''%C3%A9``), the RFC 2231 form wins silently: that pair is the documented
  way to serve old and new readers at once.  Any other repetition is ``duplicate-parameter``
  and the first one is kept.
* An unknown charset in an RFC 2231 value decodes as UTF-8 with undecodable bytes kept as
  surrogates (``unknown-charset`` defect); bytes invalid for a known charset are replaced
  (``invalid-parameter-bytes``).
* The encoder writes a value bare if it is a short ASCII token, quoted (``\\`` and ``"``
  escaped) if it is short printable ASCII, and otherwise in RFC 2231 UTF-8 sections short
  enough to fold, never splitting a percent-escape or a multibyte character.

Bad input stays linear: a run of empty parameters (``;;;;``) is one defect and one scan.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import NamedTuple

from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.charset import (
    UNKNOWN_8BIT,
    decode_bytes,
    is_escaped_byte,
    lookup,
    pack,
    unescape_hex,
)
from stack.mime.fields.encoded_word import ENCODED_WORD, decode_words
from stack.mime.fields.lexer import (
    PLAIN_QTEXT,
    TOKEN_CHARS,
    check_text,
    is_token,
    quote_string,
    read_quoted_string,
    read_token,
    recover,
    report,
    skip_cfws,
    skip_run,
    skip_to,
)

__all__ = [
    "ContentDisposition",
    "ContentType",
    "Params",
    "decode_content_disposition",
    "decode_content_type",
    "decode_params",
    "decode_transfer_encoding",
    "encode_content_disposition",
    "encode_content_type",
    "encode_params",
    "encode_transfer_encoding",
]

Params = tuple[tuple[str, str], ...]

# RFC 2231 §7 attribute-char: a token character other than "*", "'" and "%".
_ATTRIBUTE_CHARS = frozenset(
    "!#$&+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz{|}~"
)
_SECTIONED_NAME = re.compile(r"([^*]+)(?:\*([0-9]+))?(\*)?")
# Parameters as nearly all real mail writes them: ``; name=token`` or ``; name="text"`` with
# plain white space, no RFC 2231 sections, no escapes.  One possessive match checks the whole
# run; anything else takes the general reader, which gives the same value for these.
_PARAM_NAME = f"[{re.escape(''.join(sorted(_ATTRIBUTE_CHARS)))}]++"
_PARAM_TOKEN = f"[{TOKEN_CHARS}]++"
_FAST_ONE_PARAM = re.compile(
    f'[ \\t]*+;[ \\t]*+({_PARAM_NAME})=(?:({_PARAM_TOKEN})|"({PLAIN_QTEXT})")'
)
# The same without capturing groups: CPython 3.11's re raises SystemError on some inputs
# when a capturing group sits inside a possessive repeat.
_FAST_PARAMS = re.compile(
    f'(?:[ \\t]*+;[ \\t]*+{_PARAM_NAME}=(?:{_PARAM_TOKEN}|"{PLAIN_QTEXT}"))*+[ \\t]*+'
)
# A quoted-pair (RFC 5322 §3.2.1; obs-qp takes any character, CR and LF included).
_QUOTED_PAIR = re.compile(r"\\.", re.DOTALL)
_MAX_PLAIN = 60  # longer values go into RFC 2231 sections so that they can fold
_SECTION_ROOM = 60


def _lowered_params(params: Params) -> Params:
    return tuple((name.lower(), value) for name, value in params)


def _find(params: Params, name: str) -> str | None:
    wanted = name.lower()
    for key, value in params:
        if key == wanted:
            return value
    return None


@dataclass(frozen=True, slots=True)
class ContentType:
    """A media type with its parameters (RFC 2045 §5); names are lowercased on creation."""

    maintype: str
    subtype: str
    params: Params = ()

    def __post_init__(self) -> None:
        # Lowercasing here, not only in the decoder, keeps equality semantic for values
        # built by hand: ContentType("Text", "Plain") == decode_content_type("text/plain").
        object.__setattr__(self, "maintype", self.maintype.lower())
        object.__setattr__(self, "subtype", self.subtype.lower())
        object.__setattr__(self, "params", _lowered_params(self.params))

    @property
    def mime_type(self) -> str:
        """``maintype/subtype``, as in ``text/plain``."""
        return f"{self.maintype}/{self.subtype}"

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (case-insensitive), or ``None``."""
        return _find(self.params, name)

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter, lowercased: charset names are case-insensitive."""
        value = self.param("charset")
        return None if value is None else value.lower()

    @property
    def boundary(self) -> str | None:
        """The ``boundary`` parameter as written: boundaries are case-sensitive."""
        return self.param("boundary")


@dataclass(frozen=True, slots=True)
class ContentDisposition:
    """A disposition type (RFC 2183 §2) with its parameters; names lowercased on creation."""

    kind: str
    params: Params = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", self.kind.lower())
        object.__setattr__(self, "params", _lowered_params(self.params))

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (case-insensitive), or ``None``."""
        return _find(self.params, name)

    @property
    def filename(self) -> str | None:
        """The ``filename`` parameter (RFC 2183 §2.3)."""
        return self.param("filename")


class _Raw(NamedTuple):
    """One parameter as written, before RFC 2231 sections are joined."""

    name: str
    section: int | None
    extended: bool
    value: str
    offset: int
    # Where the value's characters stand in the field, as (index in value, position) pairs:
    # a quoted value's first character, and each one after which the value and the field
    # part (a quoted-pair's backslash, the closing quote or the token before ``a b``).
    anchors: tuple[tuple[int, int], ...]

    def position(self, index: int) -> int:
        """The position in the field of the value's character ``index``."""
        at, pos = self.anchors[bisect_right(self.anchors, index, key=lambda a: a[0]) - 1]
        return pos + index - at


def _quoted_anchors(text: str, quote: int, end: int) -> tuple[tuple[int, int], ...]:
    """The anchors of a quoted-string that opens at ``quote`` and ends before ``end``: each
    quoted-pair moves the characters after it one further from their index (the backslash)."""
    anchors = [(0, quote + 1)]
    for count, pair in enumerate(_QUOTED_PAIR.finditer(text, quote + 1, end), 1):
        anchors.append((pair.start() - quote - count, pair.start() + 1))
    return tuple(anchors)


def _read_param(text: str, pos: int, defects: list[Defect] | None) -> tuple[_Raw, int]:
    """Read ``attribute "=" value`` (RFC 2045 §5.1, RFC 2231 §3-4) at ``pos``."""
    start = pos
    token, pos = read_token(text, pos)
    if not token:
        raise ParseError(f"expected a parameter name, found {text[pos]!r}", pos)
    match = _SECTIONED_NAME.fullmatch(token)
    if match is None or "'" in token or "%" in token:
        # RFC 2231 §7 attribute-char excludes "'" and "%" (and "*" but as a marker).
        report(defects, "invalid-parameter-name", start, f"bad parameter name {token!r}")
        name, section, extended = token, None, False
    else:
        name, digits, star = match.groups()
        section = None if digits is None else int(digits)
        extended = star is not None
        if digits is not None and digits != str(section):
            report(defects, "invalid-parameter-section", start, "section number has zeros")
    pos = skip_cfws(text, pos, defects)
    if not text.startswith("=", pos):
        raise ParseError(f"parameter {token!r} has no '=' and no value", pos)
    pos = skip_cfws(text, pos + 1, defects)
    if text.startswith('"', pos):
        if extended:
            report(defects, "quoted-extended-value", pos, "RFC 2231 values are never quoted")
        quote = pos
        value, pos = read_quoted_string(text, pos, defects)
        anchors = _quoted_anchors(text, quote, pos)
    else:
        # A token holds no encoded-word ("=" and "?" are tspecials): only what may follow it.
        anchors = ()
        value, pos = read_token(text, pos)
        if not value:
            report(defects, "missing-parameter-value", pos, f"parameter {token!r} is empty")
    after = skip_cfws(text, pos, defects)
    if after < len(text) and text[after] != ";":
        # ``filename=My File.pdf``: common enough to read whole, up to the next ';'.
        report(defects, "unquoted-parameter-value", pos, "value has specials; it needs quotes")
        end = skip_to(text, after, ";")
        anchors += ((len(value), pos),)
        value = (value + text[pos:end]).rstrip(" \t")
        after = end
    return _Raw(name.lower(), section, extended, value, start, anchors), after


def _decode_extended(
    value: str, has_prefix: bool, offset: int, defects: list[Defect] | None
) -> tuple[bytes, str | None]:
    """Percent-decode an RFC 2231 §4 value; with ``has_prefix`` also split off its charset."""
    charset = None
    if has_prefix:
        parts = value.split("'", 2)
        if len(parts) == 3:
            charset, _language, value = parts
        else:
            report(defects, "invalid-rfc2231-value", offset, "missing charset'language'")
    data, bad = unescape_hex(value.encode("utf-8", "surrogateescape"), b"%")
    if bad:
        report(defects, "invalid-percent-escape", offset, "'%' not followed by two hex digits")
    return data, charset or None


def _decode_value(
    data: bytes, charset: str | None, offset: int, defects: list[Defect] | None
) -> str:
    """Percent-decoded bytes as text; a missing charset means UTF-8 (a superset of ASCII)."""
    name = charset or "utf-8"
    codec = lookup(name)
    if codec is None:
        report(defects, "unknown-charset", offset, f"unknown charset {name!r}")
        return data.decode("utf-8", "surrogateescape")
    text, valid = decode_bytes(data, codec)
    if not valid:
        report(defects, "invalid-parameter-bytes", offset, f"bytes invalid for {name!r}")
    return text


def _join_sections(raws: list[_Raw], defects: list[Defect] | None) -> str:
    """Join RFC 2231 §3 continuations, in index order whatever order they came in."""
    ordered = sorted(raws, key=lambda raw: raw.section or 0)
    kept: list[_Raw] = []
    for raw in ordered:
        if kept and kept[-1].section == raw.section:
            report(defects, "duplicate-parameter", raw.offset, f"{raw.name}*{raw.section} again")
        else:
            kept.append(raw)
    if kept[0].section != 0:
        report(defects, "missing-parameter-section", kept[0].offset, f"{kept[0].name}*0 missing")
    elif kept[-1].section != len(kept) - 1:
        report(defects, "missing-parameter-section", kept[0].offset, "gap in the sections")
    if not any(raw.extended for raw in kept):
        return "".join(raw.value for raw in kept)
    chunks: list[bytes] = []
    charset = None
    for index, raw in enumerate(kept):
        if raw.extended:
            data, found = _decode_extended(raw.value, index == 0, raw.offset, defects)
            charset = found if index == 0 else charset
            chunks.append(data)
        else:
            chunks.append(raw.value.encode("utf-8", "surrogateescape"))
    return _decode_value(b"".join(chunks), charset, kept[0].offset, defects)


def _decode_plain(raw: _Raw, defects: list[Defect] | None) -> str:
    """A plain value, with any encoded-words in it decoded (lenient mode only)."""
    if ENCODED_WORD.search(raw.value) is None:
        return raw.value
    report(
        defects,
        "encoded-word-in-parameter",
        raw.offset,
        f"RFC 2047 §5: an encoded-word in parameter {raw.name!r} (decoded as most readers do)",
    )
    # decode_words counts in the value, which quotes and quoted-pairs set apart from the field.
    found: list[Defect] = []
    value = decode_words(raw.value, found)
    for defect in found:
        report(defects, defect.kind, raw.position(defect.offset), defect.detail)
    return value


def _assemble(raws: list[_Raw], defects: list[Defect] | None) -> Params:
    """Group raw parameters by name, keeping the order of first appearance."""
    groups: dict[str, list[_Raw]] = {}
    for raw in raws:
        groups.setdefault(raw.name, []).append(raw)
    params: list[tuple[str, str]] = []
    for name, group in groups.items():
        plain = [raw for raw in group if raw.section is None and not raw.extended]
        single = [raw for raw in group if raw.section is None and raw.extended]
        sections = [raw for raw in group if raw.section is not None]
        for extra in (plain[1:], single[1:], sections[:1] if single else []):
            if extra:
                report(defects, "duplicate-parameter", extra[0].offset, f"{name} again")
        if single:
            data, charset = _decode_extended(single[0].value, True, single[0].offset, defects)
            value = _decode_value(data, charset, single[0].offset, defects)
        elif sections:
            value = _join_sections(sections, defects)
        else:
            value = _decode_plain(plain[0], defects)
        params.append((name, value))
    return tuple(params)


def _fast_params(text: str, pos: int) -> Params | None:
    """The parameters from ``pos`` on if they all have the plain shape and distinct names."""
    if _FAST_PARAMS.fullmatch(text, pos) is None:
        return None
    # A token is never empty, so an empty token group means the value was quoted.
    params = tuple(
        (name.lower(), token or quoted)
        for name, token, quoted in _FAST_ONE_PARAM.findall(text, pos)
    )
    if len({name for name, _ in params}) != len(params):
        return None
    return params


def decode_params(text: str, pos: int, defects: list[Defect] | None = None) -> Params:
    """Decode ``*(";" parameter)`` (RFC 2045 §5.1) from ``pos`` to the end of ``text``."""
    check_text(text[pos:], defects)
    return _decode_params(text, pos, defects)


def _decode_params(text: str, pos: int, defects: list[Defect] | None) -> Params:
    fast = _fast_params(text, pos)
    # A value holding "=?" may hold an encoded-word: the general reader knows its offset.
    if fast is not None and not any("=?" in value for _, value in fast):
        return fast
    raws: list[_Raw] = []
    end = len(text)
    while True:
        pos = skip_cfws(text, pos, defects)
        if pos >= end:
            return _assemble(raws, defects)
        if text[pos] != ";":
            report(defects, "missing-semicolon", pos, "parameters must be separated by ';'")
        else:
            pos = skip_cfws(text, pos + 1, defects)
            if pos >= end or text[pos] == ";":
                report(defects, "empty-parameter", pos, "empty parameter after ';'")
                pos = skip_run(text, pos, "; \t")
                if pos >= end:
                    continue
        try:
            raw, pos = _read_param(text, pos, defects)
        except ParseError as error:
            # From the parameter's own start, so that a quoted-string there (a quoted name)
            # is skipped whole: resuming inside it let its closing quote open a string that
            # swallowed every parameter after it.  A parameter never starts at ';', so the
            # skip always moves on.
            resume = max(pos, error.offset)
            pos = recover(error, defects, "invalid-parameter", text, resume, ";")
            continue
        raws.append(raw)


def _read_type_token(text: str, pos: int, what: str) -> tuple[str, int]:
    token, after = read_token(text, pos)
    if not token:
        found = repr(text[pos]) if pos < len(text) else "the end"
        raise ParseError(f"expected {what}, found {found}", pos)
    return token.lower(), after


def decode_content_type(text: str, defects: list[Defect] | None = None) -> ContentType:
    """Decode a Content-Type value (RFC 2045 §5.1).

    A value without ``type/subtype`` raises :class:`ParseError` in both modes: what to put in
    its place (RFC 2045 §5.2 says ``text/plain; charset=us-ascii``) is the caller's choice.
    """
    check_text(text, defects)
    pos = skip_cfws(text, 0, defects)
    maintype, pos = _read_type_token(text, pos, "a media type")
    pos = skip_cfws(text, pos, defects)
    if not text.startswith("/", pos):
        raise ParseError("expected '/' between type and subtype", pos)
    pos = skip_cfws(text, pos + 1, defects)
    subtype, pos = _read_type_token(text, pos, "a media subtype")
    return ContentType(maintype, subtype, _decode_params(text, pos, defects))


def decode_content_disposition(
    text: str, defects: list[Defect] | None = None
) -> ContentDisposition:
    """Decode a Content-Disposition value (RFC 2183 §2)."""
    check_text(text, defects)
    pos = skip_cfws(text, 0, defects)
    kind, pos = _read_type_token(text, pos, "a disposition type")
    return ContentDisposition(kind, _decode_params(text, pos, defects))


def decode_transfer_encoding(text: str, defects: list[Defect] | None = None) -> str:
    """Decode a Content-Transfer-Encoding value (RFC 2045 §6.1): one lowercased token."""
    check_text(text, defects)
    pos = skip_cfws(text, 0, defects)
    token, pos = _read_type_token(text, pos, "a transfer encoding")
    pos = skip_cfws(text, pos, defects)
    if pos < len(text):
        report(defects, "trailing-garbage", pos, f"unexpected {text[pos]!r} after the encoding")
    return token


def _percent_forms(value: str) -> tuple[str, list[str]]:
    """The RFC 2231 charset and the percent-encoded form of each character of ``value``."""
    escaped = [is_escaped_byte(char) for char in value]
    if any(escaped):
        if not all(char.isascii() or flag for char, flag in zip(value, escaped, strict=True)):
            raise EncodeError("a parameter cannot mix undecodable bytes with non-ASCII text")
        charset = UNKNOWN_8BIT
        raws = [char.encode("ascii", "surrogateescape") for char in value]
    else:
        charset = "utf-8"
        try:
            raws = [char.encode("utf-8") for char in value]
        except UnicodeEncodeError:
            raise EncodeError("a parameter value holds a surrogate that is not text") from None
    forms = [
        char if char in _ATTRIBUTE_CHARS else "".join(f"%{byte:02X}" for byte in raw)
        for char, raw in zip(value, raws, strict=True)
    ]
    return charset, forms


def _encode_param(name: str, value: str) -> list[str]:
    if not name or not all(char in _ATTRIBUTE_CHARS for char in name):
        raise EncodeError(f"parameter name {name!r} is not an RFC 2231 attribute")
    if len(value) <= _MAX_PLAIN and value.isascii() and ENCODED_WORD.search(value) is None:
        if is_token(value):
            return [f"{name}={value}"]
        if value.isprintable():
            return [f"{name}={quote_string(value)}"]
    charset, forms = _percent_forms(value)
    prefix = f"{charset}''"
    sections = ["".join(run) for run in pack(forms, _SECTION_ROOM, len(prefix))]
    sections[0] = prefix + sections[0]
    if len(sections) == 1:
        return [f"{name}*={sections[0]}"]
    return [f"{name}*{index}*={section}" for index, section in enumerate(sections)]


def encode_params(params: Params) -> str:
    """Write parameters as ``; name=value`` pieces; the space after each ``;`` may fold.

    Repeated names are refused: a reader keeps only the first, so they could not round-trip.
    """
    names = [name for name, _ in params]
    if len(set(names)) != len(names):
        raise EncodeError(f"repeated parameter names in {names!r}")
    return "".join(f"; {piece}" for name, value in params for piece in _encode_param(name, value))


def _check_token(value: str, what: str) -> str:
    if not (value.isascii() and is_token(value)):
        raise EncodeError(f"{what} {value!r} is not a token")
    return value


def encode_content_type(value: ContentType) -> str:
    """Write a Content-Type value: ``type/subtype; name=value; ...``."""
    maintype = _check_token(value.maintype, "media type")
    subtype = _check_token(value.subtype, "media subtype")
    return f"{maintype}/{subtype}{encode_params(value.params)}"


def encode_content_disposition(value: ContentDisposition) -> str:
    """Write a Content-Disposition value: ``kind; name=value; ...``."""
    return f"{_check_token(value.kind, 'disposition type')}{encode_params(value.params)}"


def encode_transfer_encoding(value: str) -> str:
    """Write a Content-Transfer-Encoding value (the lowercased token)."""
    return _check_token(value.lower(), "transfer encoding")
