"""The per-token cache computes each value once, forgets what does not count only as
"does not count", and stays bounded however many one-off tokens a long-running filter meets."""

from __future__ import annotations

from stack.spam.counts import WordCounts
from stack.spam.memo import TokenMemo


def _memo(calls: list[str], words: dict[str, tuple[int, int]]) -> TokenMemo[float]:
    def value(token: str, counts: tuple[int, int]) -> float | None:
        calls.append(token)
        spam, ham = counts
        return spam / (spam + ham) if spam != ham else None

    return TokenMemo(WordCounts(10, 10, words), value)


def test_each_value_is_computed_once_and_only_counting_ones_come_back() -> None:
    calls: list[str] = []
    memo = _memo(calls, {"cash": (9, 1), "even": (3, 3), "meeting": (1, 4)})
    tokens = ["cash", "even", "unknown", "meeting", "cash"]
    assert memo.values(tokens) == [0.9, 0.2, 0.9]
    assert memo.values(tokens) == [0.9, 0.2, 0.9]
    assert memo.known(tokens) == [("cash", 0.9), ("meeting", 0.2), ("cash", 0.9)]
    assert memo.get("even") is None and memo.get("unknown") is None
    assert sorted(calls) == ["cash", "even", "meeting"]  # unknown tokens cost no call


def test_the_memo_is_emptied_when_it_outgrows_its_limit() -> None:
    calls: list[str] = []
    memo = _memo(calls, {"cash": (9, 1)})
    limit = 4 * 1 + 100_000
    memo.values([f"one-off-{i}" for i in range(limit + 10)])
    assert len(memo._memo) <= limit + 1
    assert memo.values(["cash"]) == [0.9]
