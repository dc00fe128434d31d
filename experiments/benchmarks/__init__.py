"""Benchmark scripts; each prints its ratios side by side from one run."""

from __future__ import annotations

import time

import jax


def best_time(fn, *args, repeats: int = 3) -> float:
    """Seconds of the fastest of `repeats` calls of `fn(*args)`, after one untimed (compiling) call."""
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best
