"""The normalized view of a message and the comparison of two views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from stack.errors import ElsinoreError
from stack.mime.fields import ContentDisposition, ContentType, Group, Mailbox
from stack.mime.model import Data, Kind, Mail, Nested, Parts, Text, kind_of


class ParserMissing(ElsinoreError):
    """An optional parser's package is not installed; the message says which extra installs
    it."""

    def __init__(self, adapter: str, module: str, extra: str) -> None:
        super().__init__(
            f"parser {adapter!r} needs the {module!r} module, which is not installed here: "
            f"pip install 'elsinore[{extra}]'"
        )


#: The disagreement categories, in the order the matrix prints them.
CATEGORIES = ("addresses", "encoded-words", "parameters", "structure", "bodies")

#: Address fields whose mailboxes every adapter reports (groups are flattened to members).
ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc")

Mailboxes = tuple[tuple[str, str, str], ...]  # (display name or "", local-part, domain)
Params = tuple[tuple[str, str, str], ...]  # (header, name, value), sorted


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the MIME tree: where it is, its media type, its parameters and, for a leaf,
    its decoded body (``str`` for text with ``\\n`` line breaks, ``bytes`` otherwise)."""

    path: str
    mime_type: str
    params: Params
    body: str | bytes | None


@dataclass(frozen=True, slots=True)
class View:
    """What a parser read from one message.  A field is None when the parser offers no way to
    read it; such a category is not compared."""

    unstructured: tuple[tuple[str, str], ...] | None
    addresses: tuple[tuple[str, Mailboxes], ...] | None
    nodes: tuple[Node, ...] | None
    bodies_offered: bool = True


class Adapter(Protocol):
    """A parser under test."""

    name: str

    def view(self, data: bytes) -> View:
        """Parse ``data``; raise anything on a crash."""

    def round_trip(self, data: bytes) -> bytes | None:
        """The parser's own serialization of what it parsed, or None if it has none."""


def text_lines(text: str) -> str:
    """Line breaks normalized to ``\\n``: parsers differ in what they hand back, not in
    what the text says."""
    return text.replace("\r\n", "\n")


def sorted_params(*groups: tuple[str, tuple[tuple[str, str], ...]]) -> Params:
    return tuple(
        sorted((header, name.lower(), value) for header, params in groups for name, value in params)
    )


def _mailboxes(value: object) -> Mailboxes:
    found: list[tuple[str, str, str]] = []
    if isinstance(value, tuple):
        for address in value:
            members = address.members if isinstance(address, Group) else (address,)
            for mailbox in members:
                if isinstance(mailbox, Mailbox):
                    found.append((mailbox.name or "", mailbox.local, mailbox.domain))
    return tuple(found)


#: Media types whose content has a grammar of its own that parsers model differently
#: (CPython reads RFC 3464 delivery-status blocks as header-only messages): the view keeps
#: them as leaves without a body, so that only their place in the tree is compared.
OPAQUE_TYPES = frozenset({"message/delivery-status"})


def _node(mail: Mail, path: str, out: list[Node]) -> None:
    written = mail.get("content-type")
    disposition = mail.get("content-disposition")
    # Parameters as written: a part without Content-Type has none, whatever its default.
    params = sorted_params(
        ("content-type", written.params if isinstance(written, ContentType) else ()),
        (
            "content-disposition",
            disposition.params if isinstance(disposition, ContentDisposition) else (),
        ),
    )
    mime_type = mail.content_type.mime_type
    if written is None and isinstance(mail.body, Nested):
        mime_type = "message/rfc822"  # RFC 2046 5.1.5: the default inside a digest
    body = mail.body
    content: str | bytes | None = None
    if mime_type in OPAQUE_TYPES:
        content = None
    elif isinstance(body, Text):
        content = text_lines(body.text)
    elif isinstance(body, Data):
        content = body.data
    out.append(Node(path, mime_type, params, content))
    if isinstance(body, Parts):
        for index, part in enumerate(body.parts, 1):
            _node(part, f"{path}.{index}" if path else str(index), out)
    elif isinstance(body, Nested):
        _node(body.mail, f"{path}.m" if path else "m", out)


def view_of_mail(mail: Mail) -> View:
    """The view of a decoded model: what a reader that agrees with it must see."""
    unstructured = tuple(
        (header.name.lower(), header.value)
        for header in mail.headers
        if kind_of(header.name) is Kind.UNSTRUCTURED and isinstance(header.value, str)
    )
    addresses = tuple(
        (name, _mailboxes(mail.get(name))) for name in ADDRESS_FIELDS if mail.get(name) is not None
    )
    nodes: list[Node] = []
    _node(mail, "", nodes)
    return View(unstructured, addresses, tuple(nodes))


def compare(expected: View, got: View) -> list[tuple[str, str]]:
    """The categories in which ``got`` disagrees with ``expected``, each with the first
    difference found, in :data:`CATEGORIES` order."""
    found: list[tuple[str, str]] = []
    if expected.addresses is not None and got.addresses is not None:
        for (name, want), have in _aligned(expected.addresses, got.addresses):
            if want != have:
                found.append(("addresses", _first_mailbox_difference(name, want, have)))
                break
    if expected.unstructured is not None and got.unstructured is not None:
        for (name, want), have in _aligned(expected.unstructured, got.unstructured):
            if want != have:
                found.append(("encoded-words", f"{name}: {want!r:.200} read as {have!r:.200}"))
                break
    if expected.nodes is not None and got.nodes is not None:
        shape = [(n.path, n.mime_type) for n in expected.nodes]
        other = [(n.path, n.mime_type) for n in got.nodes]
        if shape != other:
            found.append(("structure", f"tree {shape!r:.200} read as {other!r:.200}"))
        else:
            for want_node, have_node in zip(expected.nodes, got.nodes, strict=True):
                if want_node.params != have_node.params:
                    found.append(
                        (
                            "parameters",
                            f"part {want_node.path or 'top'}: {want_node.params!r:.200} read as "
                            f"{have_node.params!r:.200}",
                        )
                    )
                    break
            if got.bodies_offered:
                for want_node, have_node in zip(expected.nodes, got.nodes, strict=True):
                    if want_node.body is not None and want_node.body != have_node.body:
                        found.append(
                            (
                                "bodies",
                                f"part {want_node.path or 'top'}: {want_node.body!r:.120} read as "
                                f"{have_node.body!r:.120}",
                            )
                        )
                        break
    return found


def _first_mailbox_difference(name: str, want: object, have: object) -> str:
    """``name[i]: wanted read as had`` for the first mailbox that differs."""
    if isinstance(want, tuple) and isinstance(have, tuple) and len(want) == len(have):
        for index, (one, other) in enumerate(zip(want, have, strict=True)):
            if one != other:
                return f"{name}[{index}]: {one!r:.300} read as {other!r:.300}"
    return f"{name}: {want!r:.300} read as {have!r:.300}"


def _aligned(
    want: tuple[tuple[str, object], ...], have: tuple[tuple[str, object], ...]
) -> list[tuple[tuple[str, object], object]]:
    """Pair each expected field with the same-named field the parser read (by occurrence).

    A field the parser does not report is left out: an adapter reports the fields its parser
    offers a reading of (mail-parser reads Sender: as text, not as addresses).
    """
    remaining: dict[str, list[object]] = {}
    for name, value in have:
        remaining.setdefault(name, []).append(value)
    pairs: list[tuple[tuple[str, object], object]] = []
    for name, value in want:
        values = remaining.get(name)
        if values:
            pairs.append(((name, value), values.pop(0)))
    return pairs
