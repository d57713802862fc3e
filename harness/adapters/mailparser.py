"""``mail-parser`` (SpamScope's, on PyPI as ``mail-parser``), optional: used when installed
(``pip install 'elsinore[mailparser]'``).

It decodes header fields and address lists itself and keeps CPython's ``compat32`` tree for
the MIME structure; it hands back bodies as lists of texts and attachments rather than per
part, so bodies are not compared and it has no serializer.
"""

from __future__ import annotations

import importlib
import logging

from harness.adapters.base import ADDRESS_FIELDS, Node, ParserMissing, View
from harness.adapters.stdlib import Compat32Adapter, _split_addr
from stack.mime.model import Kind, kind_of

#: The module it needs, and the extra of ours (pyproject.toml) that installs it.
MODULE = "mailparser"
EXTRA = "mailparser"


class MailParserAdapter:
    """mail-parser's own header decoding, over CPython's compat32 tree."""

    name = "mail-parser"

    def __init__(self) -> None:
        # Imported here, not at the top: the package is optional.
        try:
            self._parse = importlib.import_module(MODULE).parse_from_bytes
        except ImportError:
            raise ParserMissing(self.name, MODULE, EXTRA) from None
        self._tree = _Tree()
        # It logs every media type it does not render; the matrix is the report here.
        logging.getLogger("mailparser").setLevel(logging.CRITICAL)

    def view(self, data: bytes) -> View:
        parsed = self._parse(data)
        headers = {name.lower(): value for name, value in parsed.headers.items()}
        # Only the fields it hands back as text: it reads some (Delivered-To:) as addresses.
        unstructured = tuple(
            (name, value.strip())
            for name, value in headers.items()
            if kind_of(name) is Kind.UNSTRUCTURED and isinstance(value, str)
        )
        addresses = tuple(
            (
                name,
                tuple((display, *_split_addr(addr)) for display, addr in headers[name]),
            )
            for name in ADDRESS_FIELDS
            if isinstance(headers.get(name), list)
        )
        nodes: list[Node] = []
        self._tree.node(parsed.message, "", nodes)
        return View(unstructured, addresses, tuple(nodes), bodies_offered=False)

    def round_trip(self, data: bytes) -> bytes | None:
        return None


class _Tree(Compat32Adapter):
    def body(self, message: object) -> str | bytes:
        return b""
