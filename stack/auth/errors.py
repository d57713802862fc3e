"""Errors of the authentication package that a user can act on."""

from __future__ import annotations

import dns.rcode

from stack.errors import ElsinoreError
from stack.mime.errors import ParseError


class AuthError(ElsinoreError):
    """The root of stack.auth's user-facing errors (a bad key, address or message)."""


class SigningKeyError(AuthError):
    """A DKIM private key file could not be read or is not a key we sign with."""


class PublishError(AuthError):
    """The primary refused, or never answered, the update that publishes a DKIM key."""


class UpdateRefusedError(PublishError):
    """The primary answered with an error: ``rcode`` says which (NOTAUTH for a TSIG key it
    does not take, REFUSED, NOTZONE for a name outside the zone...)."""

    def __init__(self, message: str, rcode: dns.rcode.Rcode) -> None:
        super().__init__(message)
        self.rcode = rcode


class KeyNameError(AuthError):
    """A signing domain or selector that is not a DNS name a key record can live at."""


class MessageError(AuthError, ParseError):
    """A message DKIM or ARC cannot sign or read: where it goes wrong (a byte offset) and why,
    quoting an excerpt.  A :class:`~stack.mime.ParseError` too, so whoever already catches
    the codec's errors catches these."""


class RecordTextError(AuthError):
    """A TXT record's text that a key record cannot hold (a DKIM key record is ASCII)."""
