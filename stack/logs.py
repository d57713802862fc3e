"""The log of a long-running command: one line per event on stderr, as a daemon writes it.

:func:`service_log` sets the root logger up for the length of a command and puts it back
as it was afterwards.  ``logging.basicConfig`` would leave its handler behind: a command run
in-process (a test through click's runner, a service started by ``stack up --one-process``)
then left a handler on a stream that was closed, and every later log record failed on it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

#: aiosmtpd logs every command at INFO, client-chosen bytes and all (a sender that is not
#: UTF-8 comes through as lone surrogates): our own event lines say what matters, escaped.
_CHATTY = ("mail.log",)


@contextlib.contextmanager
def service_log(name: str, *, timestamps: bool = True) -> Iterator[logging.Logger]:
    """Log INFO and above to stderr as ``[time] NAME: message`` until the block ends."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    stamp = "%(asctime)s " if timestamps else ""
    handler.setFormatter(logging.Formatter(f"{stamp}{name}: %(message)s"))
    saved_level = root.level
    saved_chatty = {chatty: logging.getLogger(chatty).level for chatty in _CHATTY}
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for chatty in _CHATTY:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        yield root
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        for chatty, level in saved_chatty.items():
            logging.getLogger(chatty).setLevel(level)


__all__ = ["service_log"]
