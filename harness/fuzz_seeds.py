"""Choosing fuzz seeds from a folder of messages: the smallest message of each MIME shape and
the shortest field value of each lexical shape.

``fuzz/make_seeds.py`` applies it to the generated sample in ``corpus/`` to make the committed
seeds.  Real mail is never copied into the repository (DESIGN.md): the runner applies the same
choice to the SpamAssassin corpus at run time, when ``ELSINORE_CORPORA`` has it, and passes the
result to libFuzzer as a second, read-only seed folder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from harness.shared import corpora_dir
from stack.mime import decode, parse
from stack.mime.sources import iter_messages

MESSAGES = 36
MAX_MESSAGE = 12 * 1024
FIELDS = 40

FIELD_FAMILIES = {
    "address": ("from", "to", "cc", "reply-to", "sender", "bcc"),
    "date": ("date", "resent-date"),
    "params": ("content-type", "content-disposition"),
    "unstructured": ("subject", "comments", "keywords"),
    "msg_id": ("message-id", "in-reply-to", "references", "content-id"),
}


def pick_messages(messages: list[bytes]) -> list[bytes]:
    """The smallest message of each MIME shape, the rarest shapes first."""
    by_shape: dict[str, list[bytes]] = {}
    for data in messages:
        if len(data) <= MAX_MESSAGE:
            by_shape.setdefault(message_shape(data), []).append(data)
    shapes = sorted(by_shape, key=lambda shape: (len(by_shape[shape]), shape))
    return [min(by_shape[shape], key=lambda d: (len(d), d)) for shape in shapes[:MESSAGES]]


def message_shape(data: bytes) -> str:
    mail = decode(data)
    parts = []
    for part in mail.walk():
        content_type = part.content_type
        parts.append(
            f"{content_type.maintype}/{content_type.subtype}:{part.transfer_encoding}"
            f":{content_type.param('charset')}"
        )
    encoded_words = b"=?" in data.split(b"\n\n", 1)[0]
    return f"{'|'.join(parts)} ew={encoded_words} defects={bool(mail.all_defects())}"


def field_values(messages: Iterable[bytes], names: tuple[str, ...]) -> list[bytes]:
    values = []
    for data in messages:
        for part in parse(data).walk():
            for field in part.fields:
                if field.is_field and field.name.lower() in names:
                    values.append(field.unfolded().encode("utf-8", "surrogateescape"))
    return values


_LETTERS = re.compile(rb"[A-Za-z]+")
_DIGITS = re.compile(rb"[0-9]+")


def pick_by_shape(values: list[bytes], count: int) -> list[bytes]:
    """The shortest value of each lexical shape (letters and digits folded), the rarest
    shapes first: punctuation and structure are what a field grammar branches on."""
    by_shape: dict[bytes, list[bytes]] = {}
    for value in values:
        shape = _DIGITS.sub(b"0", _LETTERS.sub(b"a", value))
        by_shape.setdefault(shape, []).append(value)
    shapes = sorted(by_shape, key=lambda shape: (len(by_shape[shape]), shape))
    return [min(by_shape[shape], key=lambda v: (len(v), v)) for shape in shapes[:count]]


def pick(family: str, messages: list[bytes]) -> list[bytes]:
    """The seeds of ``family`` (``message`` or a field family) found in ``messages``."""
    if family == "message":
        return pick_messages(messages)
    return pick_by_shape(field_values(messages, FIELD_FAMILIES[family]), FIELDS)


def real_seeds(family: str, folder: Path) -> Path | None:
    """``folder`` filled with the seeds of ``family`` chosen from the real SpamAssassin corpus
    (once; later runs reuse it), or None when the family reads no mail or the corpus is absent."""
    source = corpora_dir() / "spamassassin"
    if family != "message" and family not in FIELD_FAMILIES:
        return None
    if not source.is_dir():
        return None
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    messages = [item.data for item in iter_messages([source])]
    for data in pick(family, messages):
        (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)
    return folder
