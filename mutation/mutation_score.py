"""A module's mutation score from the statuses mutmut recorded (no mutmut import here)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

# mutmut's exit codes read as kills: a failing test, a test run that broke, a timeout (the
# mutant looped), mypy refusing the mutant.
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
UNCOUNTED = {"skipped"}


@dataclass
class Score:
    module: str
    statuses: Counter[str] = field(default_factory=Counter)
    equivalent: int = 0
    stale: list[str] = field(default_factory=list)

    @property
    def mutants(self) -> int:
        return sum(self.statuses.values()) + self.equivalent

    @property
    def counted(self) -> int:
        """The mutants the score is out of: ``statuses`` holds no equivalent already."""
        return sum(self.statuses.values()) - sum(self.statuses[s] for s in UNCOUNTED)

    @property
    def killed(self) -> int:
        return sum(self.statuses[s] for s in KILLED)

    @property
    def unchecked(self) -> int:
        return self.statuses["not checked"]

    @property
    def percent(self) -> float:
        """Killed out of the mutants that were run; a module with some not run yet fails
        the threshold whatever this says (see ``unchecked``)."""
        checked = self.counted - self.unchecked
        return 100.0 * self.killed / checked if checked else 100.0

    def as_json(self) -> dict[str, object]:
        return {
            "module": self.module,
            "mutants": self.mutants,
            "killed": self.killed,
            "survived": self.counted - self.killed - self.unchecked,
            "unchecked": self.unchecked,
            "equivalent": self.equivalent,
            "score": round(self.percent, 1),
            "statuses": dict(self.statuses),
            "stale_equivalents": self.stale,
        }


def tally(
    module: str,
    statuses: Mapping[str, str],
    listed: Collection[str],
    still_equivalent: Callable[[str], bool],
) -> Score:
    """The score of ``module`` from each mutant's status.  A mutant ``listed`` as equivalent
    that lived is left out of the score if ``still_equivalent`` confirms it writes the listed
    line, and counted (and reported stale) if not; a listed mutant that was killed counts as
    killed, since a test can tell it apart after all."""
    score = Score(module)
    for mutant, status in statuses.items():
        if mutant in listed and status not in KILLED:
            if still_equivalent(mutant):
                score.equivalent += 1
                continue
            score.stale.append(mutant)
        score.statuses[status] += 1
    return score
