"""How the field-codec contract tests read a defect's detail or an error's reason."""

from __future__ import annotations

import re


def states(reason: str, phrase: str) -> bool:
    """Whether ``reason`` says ``phrase`` in so many words: the phrase stands on its own,
    neither glued to other letters nor changed in case, so a reader finds it as written."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", reason) is not None
