"""Guards against quadratic time: the shared measurement.

A case runs an input of size n and of size 4n and compares the times: linear code takes about
4 times as long, quadratic code about 16 times.  The bound, 8, is generous so that a busy
shared machine does not make a test flaky, and no absolute time is asserted.
"""

from __future__ import annotations

import functools
import timeit
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

MAX_RATIO = 8.0


def growth(run: Callable[[T], object], small: T, large: T) -> float:
    """How many times longer ``large`` takes than ``small``: best of interleaved timings.

    Each timing repeats the call until it lasts at least 20 ms; small and large are timed
    alternately so that a burst of load from a neighbour hits both alike.
    """
    best = []
    timers = [timeit.Timer(functools.partial(run, text)) for text in (small, large)]
    numbers = []
    for timer in timers:
        number = 1
        while timer.timeit(number) < 0.02:
            number *= 2
        numbers.append(number)
        best.append(float("inf"))
    for _ in range(4):
        for index, timer in enumerate(timers):
            best[index] = min(best[index], timer.timeit(numbers[index]) / numbers[index])
    return best[1] / best[0]


def settled_growth(run: Callable[[T], object], small: T, large: T) -> float:
    """:func:`growth`, measured again (up to three times in all) while it is over
    :data:`MAX_RATIO`: a neighbour's burst of load can spoil one measurement, never three in
    a row the same way, and quadratic code fails all three (its ratio is about 16)."""
    ratio = growth(run, small, large)
    for _ in range(2):
        if ratio < MAX_RATIO:
            break
        ratio = min(ratio, growth(run, small, large))
    return ratio
