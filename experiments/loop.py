"""The host side of training: run jitted chunks over vmapped seeds, show progress, gather metrics."""

from __future__ import annotations

import math
import sys
import time
from typing import Callable, Mapping

import jax
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from algos import loop


def _frame(metrics: Mapping[str, np.ndarray], first_iteration: int, learner: loop.Learner) -> pd.DataFrame:
    """Long-format rows (seed, iteration, env_steps, metrics...) from metrics [seeds, iterations]."""
    num_seeds, iterations = next(iter(metrics.values())).shape[:2]
    iteration = np.arange(first_iteration + 1, first_iteration + iterations + 1)
    frame = pd.DataFrame({k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in metrics.items()})
    frame.insert(0, "seed", np.repeat(np.arange(num_seeds), iterations))
    frame.insert(1, "iteration", np.tile(iteration, num_seeds))
    frame.insert(2, "env_steps", learner.prefill_env_steps + frame["iteration"] * learner.env_steps_per_iteration)
    return frame


def run_chunks(
    learner: loop.Learner,
    keys: jax.Array,
    total_iterations: int,
    chunk_iterations: int,
    hparams: Mapping[str, jax.Array] | None = None,
    on_chunk: Callable[[loop.Carry, pd.DataFrame], None] | None = None,
    progress: bool = True,
) -> tuple[loop.Carry, pd.DataFrame, dict[str, float]]:
    """Train one run per key in `keys` [S] (vmapped, one program) for `total_iterations`.

    `hparams` holds per-seed overrides of numeric hyperparameters (leaves [S]).
    Iterations are rounded up to whole chunks. Returns the final carry (leaves
    [S, ...]), one metrics row per seed and iteration (with `seed`, `iteration` and
    `env_steps` columns), and timings: `compile_s` (initialisation, lowering and
    compilation) and `train_s` (running the chunks), kept apart so that throughput
    excludes compiles.
    """
    num_seeds = keys.shape[0]
    num_chunks = max(1, math.ceil(total_iterations / chunk_iterations))
    t0 = time.perf_counter()
    carry = jax.jit(jax.vmap(learner.init))(keys, hparams)
    chunk_fn = jax.vmap(loop.make_chunk(learner, chunk_iterations))
    chunk = jax.jit(chunk_fn, donate_argnums=0).lower(carry).compile()
    jax.block_until_ready(carry)
    compile_s = time.perf_counter() - t0

    steps_per_chunk = chunk_iterations * learner.env_steps_per_iteration * num_seeds
    frames: list[pd.DataFrame] = []
    bar = tqdm(total=num_chunks * steps_per_chunk, unit="step", unit_scale=True, disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    last_return = float("nan")
    t_train = time.perf_counter()
    for c in range(num_chunks):
        carry, metrics = chunk(carry)
        frame = _frame(jax.device_get(metrics), c * chunk_iterations, learner)
        frames.append(frame)
        if "episode_return" in frame and frame["episode_return"].notna().any():
            last = frame.dropna(subset=["episode_return"]).groupby("seed")["episode_return"].last()
            last_return = float(last.mean())
        bar.update(steps_per_chunk)
        bar.set_postfix(ret=f"{last_return:.1f}")
        if on_chunk is not None:
            on_chunk(carry, frame)
    jax.block_until_ready(carry)
    bar.close()
    train_s = time.perf_counter() - t_train
    metrics = pd.concat(frames, ignore_index=True).sort_values(["seed", "iteration"], ignore_index=True)
    return carry, metrics, {"compile_s": compile_s, "train_s": train_s}
