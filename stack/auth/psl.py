"""The organizational domain (RFC 7489 §3.2) from the Public Suffix List.

The list ships as package data (``data/public_suffix_list.dat``, Debian's ``publicsuffix``
package, MPL-2.0, header kept), so no lookup ever leaves the machine.  The matching follows
the list's own algorithm (https://publicsuffix.org/list/): the rule with most labels
prevails, ``*`` labels match any one label, ``!`` exceptions beat every other rule, and a
name no rule matches has its last label as public suffix (the implicit ``*`` rule), which is
what makes ``castle.test`` an organizational domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources

DATA_FILE = "public_suffix_list.dat"


class SuffixList:
    """The rules of one public suffix list, both its ICANN and its private sections."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._rules: set[str] = set()
        self._exceptions: set[str] = set()
        for line in lines:
            rule = line.strip().split(" ", 1)[0].lower()
            if not rule or rule.startswith("//"):
                continue
            rule = rule.encode("idna").decode("ascii") if not rule.isascii() else rule
            if rule.startswith("!"):
                self._exceptions.add(rule[1:])
            else:
                self._rules.add(rule)

    def public_suffix(self, domain: str) -> str:
        """The longest public suffix of ``domain`` (lowercased, without the final dot)."""
        labels = _labels(domain)
        for start in range(len(labels)):
            candidate = ".".join(labels[start:])
            if candidate in self._exceptions:
                return ".".join(labels[start + 1 :])
            wildcard = ".".join(["*", *labels[start + 1 :]])
            if candidate in self._rules or (start + 1 < len(labels) and wildcard in self._rules):
                return candidate
        return labels[-1] if labels else ""

    def organizational_domain(self, domain: str) -> str:
        """RFC 7489 §3.2: the public suffix and one label more, or the domain itself when
        it is a public suffix."""
        labels = _labels(domain)
        suffix = self.public_suffix(domain)
        size = len(suffix.split(".")) if suffix else 0
        return ".".join(labels[-(size + 1) :]) if len(labels) > size else ".".join(labels)


def _labels(domain: str) -> list[str]:
    text = domain.strip().rstrip(".").lower()
    return [label for label in text.split(".") if label]


@cache
def default_list() -> SuffixList:
    """The list shipped with the package, read once."""
    text = resources.files("stack.auth").joinpath("data", DATA_FILE).read_text("utf-8")
    return SuffixList(text.splitlines())


def organizational_domain(domain: str) -> str:
    return default_list().organizational_domain(domain)


__all__ = ["SuffixList", "default_list", "organizational_domain"]
