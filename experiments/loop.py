"""The host side of training: run jitted chunks, show progress, gather metrics."""

from __future__ import annotations

import math
import sys
import time
from typing import Callable

import jax
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from algos import loop


def run_chunks(
    learner: loop.Learner,
    key: jax.Array,
    total_iterations: int,
    chunk_iterations: int,
    on_chunk: Callable[[loop.Carry, pd.DataFrame], None] | None = None,
    progress: bool = True,
) -> tuple[loop.Carry, pd.DataFrame, dict[str, float]]:
    """Train for `total_iterations`, rounded up to whole chunks.

    Returns the final carry, one metrics row per iteration (with `iteration` and
    `env_steps` columns), and timings: `compile_s` (lowering + compilation of the
    chunk) and `train_s` (running it), kept apart so throughput excludes compiles.
    """
    num_chunks = max(1, math.ceil(total_iterations / chunk_iterations))
    t0 = time.perf_counter()
    carry = jax.jit(learner.init)(key)
    chunk = jax.jit(loop.make_chunk(learner, chunk_iterations), donate_argnums=0).lower(carry).compile()
    compile_s = time.perf_counter() - t0

    steps_per_chunk = chunk_iterations * learner.env_steps_per_iteration
    frames: list[pd.DataFrame] = []
    bar = tqdm(total=num_chunks * steps_per_chunk, unit="step", unit_scale=True, disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    last_return = float("nan")
    t_train = time.perf_counter()
    for c in range(num_chunks):
        carry, metrics = chunk(carry)
        metrics = jax.device_get(metrics)
        first = c * chunk_iterations
        frame = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()})
        frame.insert(0, "iteration", np.arange(first + 1, first + chunk_iterations + 1))
        frame.insert(1, "env_steps", frame["iteration"] * learner.env_steps_per_iteration)
        frames.append(frame)
        if "episode_return" in frame and frame["episode_return"].notna().any():
            last_return = float(frame["episode_return"].dropna().iloc[-1])
        bar.update(steps_per_chunk)
        bar.set_postfix(ret=f"{last_return:.1f}")
        if on_chunk is not None:
            on_chunk(carry, frame)
    bar.close()
    train_s = time.perf_counter() - t_train
    return carry, pd.concat(frames, ignore_index=True), {"compile_s": compile_s, "train_s": train_s}
