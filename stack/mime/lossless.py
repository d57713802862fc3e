"""The lossless layer: a concrete syntax tree of a message that keeps every byte.

Theory of operation
-------------------
:func:`parse` never fails.  It cuts a message into three pieces, each kept as the exact bytes
it came from:

- the header: a list of :class:`Field` nodes, each holding its raw bytes from the first byte
  of its name to the line break that ends its last continuation line;
- the separator: the empty line that ends the header (``b""`` when there is none);
- the body: everything after.

Multipart bodies and embedded ``message/rfc822`` bodies are split lazily, on first access to
:attr:`Message.parts` or :attr:`Message.embedded`, into the same kind of nodes.  ``bytes()`` of
any node gives back exactly the bytes it was parsed from, and ``bytes(parse(b)) == b`` for every
input, valid or not, with LF, CRLF or mixed line endings.

Problems become :class:`~stack.mime.errors.Defect` values with an absolute byte offset; they
never become exceptions.  Editing the header (prepending, removing or replacing a field)
leaves every other byte of the message untouched, which is how a hop adds ``Received:``
without breaking a DKIM signature.

Every scan here is linear in the size of its input: one pass of ``bytes.find`` or of a
regular expression without nested quantifiers per level, and nesting is bounded by
:data:`MAX_DEPTH`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stack.mime.errors import Defect, EncodeError, ParseError
from stack.mime.fields.params import decode_content_type, decode_transfer_encoding
from stack.mime.folding import LIMIT
from stack.mime.safe import checked_text

#: Multiparts and embedded messages nested deeper than this are left opaque (with a defect),
#: so that a hostile message cannot make a walk cost more than ``MAX_DEPTH`` passes.
MAX_DEPTH = 64

# A field: a name, a colon, the rest of the line, then its continuation lines and the line
# break that ends it (there is none only at the end of the input).  The groups capture the
# name, the white space before the colon (obs-fname) and the colon, when they are there; a line
# without them still matches whole (it is then not a field).  Every quantifier is followed by a
# class it cannot overlap, except ``[^\n]*`` which runs to the line break, and the
# continuation lines are taken possessively (``*+``), so the match is linear and never
# backtracks.
_FIELD = re.compile(rb"([!-9;-~]*)([ \t]*)(:?)[^\n]*(?:\n[ \t][^\n]*)*+\n?")
# The empty line that ends the header: the first LF LF or LF CR LF, whichever comes first.
_BLANK_LINE = re.compile(rb"\n\r?\n")
_FIELD_NAME = re.compile(rb"[!-9;-~]+")
_MIME_TYPE = re.compile(rb"\s*([!#-'*+.0-9A-Z^-~-]+)\s*/\s*([!#-'*+.0-9A-Z^-~-]+)", re.IGNORECASE)
_TRANSFER_ENCODING = re.compile(rb"\s*([!#-'*+.0-9A-Za-z^-~-]+)")
# Looked for as ints: ``int in bytes`` is a memchr, while ``bytes in bytes`` (CPython 3.11)
# first tries its argument as an int, raising and clearing a TypeError: about ten times slower.
_LF = ord("\n")
_LPAREN = ord("(")


def unfold(raw_value: bytes) -> str:
    """A field's raw value with folding removed (RFC 5322 2.2.3), as str.

    Bytes are read as UTF-8 (RFC 6532); any other 8-bit byte survives as a lone surrogate
    (``surrogateescape``) so that nothing is lost.
    """
    if _LF in raw_value:
        # Inside a field every line break is a fold: one that is not would have ended it.
        raw_value = raw_value.replace(b"\r\n", b"").replace(b"\n", b"")
    return raw_value.decode("utf-8", "surrogateescape")


class Field:
    """One header field, exactly as written: name, colon, value, folding and line break."""

    __slots__ = ("_colon", "_value", "is_field", "name", "offset", "raw")

    def __init__(self, raw: bytes, offset: int = 0) -> None:
        match = _FIELD.match(raw)
        assert match is not None  # the pattern matches any line
        name, space, colon = match.group(1, 2, 3)
        self.raw = raw
        self.offset = offset
        self._colon = len(name) + len(space) if colon else -1  # where it is in raw, or -1
        #: False for a line in the header block that is not a field (no name or no colon).
        self.is_field = bool(name and colon)
        # obs-fname allows white space between the name and the colon (RFC 5322 4.5).
        self.name = name.decode("ascii") if self.is_field else ""
        self._value: bytes | None = None  # raw_value, once read

    @staticmethod
    def valid_name(name: str) -> bool:
        """RFC 5322 3.6.8: printable US-ASCII except the colon, at least one character."""
        return name.isascii() and _FIELD_NAME.fullmatch(name.encode("ascii")) is not None

    @classmethod
    def build(cls, name: str, value: str, *, linesep: bytes = b"\r\n") -> Field:
        """A new field ``name: value``; the value must already be folded or short.

        A CR or LF in the value that is not part of a fold would start a new field or end the
        header: that is header injection (CVE-2024-6923), and it is refused; so is any other
        control character (:func:`stack.mime.safe.checked_text`), and a line over 998 octets.
        Values someone else chose go through :func:`stack.mime.safe.safe_text` first.
        """
        if not cls.valid_name(name):
            raise EncodeError(f"invalid field name {name!r}")
        lines = value.replace("\r\n", "\n").split("\n")
        for line in lines[1:]:
            if not line or line[0] not in " \t" or not line.strip(" \t"):
                raise EncodeError(f"{name} field value would inject a line: {value!r}")
        if "\r" in value.replace("\r\n", ""):
            raise EncodeError(f"{name} field value contains a bare CR: {value!r}")
        # The last guard for a value its builder forgot to pass through safe_text: no NUL,
        # control character or lone surrogate is written, whoever builds the field.
        unfolded = value.replace("\r\n", "").replace("\n", "")
        checked_text(unfolded.replace("\t", " "), f"{name} field")
        text = f"{name}: {value}" if value else f"{name}:"
        longest = max(len(line.encode()) for line in text.replace("\r\n", "\n").split("\n"))
        if longest > LIMIT:
            raise EncodeError(
                f"{name} field has a line of {longest} octets; a line may not exceed {LIMIT} "
                "(RFC 5322 2.1.1): fold it, or bound what it repeats"
            )
        raw = text.replace("\r\n", "\n").replace("\n", linesep.decode("ascii")).encode()
        return cls(raw + linesep)

    @property
    def raw_value(self) -> bytes:
        """The bytes after the colon, still folded, without the final line break."""
        value = self._value
        if value is None:
            raw = self.raw
            end = len(raw)
            if raw[-1:] == b"\n":
                end -= 2 if raw[-2:] == b"\r\n" else 1
            value = self._value = raw[self._colon + 1 : end]
        return value

    def unfolded(self) -> str:
        """The value with folding removed (RFC 5322 2.2.3), as str: see :func:`unfold`."""
        return unfold(self.raw_value)

    def __bytes__(self) -> bytes:
        return self.raw

    def __repr__(self) -> str:
        return f"Field({self.raw!r})"


class Multipart:
    """A multipart body split at its delimiters (RFC 2046 5.1.1).

    ``delimiters[i]`` is the raw delimiter line before ``parts[i]``, including the line break
    that precedes it (which belongs to the delimiter, not to the part).
    """

    __slots__ = ("closing", "delimiters", "epilogue", "parts", "preamble")

    def __init__(
        self,
        preamble: bytes,
        delimiters: list[bytes],
        parts: list[Message],
        closing: bytes,
        epilogue: bytes,
    ) -> None:
        self.preamble = preamble
        self.delimiters = delimiters
        self.parts = parts
        self.closing = closing
        self.epilogue = epilogue

    def __bytes__(self) -> bytes:
        chunks = [self.preamble]
        for delimiter, part in zip(self.delimiters, self.parts, strict=True):
            chunks.append(delimiter)
            chunks.append(bytes(part))
        chunks.append(self.closing)
        chunks.append(self.epilogue)
        return b"".join(chunks)


class Message:
    """A message or a MIME part: header fields, the separator line and the body."""

    __slots__ = (
        "_embedded",
        "_multipart",
        "_split",
        "body",
        "default_type",
        "defects",
        "depth",
        "fields",
        "offset",
        "separator",
    )

    def __init__(
        self,
        fields: list[Field],
        separator: bytes,
        body: bytes,
        *,
        offset: int = 0,
        depth: int = 0,
        default_type: str = "text/plain",
        defects: list[Defect] | None = None,
    ) -> None:
        self.fields = fields
        self.separator = separator
        self.body = body
        self.offset = offset
        self.depth = depth
        self.default_type = default_type
        self.defects: list[Defect] = defects if defects is not None else []
        self._split = False
        self._multipart: Multipart | None = None
        self._embedded: Message | None = None

    # -- reading the header ----------------------------------------------------------------

    def get(self, name: str) -> Field | None:
        """The first field called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        size = len(wanted)
        for field in self.fields:
            # Names are ASCII, so lowering keeps their length: most fields are passed over
            # without making a lowercased copy of their name.
            if len(field.name) == size and field.name.lower() == wanted:
                return field
        return None

    def get_all(self, name: str) -> list[Field]:
        wanted = name.lower()
        return [field for field in self.fields if field.name.lower() == wanted]

    @property
    def body_offset(self) -> int:
        return self.offset + sum(len(f.raw) for f in self.fields) + len(self.separator)

    @property
    def linesep(self) -> bytes:
        """The line ending this message uses (that of its first line), for fields we add."""
        for field in self.fields:
            if field.raw.endswith(b"\r\n"):
                return b"\r\n"
            if field.raw.endswith(b"\n"):
                return b"\n"
        return b"\r\n" if self.separator == b"\r\n" else b"\n" if self.separator else b"\r\n"

    @property
    def mime_type(self) -> str:
        """The lowercased ``type/subtype`` of the body: without a Content-Type, the default of
        where the part is (text/plain, or message/rfc822 in a digest: RFC 2046 5.1.5); with one
        that cannot be read, text/plain (RFC 2045 5.2), as decode reads it."""
        field = self.get("content-type")
        if field is None:
            return self.default_type
        raw = field.raw_value
        if _LPAREN in raw:
            # A comment may sit between any two tokens (RFC 2045 5.1, RFC 5322 3.2.2):
            # ``multipart (x) / mixed`` is multipart, so read it with the full grammar.
            try:
                return decode_content_type(field.unfolded(), []).mime_type
            except ParseError:
                return "text/plain"
        match = _MIME_TYPE.match(raw)
        if match:
            return (match[1] + b"/" + match[2]).decode("ascii").lower()
        return "text/plain"

    @property
    def boundary(self) -> bytes | None:
        """The boundary parameter, read with the full RFC 2045/2231 grammar (so that
        continuations such as ``boundary*0*=...`` count), leniently."""
        field = self.get("content-type")
        if field is None:
            return None
        try:
            boundary = decode_content_type(field.unfolded(), []).boundary
        except ParseError:
            return None
        if not boundary:
            return None
        return boundary.encode("utf-8", "surrogateescape")

    @property
    def transfer_encoding(self) -> str:
        field = self.get("content-transfer-encoding")
        if field is not None:
            raw = field.raw_value
            if _LPAREN in raw:
                # ``(a comment) base64`` is base64 (RFC 2045 6.1 is a structured field).
                try:
                    return decode_transfer_encoding(field.unfolded(), [])
                except ParseError:
                    return "7bit"
            match = _TRANSFER_ENCODING.match(raw)
            if match:
                return match[1].decode("ascii").lower()
        return "7bit"

    # -- lazy structure --------------------------------------------------------------------

    @property
    def multipart(self) -> Multipart | None:
        """The split multipart body, or None when this is not a (splittable) multipart."""
        self._ensure_split()
        return self._multipart

    @property
    def parts(self) -> list[Message]:
        """The parts of a multipart body; empty for any other body."""
        multipart = self.multipart
        return multipart.parts if multipart is not None else []

    @property
    def embedded(self) -> Message | None:
        """The message inside a ``message/rfc822`` (or ``message/global``) body."""
        self._ensure_split()
        return self._embedded

    def _ensure_split(self) -> None:
        if self._split:
            return
        self._split = True
        mime_type = self.mime_type
        maintype = mime_type.partition("/")[0]
        if maintype not in ("multipart", "message"):
            return
        if self.depth >= MAX_DEPTH:
            self.defects.append(
                Defect("nesting-too-deep", self.body_offset, f"deeper than {MAX_DEPTH} levels")
            )
            return
        if maintype == "multipart":
            self._split_multipart(mime_type)
        elif mime_type in ("message/rfc822", "message/global") and self.transfer_encoding in (
            "7bit",
            "8bit",
            "binary",
        ):
            self._embedded = parse_part(self.body, self.body_offset, self.depth + 1, "text/plain")

    def _split_multipart(self, mime_type: str) -> None:
        boundary = self.boundary
        start = self.body_offset
        if not boundary:
            self.defects.append(Defect("missing-boundary", start, "multipart without boundary"))
            return
        self._multipart = split_multipart(
            self.body,
            boundary,
            offset=start,
            depth=self.depth + 1,
            default_type="message/rfc822" if mime_type == "multipart/digest" else "text/plain",
            defects=self.defects,
        )

    def walk(self) -> Iterator[Message]:
        """This message and every part and embedded message below it, depth first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            embedded = node.embedded
            if embedded is not None:
                stack.append(embedded)
            stack.extend(reversed(node.parts))

    def all_defects(self) -> list[Defect]:
        return [defect for node in self.walk() for defect in node.defects]

    # -- editing ---------------------------------------------------------------------------

    def prepend(self, name: str, value: str) -> Field:
        """Add ``name: value`` above every other field; no other byte changes."""
        field = Field.build(name, value, linesep=self.linesep)
        self.fields.insert(self._first_field_index(), field)
        return field

    def remove(self, name: str) -> int:
        """Remove every field called ``name``; returns how many went."""
        wanted = name.lower()
        kept = [field for field in self.fields if field.name.lower() != wanted]
        removed = len(self.fields) - len(kept)
        self.fields[:] = kept
        return removed

    def replace(self, name: str, value: str) -> Field:
        """Replace the first field called ``name`` in place (or prepend it when absent), and
        remove the others of that name."""
        field = Field.build(name, value, linesep=self.linesep)
        wanted = name.lower()
        for index, old in enumerate(self.fields):
            if old.name.lower() == wanted:
                self.fields[index] = field
                self.fields[index + 1 :] = [
                    f for f in self.fields[index + 1 :] if f.name.lower() != wanted
                ]
                return field
        self.fields.insert(self._first_field_index(), field)
        return field

    def _first_field_index(self) -> int:
        # An mbox "From " envelope line stays first: it is not part of the message proper.
        # One without a line break is the whole input; a field after it would be glued to it.
        first = self.fields[0] if self.fields else None
        if (
            first is not None
            and first.raw.startswith(b"From ")
            and not first.is_field
            and first.raw.endswith(b"\n")
        ):
            return 1
        return 0

    # -- bytes -----------------------------------------------------------------------------

    def header_bytes(self) -> bytes:
        return b"".join(field.raw for field in self.fields)

    def body_bytes(self) -> bytes:
        if self._multipart is not None:
            return bytes(self._multipart)
        if self._embedded is not None:
            return bytes(self._embedded)
        return self.body

    def __bytes__(self) -> bytes:
        return self.header_bytes() + self.separator + self.body_bytes()

    def __repr__(self) -> str:
        return f"<Message {self.mime_type} fields={len(self.fields)} body={len(self.body)}B>"


def parse(data: bytes) -> Message:
    """Parse ``data`` losslessly.  Never raises; ``bytes(parse(data)) == data``."""
    return parse_part(bytes(data))


def parse_part(
    data: bytes, offset: int = 0, depth: int = 0, default_type: str = "text/plain"
) -> Message:
    """Parse a part found at byte ``offset`` of a message, ``depth`` levels down, whose
    Content-Type defaults to ``default_type`` (RFC 2046 5.1.5: message/rfc822 in a digest)."""
    defects: list[Defect] = []
    # The header ends at the first empty line.  An empty first line means no header at all.
    if data.startswith((b"\n", b"\r\n")):
        sep_len = 1 if data[0:1] == b"\n" else 2
        return Message(
            [], data[:sep_len], data[sep_len:], offset=offset, depth=depth,
            default_type=default_type, defects=defects,
        )  # fmt: skip
    blank = _BLANK_LINE.search(data)
    if blank is None:
        end, sep_len = len(data), 0
    else:
        end = blank.start() + 1
        sep_len = blank.end() - end

    fields: list[Field] = []
    header_end = end
    new_field = Field.__new__
    # finditer, not findall: the header stops at its first line that is not a field, and a
    # findall read every line of the rest first (a 2 MB body of short lines: 2.6 s, 115 MB).
    for match in _FIELD.finditer(data, 0, end):
        raw, name, space, colon = match.group(0, 1, 2, 3)
        if not raw:
            break
        start = match.start()
        if name and colon:
            # Field.__init__, inlined: the line is already matched, and this runs for every
            # field of every message.
            field = new_field(Field)
            field.raw = raw
            field.offset = offset + start
            field.is_field = True
            field.name = name.decode()  # ASCII, by the pattern
            field._colon = len(name) + len(space)
            field._value = None
            fields.append(field)
        elif start == 0 and raw.startswith(b"From "):
            fields.append(Field(raw, offset))  # the mbox envelope line; kept, and not an error
        elif start == 0 and raw[0] in b" \t":
            defects.append(Defect("continuation-without-field", offset, "header starts folded"))
            fields.append(Field(raw, offset))
        else:
            # Not a field: the header ends here without an empty line, as most readers do.
            defects.append(
                Defect("missing-header-separator", offset + start, "line is not a field")
            )
            header_end, sep_len = start, 0
            break
    if sep_len == 0:
        return Message(
            fields, b"", data[header_end:], offset=offset, depth=depth,
            default_type=default_type, defects=defects,
        )  # fmt: skip
    return Message(
        fields, data[end : end + sep_len], data[end + sep_len :], offset=offset, depth=depth,
        default_type=default_type, defects=defects,
    )  # fmt: skip


_DELIMITER_TAIL = re.compile(rb"(--)?[ \t]*\r?(?:\n|\Z)")


def _delimiters(body: bytes, boundary: bytes) -> Iterator[tuple[int, int, bool]]:
    """(start, end, is_close) of each delimiter line: ``--boundary`` at the start of a line,
    then only transport padding (RFC 2046 5.1.1).  One ``find`` pass: no per-boundary regex."""
    dash = b"--" + boundary
    position = body.find(dash)
    while position >= 0:
        if position == 0 or body[position - 1] == 10:  # at the start of a line
            tail = _DELIMITER_TAIL.match(body, position + len(dash))
            if tail is not None:
                yield position, tail.end(), tail[1] is not None
                position = body.find(dash, tail.end())
                continue
        position = body.find(dash, position + 1)


def split_multipart(
    body: bytes,
    boundary: bytes,
    *,
    offset: int = 0,
    depth: int = 1,
    default_type: str = "text/plain",
    defects: list[Defect] | None = None,
) -> Multipart:
    """Split a multipart body at its delimiter lines (RFC 2046 5.1.1), losslessly.

    The line break before a delimiter belongs to the delimiter.  A missing close delimiter
    ends the last part at the end of the body, with a defect.
    """
    found = defects if defects is not None else []
    delimiters: list[bytes] = []
    starts: list[int] = []
    closing_at = -1
    closing_end = len(body)
    floor = 0  # where the previous delimiter line ended: its line break is not ours to take
    for dash_at, end, is_close in _delimiters(body, boundary):
        # The line break before the dashes belongs to the delimiter, unless it already ended
        # the previous delimiter line (an empty part with no line of its own).
        if dash_at - 2 >= floor and body[dash_at - 2 : dash_at] == b"\r\n":
            begin = dash_at - 2
        else:
            begin = max(dash_at - 1, floor)
        floor = end
        if is_close:
            closing_at, closing_end = begin, end
            break
        delimiters.append(body[begin:end])
        starts.append(begin)
    if not delimiters:
        found.append(Defect("no-parts", offset, "no delimiter line for the boundary"))
        if closing_at >= 0:
            return Multipart(
                body[:closing_at], [], [], body[closing_at:closing_end], body[closing_end:]
            )
        return Multipart(body, [], [], b"", b"")
    if closing_at < 0:
        found.append(Defect("missing-close-delimiter", offset + len(body), "multipart not closed"))
        closing_at = len(body)
    parts: list[Message] = []
    for index, begin in enumerate(starts):
        part_start = begin + len(delimiters[index])
        part_end = starts[index + 1] if index + 1 < len(starts) else closing_at
        parts.append(
            parse_part(body[part_start:part_end], offset + part_start, depth, default_type)
        )
    return Multipart(
        body[: starts[0]], delimiters, parts, body[closing_at:closing_end], body[closing_end:]
    )
