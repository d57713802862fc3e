"""The root of the exceptions that Elsinore raises for input a user can fix.

The command line prints these as one line (``elsinore: error: ...``) and exits non-zero;
anything else that escapes is a bug and is reported as such.
"""


class ElsinoreError(Exception):
    """Bad input or a failed operation that a user can act on."""
