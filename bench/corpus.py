"""The benchmark inputs: the SpamAssassin corpus, read once, in path order."""

from __future__ import annotations

from pathlib import Path

from harness.shared import corpora_dir


def spamassassin_messages() -> list[bytes] | None:
    """Every message of the SpamAssassin corpus, or None when it is not there."""
    root = corpora_dir() / "spamassassin"
    if not root.is_dir():
        return None
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [p.read_bytes() for p in files]


def stdlib_read_everything(message: object) -> None:
    """What ``decode`` does, done with stdlib ``policy.default``: every field of every part
    read as its typed value, every leaf body decoded."""
    from email.message import EmailMessage

    assert isinstance(message, EmailMessage)
    for part in message.walk():
        for _name, value in part.items():
            str(value)
        if not part.is_multipart():
            try:
                part.get_content()
            except (KeyError, LookupError):
                part.get_payload(decode=True)  # an unknown charset or content manager type


__all__ = ["Path", "spamassassin_messages", "stdlib_read_everything"]
