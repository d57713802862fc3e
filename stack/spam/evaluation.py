"""Measuring a filter on known spam and ham: verdict counts, rates, confusion matrix, ROC.

``spam test``, ``spam report``, the benchmarks and the slow corpus test all read their
numbers from here, so a rate means the same thing everywhere.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack.spam.verdict import Score, Verdict

_VERDICTS = (Verdict.YES, Verdict.NO, Verdict.UNKNOWN)
#: The shares of ham misfiled at which ``spam test`` reports the spam caught.
MISFILED_RATES = (0.0, 0.001)


@dataclass(frozen=True)
class Evaluation:
    """The scores a filter gave known spam and known ham."""

    spam: list[Score]
    ham: list[Score]

    @property
    def total(self) -> int:
        return len(self.spam) + len(self.ham)

    def counts(self, kind: str) -> dict[str, int]:
        """``{"yes": n, "no": n, "unknown": n}`` for ``kind`` ``"spam"`` or ``"ham"``."""
        scores = self.spam if kind == "spam" else self.ham
        counts = {verdict.value: 0 for verdict in _VERDICTS}
        for score in scores:
            counts[score.verdict.value] += 1
        return counts

    def rates(self, kind: str) -> dict[str, float]:
        counts = self.counts(kind)
        total = sum(counts.values())
        return {key: (value / total if total else 0.0) for key, value in counts.items()}

    def as_json(self, **extra: Any) -> dict[str, Any]:
        """The issue's shape, ``{"spam": {...}, "ham": {...}}``, then rates, the ranking's
        figures and ``extra``."""
        return {
            "spam": self.counts("spam"),
            "ham": self.counts("ham"),
            "rates": {
                kind: {key: round(value, 6) for key, value in self.rates(kind).items()}
                for kind in ("spam", "ham")
            },
            "caught_at_misfiled": {
                str(rate): round(self.caught_at(rate), 6) for rate in MISFILED_RATES
            },
            "roc_area": round(self.roc_area(), 8),
            **extra,
        }

    def caught_at(self, misfiled_rate: float) -> float:
        """The share of spam the best cutoff catches while misfiling at most
        ``misfiled_rate`` of the ham: what the scores' order allows, whatever the
        classifier's own cutoffs.  A spam tied with the last ham let through is not caught
        (no cutoff separates them)."""
        if not self.spam:
            return 0.0
        ham = sorted((s.probability for s in self.ham), reverse=True)
        allowed = int(misfiled_rate * len(ham))
        if allowed >= len(ham):
            return 1.0
        return sum(s.probability > ham[allowed] for s in self.spam) / len(self.spam)

    def roc_area(self) -> float:
        """The area under the ROC curve: the chance that a random spam scores above a
        random ham, ties counting half (the Mann-Whitney statistic)."""
        if not self.spam or not self.ham:
            return 0.0
        spam = sorted(s.probability for s in self.spam)
        below = 0.0
        for score in (s.probability for s in self.ham):
            low, high = bisect_left(spam, score), bisect_right(spam, score)
            below += len(spam) - high + (high - low) / 2
        return below / (len(spam) * len(self.ham))

    def table(self) -> str:
        """Counts and rates per class, as a confusion matrix with an ``unknown`` column."""
        lines = [f"{'':8}{'yes':>16}{'no':>16}{'unknown':>16}{'total':>8}"]
        for kind in ("spam", "ham"):
            counts, rates = self.counts(kind), self.rates(kind)
            cells = "".join(
                f"{counts[key]:>7} ({rates[key]:6.1%})" for key in ("yes", "no", "unknown")
            )
            lines.append(f"{kind:8}{cells}{sum(counts.values()):>8}")
        lines.append(
            "spam caught at "
            + ", ".join(
                f"{rate:.1%} ham misfiled: {self.caught_at(rate):.1%}" for rate in MISFILED_RATES
            )
            + f"; 1 - ROC area: {1 - self.roc_area():.4%}"
        )
        return "\n".join(lines)

    def roc(self) -> list[tuple[float, float]]:
        """(ham misfiled rate, spam caught rate) for every threshold on the score, from the
        strictest to the most lenient."""
        marked = [(s.probability, True) for s in self.spam]
        marked += [(s.probability, False) for s in self.ham]
        marked.sort(key=lambda item: item[0], reverse=True)
        spam_total, ham_total = max(len(self.spam), 1), max(len(self.ham), 1)
        points = [(0.0, 0.0)]
        caught = misfiled = 0
        for _, is_spam in marked:
            if is_spam:
                caught += 1
            else:
                misfiled += 1
            points.append((misfiled / ham_total, caught / spam_total))
        return points


#: The SpamAssassin public corpus's folders, in the order the issue's split counts them.
SPAMASSASSIN_SPAM = ("spam", "spam_2")
SPAMASSASSIN_HAM = ("easy_ham", "easy_ham_2", "hard_ham")


@dataclass(frozen=True)
class Split:
    """Training and test files per class."""

    spam_train: list[Path]
    spam_test: list[Path]
    ham_train: list[Path]
    ham_test: list[Path]


def every_fifth(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(train, test): the file at index ``i`` is test when ``i % 5 == 0``."""
    return (
        [path for index, path in enumerate(paths) if index % 5],
        [path for index, path in enumerate(paths) if index % 5 == 0],
    )


def corpus_split(
    root: Path,
    spam_folders: tuple[str, ...] = SPAMASSASSIN_SPAM,
    ham_folders: tuple[str, ...] = SPAMASSASSIN_HAM,
) -> Split:
    """The issue's split: per class, the files of its folders sorted by path, folder after
    folder, counted on across folders; every fifth (index % 5 == 0) is test."""

    def files(folders: tuple[str, ...]) -> list[Path]:
        found: list[Path] = []
        for folder in folders:
            found.extend(sorted(p for p in (root / folder).iterdir() if p.is_file()))
        return found

    spam_train, spam_test = every_fifth(files(spam_folders))
    ham_train, ham_test = every_fifth(files(ham_folders))
    return Split(spam_train, spam_test, ham_train, ham_test)
