"""HTML to the words a reader sees, plus the links they would follow.

Spam hides in markup: text is split by tags (``V<b></b>iagra``), padded with invisible
comments, and its real payload is the link.  So tags are replaced by a space, comments,
``<style>`` and ``<script>`` are dropped, entities are decoded, and the values of the
attributes that point somewhere (``href``, ``src``, ``action``) are kept as URLs for the
tokenizer to crack.

The scan is one pass of ``str.find``, linear in the input; the one regular expression (a tag
name) is a bounded run of one character class.  A hostile message (unclosed comments, a
megabyte of ``<``) costs no more than its length.
"""

from __future__ import annotations

import html
import re

_URL_ATTRIBUTES = ("href", "src", "action", "background")
# Only these elements are searched for URL attributes: one set lookup per tag instead of
# four scans of every <font> and <td>.
_LINKING_ELEMENTS = frozenset(
    {"a", "area", "img", "form", "frame", "iframe", "body", "table", "td", "input", "link"}
)
_SKIPPED_ELEMENTS = frozenset({"style", "script", "title"})
_NAME = re.compile(r"[^\s/>]{1,16}")  # a bounded run of one class: nothing to backtrack


def strip_html(markup: str) -> tuple[str, list[str]]:
    """The visible text of ``markup`` and the URLs its tags point to."""
    lower = markup.lower()
    pieces: list[str] = []
    urls: list[str] = []
    position = 0
    length = len(markup)
    while position < length:
        start = lower.find("<", position)
        if start < 0:
            pieces.append(markup[position:])
            break
        pieces.append(markup[position:start])
        if lower.startswith("<!--", start):
            end = lower.find("-->", start + 4)
            position = length if end < 0 else end + 3
            continue
        end = lower.find(">", start + 1)
        if end < 0:
            break  # an unclosed tag: the rest is markup, not text
        name = _tag_name(lower, start + 1, end)
        if name in _SKIPPED_ELEMENTS:
            close = lower.find("</" + name, end)
            position = length if close < 0 else close
            if name == "title":
                pieces.append(" " + markup[end + 1 : position] + " ")
            continue
        if name in _LINKING_ELEMENTS:
            _attribute_urls(lower, markup, start, end, urls)
        pieces.append(" ")
        position = end + 1
    return html.unescape("".join(pieces)), urls


def _tag_name(lower: str, start: int, end: int) -> str:
    found = _NAME.match(lower, start, end)
    return found.group() if found else ""


def _attribute_urls(lower: str, markup: str, start: int, end: int, urls: list[str]) -> None:
    for attribute in _URL_ATTRIBUTES:
        found = lower.find(attribute + "=", start, end)
        if found < 0:
            continue
        value_start = found + len(attribute) + 1
        quote = markup[value_start] if value_start < end else ""
        if quote in ("'", '"'):
            value_end = lower.find(quote, value_start + 1, end)
            value = markup[value_start + 1 : end if value_end < 0 else value_end]
        else:
            value_end = value_start
            while value_end < end and not markup[value_end].isspace():
                value_end += 1
            value = markup[value_start:value_end]
        if value:
            urls.append(html.unescape(value.strip()))
