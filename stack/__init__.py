"""Elsinore's mail stack: one mail domain end to end.

The packages under ``stack`` are the parts of the domain (codec, DNS, SMTP, authentication,
spam filter, relay); ``stack.cli`` gathers their commands.  Nothing here imports ``harness``.
"""

from typing import TYPE_CHECKING

__all__ = ["__version__"]

__version__: str

# Hidden from type checkers, to which a module ``__getattr__`` would make every misspelt
# attribute of ``stack`` a str.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> str:
        """``__version__``, read from the installed distribution the first time it is asked
        for: every command imports this package, and :mod:`importlib.metadata` (with the
        ``email`` parser it reads metadata with) costs 15-20 ms of start-up that only
        ``--version`` needs."""
        if name != "__version__":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            found = version("elsinore")
        except PackageNotFoundError:  # running from a source tree that was never installed
            found = "0.0.0+unknown"
        globals()["__version__"] = found
        return found
