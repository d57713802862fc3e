"""Marking a message: ``X-Spamtacus`` and a score field prepended, nothing else touched.

The message goes through the lossless parser, and the fields are added with
``Message.prepend``: every byte of the original follows the two new lines unchanged (its line
endings, its folding, a DKIM signature over it), as DESIGN.md's first principle demands.
:func:`mark` does this to bytes (``elsinore spam mark``); :func:`stamp` to a tree the caller
parsed already (the spamfilter service, on the hop's tree), so both write the same fields.
"""

from __future__ import annotations

from stack.mime.lossless import Field, Message, parse
from stack.mime.safe import checked_text
from stack.spam.verdict import Score

VERDICT_FIELD = "X-Spamtacus"
SCORE_FIELD = "X-Spamtacus-Score"


def score_value(score: Score, classifier: str) -> str:
    """``0.9987 (fisher; 15 words)``: the score, the classifier and how many clues counted.

    The classifier's name is configuration: a line break in it is refused
    (:func:`~stack.mime.safe.checked_text`), not written.
    """
    classifier = checked_text(classifier, "classifier")
    words = "word" if score.meaningful == 1 else "words"
    return f"{score.probability:.4f} ({classifier}; {score.meaningful} {words})"


def stamp(message: Message, score: Score, classifier: str) -> tuple[Field, Field]:
    """Prepend ``X-Spamtacus`` and the score field to ``message``, the verdict on top;
    returns the two fields in that order."""
    score_field = message.prepend(SCORE_FIELD, score_value(score, classifier))
    verdict_field = message.prepend(VERDICT_FIELD, score.verdict.value)
    return verdict_field, score_field


def mark(data: bytes, score: Score, classifier: str) -> bytes:
    """``data`` with ``X-Spamtacus: yes|no|unknown`` and the score field prepended.

    The parser puts the fields where a header begins (after an mbox ``From `` line, with the
    message's own line endings).  The result is checked to be exactly ``data`` with the two
    lines inserted at a line boundary; if it is not (an input the parser places oddly), the
    lines go in front of the bytes instead, so no input is ever altered.
    """
    message = parse(data)
    verdict_field, score_field = stamp(message, score, classifier)
    added = bytes(verdict_field) + bytes(score_field)
    marked = bytes(message)
    at = marked.find(added)
    at_line_start = at == 0 or (at > 0 and marked[at - 1 : at] == b"\n")
    if at_line_start and marked[:at] + marked[at + len(added) :] == data:
        return marked
    return added + data
