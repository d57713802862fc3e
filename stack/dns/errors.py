"""Errors of the DNS service that a user can act on (a bad zone file, key file or server)."""

from __future__ import annotations

from stack.errors import ElsinoreError
from stack.errors import ListenError as _ListenError


class DnsError(ElsinoreError):
    """The root of the DNS package's user-facing errors."""


class ZoneFileError(DnsError):
    """A master file could not be read or parsed; the message names the file."""


class KeyFileError(DnsError):
    """The TSIG keys file is malformed; the message names the file and line."""


class AddressError(DnsError):
    """An ``ADDR:PORT`` argument is not a loopback-or-literal address with a port."""


class ListenError(DnsError, _ListenError):
    """A server cannot bind its address: the port is taken, privileged, or not ours.

    The stack's :class:`stack.errors.ListenError` (its message and its form), and a
    :class:`DnsError` as every error the dns commands report is.
    """


class RecordSpecError(DnsError):
    """An ``--add`` or ``--delete`` record is not in the form the update command reads."""


class ResolveError(DnsError):
    """No server gave a usable answer: every one timed out, failed or was lame."""
