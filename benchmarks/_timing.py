"""Interleaved, repeated timing: the machine is shared and noisy, so each contender is timed in
alternating rounds and the best round counts (the least disturbed one), or the median where said."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_rate(contenders: dict[str, Callable[[], object]], *, seconds: float, rounds: int = 7) -> dict[str, float]:
    """Operations per second of each contender: the best of ``rounds`` interleaved rounds."""
    best = dict.fromkeys(contenders, 0.0)
    per_round = seconds / (rounds * len(contenders))
    for _ in range(rounds):
        for name, fn in contenders.items():
            n = 0
            start = time.perf_counter()
            deadline = start + per_round
            while True:
                for _ in range(20):
                    fn()
                n += 20
                now = time.perf_counter()
                if now >= deadline:
                    break
            best[name] = max(best[name], n / (now - start))
    return best


def interleaved(contenders: dict[str, Callable[[], float]], *, rounds: int) -> dict[str, list[float]]:
    """Call each contender's one-round measurement in turn, ``rounds`` times (A B C A B C ...);
    every round's figure, per contender."""
    figures: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, measure in contenders.items():
            figures[name].append(measure())
    return figures


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
