"""Elsinore's mail stack: one mail domain end to end.

The packages under ``stack`` are the parts of the domain (codec, DNS, SMTP, authentication,
spam filter, relay); ``stack.cli`` gathers their commands.  Nothing here imports ``harness``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("elsinore")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
