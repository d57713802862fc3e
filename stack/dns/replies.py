"""Rendered replies kept by question, so a warm zone answers without parsing or rendering.

For an unsigned standard query the reply depends only on the query's octets after the id
(question, flags, EDNS0 options), the transport and the zones served; a hit costs a dictionary
look-up and copying the new id in.  The primary clears the cache whenever its zones change.
Size is bounded: when full, the cache starts over, which keeps a flood of distinct names from
costing more than ``max_entries`` replies.
"""

from __future__ import annotations

ID_SIZE = 2
MAX_ENTRIES = 1024


class ReplyCache:
    """Replies by (transport, query octets after the id)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._replies: dict[tuple[bool, bytes], bytes] = {}

    def __len__(self) -> int:
        return len(self._replies)

    def get(self, wire: bytes, tcp: bool) -> bytes | None:
        """The reply to ``wire`` under its own id, if one was kept."""
        reply = self._replies.get((tcp, wire[ID_SIZE:]))
        return None if reply is None else wire[:ID_SIZE] + reply[ID_SIZE:]

    def put(self, wire: bytes, tcp: bool, reply: bytes) -> None:
        if len(self._replies) >= self.max_entries:
            self._replies.clear()
        self._replies[(tcp, wire[ID_SIZE:])] = reply

    def clear(self) -> None:
        self._replies.clear()
