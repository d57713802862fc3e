"""Which adapters exist and which can run here."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from harness.adapters.base import Adapter
from harness.adapters.elsinore import ElsinoreAdapter
from harness.adapters.mailparser import MailParserAdapter
from harness.adapters.stdlib import Compat32Adapter, DefaultPolicyAdapter
from stack.errors import ElsinoreError

#: Every adapter by name, with the module it needs (None: always available).
ADAPTERS: dict[str, tuple[Callable[[], Adapter], str | None]] = {
    "elsinore": (ElsinoreAdapter, None),
    "stdlib-compat32": (Compat32Adapter, None),
    "stdlib-default": (DefaultPolicyAdapter, None),
    "mail-parser": (MailParserAdapter, "mailparser"),
}


def available() -> list[str]:
    """The adapters that can run here, in :data:`ADAPTERS` order."""
    return [
        name
        for name, (_, module) in ADAPTERS.items()
        if module is None or importlib.util.find_spec(module) is not None
    ]


def get(name: str) -> Adapter:
    """The adapter called ``name``; an :class:`ElsinoreError` says why it cannot run."""
    if name not in ADAPTERS:
        raise ElsinoreError(f"unknown parser {name!r} (known: {', '.join(ADAPTERS)})")
    if name not in available():
        raise ElsinoreError(f"parser {name!r} is not installed here")
    return ADAPTERS[name][0]()
