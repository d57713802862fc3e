"""The resolver for synchronous callers: pyspf's and dkimpy's DNS hooks are blocking functions.

:class:`BlockingResolver` runs a :class:`~.resolver.Resolver` on its own event loop in a
daemon thread, so it can be called from plain code and from inside another event loop's
thread alike (where ``asyncio.run`` would fail) and the cache is shared by every call.
"""

from __future__ import annotations

import asyncio
import threading

import dns.rdata
import dns.rdatatype
import dns.rdtypes.txtbase

from stack.dns.cache import Answer
from stack.dns.errors import ResolveError
from stack.dns.resolver import NameLike, Resolver, TypeLike


class BlockingResolver:
    """Blocking calls into one :class:`Resolver`; ``close()`` stops its thread."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="elsinore-dns-resolver", daemon=True
        )
        self._thread.start()

    def resolve(self, name: NameLike, rdtype: TypeLike = "A", timeout: float = 30.0) -> Answer:
        """:meth:`Resolver.resolve`, waiting at most ``timeout`` seconds in all."""
        future = asyncio.run_coroutine_threadsafe(self.resolver.resolve(name, rdtype), self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise ResolveError(f"{name} {rdtype}: no answer within {timeout} s") from None

    def records(
        self, name: NameLike, rdtype: TypeLike, timeout: float = 30.0
    ) -> list[dns.rdata.Rdata]:
        """The records of the asked type; empty for NXDOMAIN and NODATA alike."""
        rrset = self.resolve(name, rdtype, timeout).rrset()
        return list(rrset or ())

    def txt(self, name: NameLike, timeout: float = 5.0) -> bytes | None:
        """The first TXT record's strings joined: the shape of dkimpy's ``dnsfunc``."""
        for rdata in self.records(name, dns.rdatatype.TXT, timeout):
            if isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
                return b"".join(rdata.strings)
        return None

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> BlockingResolver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
