"""How the field-codec contract tests read a defect's detail or an error's reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from stack.mime.errors import Defect, ParseError


def states(reason: str, phrase: str) -> bool:
    """Whether ``reason`` says ``phrase`` in so many words: the phrase stands on its own,
    neither glued to other letters nor changed in case, so a reader finds it as written."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", reason) is not None


def check_defect(
    decode: Callable[[str, list[Defect] | None], Any],
    text: str,
    kind: str,
    at: str | int,
    says: str,
    strict_stop: tuple[int, str] | None = None,
) -> None:
    """Lenient ``decode`` records one ``kind`` defect, at ``at`` (an offset, or the text it
    points at) and stating ``says``; strict mode is lenient mode refusing to record, so it
    stops at the first defect (or at ``strict_stop``, where the strict reader gives up
    earlier than the lenient one's first record)."""
    defects: list[Defect] = []
    decode(text, defects)
    found = [defect for defect in defects if defect.kind == kind]
    assert len(found) == 1, defects
    assert found[0].offset == (at if isinstance(at, int) else text.index(at))
    assert states(found[0].detail, says), found[0]
    with pytest.raises(ParseError) as error:
        decode(text, None)
    stop = strict_stop or (defects[0].offset, defects[0].detail)
    assert (error.value.offset, error.value.reason) == stop
