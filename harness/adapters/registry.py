"""Which adapters exist and which can run here."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from harness.adapters import mailparser
from harness.adapters.base import Adapter, ParserMissing
from harness.adapters.elsinore import ElsinoreAdapter
from harness.adapters.stdlib import Compat32Adapter, DefaultPolicyAdapter
from stack.errors import ElsinoreError


@dataclass(frozen=True, slots=True)
class Registered:
    """How to make an adapter and, for an optional one, the module it needs and the extra
    (``pip install 'elsinore[EXTRA]'``) that installs that module."""

    make: Callable[[], Adapter]
    module: str | None = None
    extra: str | None = None


#: Every adapter by name.
ADAPTERS: dict[str, Registered] = {
    "elsinore": Registered(ElsinoreAdapter),
    "stdlib-compat32": Registered(Compat32Adapter),
    "stdlib-default": Registered(DefaultPolicyAdapter),
    "mail-parser": Registered(mailparser.MailParserAdapter, mailparser.MODULE, mailparser.EXTRA),
}


def available() -> list[str]:
    """The adapters that can run here, in :data:`ADAPTERS` order."""
    return [
        name
        for name, entry in ADAPTERS.items()
        if entry.module is None or importlib.util.find_spec(entry.module) is not None
    ]


def get(name: str) -> Adapter:
    """The adapter called ``name``; an :class:`ElsinoreError` says why it cannot run (for an
    optional one, :class:`ParserMissing` names the extra to install)."""
    if name not in ADAPTERS:
        raise ElsinoreError(f"unknown parser {name!r} (known: {', '.join(ADAPTERS)})")
    entry = ADAPTERS[name]
    if name not in available():
        assert entry.module is not None and entry.extra is not None
        raise ParserMissing(name, entry.module, entry.extra)
    return entry.make()
