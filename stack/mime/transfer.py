"""Content-Transfer-Encoding (RFC 2045 section 6): decoders and encoders, side by side.

Decisions made once, so that ``decode(encode(x)) == x`` holds for every byte string:

- Quoted-printable: a hard line break stands for CRLF in the canonical form (rule 4), and the
  encoder ends its output with a line break always; when the data does not end with CRLF, the
  last line ends with a soft line break (``=``) instead, so that "no final newline" survives.
  Trailing white space on a line is removed by the decoder (rule 3), so the encoder writes it
  as ``=20`` or ``=09``.  A bare CR or LF in the data is written ``=0D`` or ``=0A``.
- base64: the decoder ignores characters outside the alphabet (RFC 2045 6.8) and repairs
  missing padding with a defect; the encoder writes lines of 76 characters, each ending CRLF.
- 7bit, 8bit and binary are identities; :func:`choose` picks the lightest one that is valid.
"""

from __future__ import annotations

import binascii
import re

from stack.mime.errors import Defect

__all__ = ["Defect", "choose", "decode", "encode"]

# RFC 2045 6.7 rule 3: trailing white space, on any line, is padding added in transport.
# A match starts only where a run of blanks starts (the lookbehind) and takes the whole run at
# once (possessive): ``[ \t]+(?=...)`` alone tried again from every blank of a run that is
# not at a line's end, so n blanks before a word cost n**2 / 2 steps (issue 13).  The pattern
# opens with the blank itself, not the lookbehind, so that the regex engine skips to the next
# blank at C speed instead of trying the lookbehind at every byte (half the time of the step).
_QP_TRAILING_WSP = re.compile(rb"[ \t](?<![ \t]{2})[ \t]*+(?=\r?\n|\Z)")
# Looked for in the data as delivered, so that the offset is the caller's: an '=' that ends a
# line is a soft break even with transport padding after it.
_QP_BAD_ESCAPE = re.compile(rb"=(?![0-9A-Fa-f]{2}|[ \t]*+(?:\r?\n|\Z))")

QP_LINE = 76
BASE64_LINE = 76
#: RFC 5322 2.1.1: a line must not exceed 998 octets, not counting the CRLF.
MAX_LINE = 998


def decode_quoted_printable(data: bytes, defects: list[Defect] | None = None) -> bytes:
    """Quoted-printable to bytes; hard line breaks become CRLF."""
    if (
        b"=" not in data
        and b"\r" not in data
        and b" \n" not in data
        and b"\t\n" not in data
        and not data.endswith((b" ", b"\t"))
    ):
        return data.replace(b"\n", b"\r\n")  # the common fast path: plain text lines
    if defects is not None:
        bad = _QP_BAD_ESCAPE.search(data)
        if bad is not None:
            defects.append(Defect("invalid-qp-escape", bad.start(), "'=' not followed by hex"))
    if b" \n" in data or b"\t\n" in data or b" \r" in data or b"\t\r" in data:
        data = _QP_TRAILING_WSP.sub(b"", data)
    if data.endswith((b" ", b"\t")):
        data = data.rstrip(b" \t")
    # Line breaks are normalised in the encoded form, where a bare LF is a line break; after
    # decoding, an LF may be data (=0A).
    return binascii.a2b_qp(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def _qp_byte(byte: int) -> bytes:
    return b"=%02X" % byte


# Bytes that may stand for themselves in quoted-printable (rule 2), except space and tab,
# which may not end a line and are handled where a line ends.
_QP_LITERAL = frozenset(range(33, 127)) - {ord("=")}
_QP_TABLE = [bytes([b]) if b in _QP_LITERAL else _qp_byte(b) for b in range(256)]
_QP_TABLE[ord(" ")] = b" "
_QP_TABLE[ord("\t")] = b"\t"


def encode_quoted_printable(data: bytes) -> bytes:
    """Bytes to quoted-printable with CRLF line breaks and lines of at most 76 characters."""
    lines = data.split(b"\r\n")
    ends_with_break = lines[-1] == b""
    if ends_with_break:
        lines.pop()
    out: list[bytes] = []
    for index, line in enumerate(lines):
        encoded = [_QP_TABLE[byte] for byte in line]
        if encoded and encoded[-1] in (b" ", b"\t"):
            encoded[-1] = _qp_byte(line[-1])
        # "From " at the start of a line is mangled by mbox writers; "." by some SMTP code.
        if line.startswith(b"From ") or line[:1] == b".":
            encoded[0] = _qp_byte(line[0])
        last = index == len(lines) - 1 and not ends_with_break
        out.append(_wrap_qp_line(encoded, soft_end=last))
    return b"".join(out)


def _wrap_qp_line(encoded: list[bytes], *, soft_end: bool) -> bytes:
    """Join one line's encoded units, breaking with soft line breaks so that no output line
    exceeds 76 characters (the ``=`` of a soft break included) and no unit is split."""
    chunks: list[bytes] = []
    width = 0
    for unit in encoded:
        if width + len(unit) > QP_LINE - 1:
            chunks.append(b"=\r\n")
            width = 0
        chunks.append(unit)
        width += len(unit)
    chunks.append(b"=\r\n" if soft_end else b"\r\n")
    return b"".join(chunks)


def decode_base64(data: bytes, defects: list[Defect] | None = None) -> bytes:
    """base64 to bytes, ignoring characters outside the alphabet (RFC 2045 6.8)."""
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        pass
    # Missing or misplaced padding: decode the whole quanta and keep what is left over.
    alphabet = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    usable = len(alphabet) - len(alphabet) % 4
    if defects is not None:
        defects.append(Defect("invalid-base64", 0, f"{len(alphabet) % 4} stray characters"))
    tail = alphabet[usable:]
    head = binascii.a2b_base64(alphabet[:usable]) if usable else b""
    if len(tail) >= 2:
        head += binascii.a2b_base64(tail + b"=" * (4 - len(tail)))
    return head


def encode_base64(data: bytes) -> bytes:
    """base64 in lines of 76 characters, each ending CRLF."""
    step = BASE64_LINE // 4 * 3
    return b"".join(
        binascii.b2a_base64(data[i : i + step], newline=False) + b"\r\n"
        for i in range(0, len(data), step)
    )


def decode(data: bytes, encoding: str, defects: list[Defect] | None = None) -> bytes:
    """Undo a transfer encoding; an unknown one is an identity with a defect (RFC 2045 6.4)."""
    if encoding == "base64":
        return decode_base64(data, defects)
    if encoding == "quoted-printable":
        return decode_quoted_printable(data, defects)
    if encoding not in ("7bit", "8bit", "binary") and defects is not None:
        defects.append(Defect("unknown-transfer-encoding", 0, encoding))
    return data


def encode(data: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return encode_base64(data)
    if encoding == "quoted-printable":
        return encode_quoted_printable(data)
    return data


def is_line_safe(data: bytes, *, eight_bit: bool) -> bool:
    """True when ``data`` can travel as 7bit (or 8bit): no NUL, no bare CR or LF, lines of at
    most 998 octets (RFC 2045 2.7 and 2.8)."""
    if b"\0" in data:
        return False
    if not eight_bit and not data.isascii():
        return False
    lines = data.split(b"\r\n")
    return all(len(line) <= MAX_LINE and b"\r" not in line and b"\n" not in line for line in lines)


def choose(data: bytes, *, text: bool) -> str:
    """The transfer encoding a careful writer picks: 7bit, else 8bit for text, else
    quoted-printable for mostly-ASCII text, else base64."""
    if is_line_safe(data, eight_bit=False):
        return "7bit"
    if text and is_line_safe(data, eight_bit=True):
        return "8bit"
    if text:
        non_ascii = sum(1 for byte in data if byte > 126)
        if non_ascii * 6 < len(data):
            return "quoted-printable"
    return "base64"
