"""Shared timing helper of the benchmark scripts."""
from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["best_time"]


def best_time(fn: Callable[[], object], reps: int) -> float:
    """Best wall time of `reps` calls after one warm-up call (allocator, oneDNN primitive cache)."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
