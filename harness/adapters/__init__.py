"""Parsers under test, each behind one interface: bytes in, a normalized :class:`View` out.

A :class:`View` holds what a mail program reads from a message, in a form every parser can be
brought to: the decoded values of unstructured header fields, the address lists (display name,
local-part, domain), the MIME tree (path and media type of every node), the parameters of every
node and the decoded body of every leaf.  Two parsers agree on a message when their views are
equal; :func:`compare` says in which category they do not.

Adapters: ``elsinore`` (this project's codec), ``stdlib-compat32`` and ``stdlib-default``
(CPython's ``email`` package under its two policies), and optional ones when installed
(``mail-parser``).  :func:`available` lists those that can run here.
"""

from __future__ import annotations

from harness.adapters.base import (
    CATEGORIES,
    Adapter,
    Node,
    ParserMissing,
    View,
    compare,
    view_of_mail,
)
from harness.adapters.registry import ADAPTERS, available, get

__all__ = [
    "ADAPTERS",
    "CATEGORIES",
    "Adapter",
    "Node",
    "ParserMissing",
    "View",
    "available",
    "compare",
    "get",
    "view_of_mail",
]
