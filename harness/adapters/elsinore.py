"""This project's codec as a parser under test."""

from __future__ import annotations

from harness.adapters.base import View, view_of_mail
from stack.mime import decode, parse


class ElsinoreAdapter:
    """``stack.mime.decode`` (lenient, as a mail program reads) and, for round trips, the
    lossless tree that hops use to forward a message: ``bytes(parse(b))``."""

    name = "elsinore"

    def view(self, data: bytes) -> View:
        return view_of_mail(decode(data))

    def round_trip(self, data: bytes) -> bytes | None:
        return bytes(parse(data))
