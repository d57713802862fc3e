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
