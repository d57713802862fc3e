"""What a classifier says about one message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    """The value of ``X-Spamtacus``: spamtacus's three answers."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Score:
    """A verdict, the spam probability it was read from, and the evidence: the tokens that
    counted, each with its own spam probability (most interesting first)."""

    verdict: Verdict
    probability: float
    evidence: tuple[tuple[str, float], ...] = ()

    @property
    def meaningful(self) -> int:
        return len(self.evidence)


def verdict_for(probability: float, *, ham_cutoff: float, spam_cutoff: float) -> Verdict:
    """``yes`` at ``spam_cutoff`` or more, ``no`` at ``ham_cutoff`` or less, else ``unknown``."""
    if probability >= spam_cutoff:
        return Verdict.YES
    if probability <= ham_cutoff:
        return Verdict.NO
    return Verdict.UNKNOWN
