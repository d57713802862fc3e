"""The organizational domain (RFC 7489 §3.2) from the Public Suffix List.

The list and its matching come from the ``publicsuffixlist`` package, which ships the list
(https://publicsuffix.org/list/) and is released again whenever the list changes, so an
upgrade is how it stays fresh and no lookup ever leaves the machine.  A name under no rule
has its last label as public suffix (the list's implicit ``*`` rule, the package's
``accept_unknown``), which is what makes ``castle.test`` an organizational domain.

Both sections of the list count, the private one too.  §3.2 asks for the "DNS domain names
reserved for registrations", and the private section lists exactly those that a company
hands out to unrelated customers (``github.io``, ``blogspot.com``): with the ICANN section
alone, ``mallory.github.io`` would share ``github.io`` as organizational domain with
``alice.github.io`` and her SPF and DKIM passes would align, relaxed, with his From.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from publicsuffixlist import PublicSuffixList


class SuffixList:
    """The rules of one public suffix list, both its ICANN and its private sections."""

    def __init__(self, lines: Iterable[str] | None = None) -> None:
        """``lines`` of a list in the publicsuffix.org format; None for the package's."""
        self._list = PublicSuffixList(None if lines is None else list(lines))

    def public_suffix(self, domain: str) -> str:
        """The longest public suffix of ``domain`` (lowercased, without the final dot)."""
        name = _normalized(domain)
        return (self._list.publicsuffix(name) or "") if name else ""

    def organizational_domain(self, domain: str) -> str:
        """RFC 7489 §3.2: the public suffix and one label more, or the domain itself when
        it is a public suffix."""
        name = _normalized(domain)
        return (self._list.privatesuffix(name) or name) if name else ""


def _normalized(domain: str) -> str:
    # Empty labels (a stray or final dot) are dropped, as a resolver would read the name;
    # the package answers None for them instead.
    text = domain.strip().lower()
    return ".".join(label for label in text.split(".") if label)


@cache
def default_list() -> SuffixList:
    """The list that the ``publicsuffixlist`` package ships, read once."""
    return SuffixList()


def organizational_domain(domain: str) -> str:
    return default_list().organizational_domain(domain)


__all__ = ["SuffixList", "default_list", "organizational_domain"]
