"""Errors of the authentication package that a user can act on."""

from __future__ import annotations

from stack.errors import ElsinoreError


class AuthError(ElsinoreError):
    """The root of stack.auth's user-facing errors (a bad key, address or message)."""


class SigningKeyError(AuthError):
    """A DKIM private key file could not be read or is not a key we sign with."""


class PublishError(AuthError):
    """The primary refused, or never answered, the update that publishes a DKIM key."""


class KeyNameError(AuthError):
    """A signing domain or selector that is not a DNS name a key record can live at."""
