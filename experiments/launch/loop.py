"""The host side of training: jitted chunks over vmapped members, progress, checkpoints, metrics.

`run_chunks` is the one host loop. Members (seeds x numeric hyperparameters) are
one vmapped program; between chunks it updates the progress bar, stops on a
non-finite metric, and checkpoints the whole carry (`experiments.launch.checkpoints`), so
rerunning resumes at the last checkpoint and ends bit-identical to an unbroken run.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from algos.common import loop
from envs.core import MEMBER_AXIS
from experiments.launch.checkpoints import CheckpointStore

# Metrics that are NaN by design (no episode finished in that iteration); any other
# non-finite metric stops the run.
MAY_BE_NAN = frozenset({"episode_return", "episode_length"})


class NonFiniteError(FloatingPointError):
    """A metric became NaN or infinite; the message names the metric, iteration and member."""


def history_frame(history: Mapping[str, np.ndarray], learner: loop.Learner) -> pd.DataFrame:
    """Long-format rows (member, iteration, env_steps, metrics...) from `history` [members, iterations]."""
    num_members, iterations = next(iter(history.values())).shape[:2]
    iteration = np.arange(1, iterations + 1)
    frame = pd.DataFrame({k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in history.items()})
    frame.insert(0, "member", np.repeat(np.arange(num_members), iterations))
    frame.insert(1, "iteration", np.tile(iteration, num_members))
    frame.insert(2, "env_steps", learner.prefill_env_steps + frame["iteration"] * learner.env_steps_per_iteration)
    return frame


def check_finite(metrics: Mapping[str, np.ndarray], first_iteration: int, learner: loop.Learner,
                 last_checkpoint: int | None) -> None:
    """Raise `NonFiniteError` at the first non-finite value of a metric outside `MAY_BE_NAN`."""
    for name, values in metrics.items():
        if name in MAY_BE_NAN:
            continue
        bad = ~np.isfinite(values)
        if bad.any():
            member, offset = np.argwhere(bad)[np.argmin(np.argwhere(bad)[:, 1])]
            iteration = first_iteration + int(offset) + 1
            steps = learner.prefill_env_steps + iteration * learner.env_steps_per_iteration
            kept = f"the last good checkpoint is iteration {last_checkpoint}" if last_checkpoint else "no checkpoint kept"
            raise NonFiniteError(
                f"metric {name!r} is {values[member, offset]} at iteration {iteration} (env step {steps}) "
                f"of member {member}; the run stopped; {kept}"
            )


def over_members(fn: Callable, num_members: int, shared: int = 0) -> Callable:
    """`vmap(fn)`, except for a single member: call `fn` unbatched and add the member axis.

    Same leaves either way ([members, ...]); XLA:CPU runs a batch-of-one program up to
    1.5x slower than the unbatched one (measured on PPO CartpoleBalance), so one
    member does not pay for the axis. The last `shared` arguments are the same for
    every member (not batched). The vmap is named `MEMBER_AXIS`, which keeps the
    environments' auto-reset a branch (`envs.wrappers.AutoReset`).
    """
    if num_members > 1:
        def batched(*args):
            in_axes = (0,) * (len(args) - shared) + (None,) * shared
            return jax.vmap(fn, in_axes=in_axes, axis_name=MEMBER_AXIS)(*args)

        return batched

    def single(*args):
        batched, rest = args[: len(args) - shared], args[len(args) - shared:]
        out = fn(*jax.tree.map(lambda x: x[0], batched), *rest)
        return jax.tree.map(lambda x: x[None], out)

    return single


def init_members(learner: loop.Learner, keys: jax.Array, hparams: Mapping[str, jax.Array] | None = None,
                 sharding: jax.sharding.Sharding | None = None) -> loop.Carry:
    """The members' initial carries, leaves [M, ...], from one program vmapped over `MEMBER_AXIS`.

    The axis name matters on tasks with a costly reset: CIP's initialisation on CheetahRun
    (10k prefill steps, 3 members, 2-core CPU) took 1.6 s so, 3.5 s one member at a time,
    and 223 s vmapped without the name (see `envs.wrappers.AutoReset`).
    """
    return jax.jit(over_members(learner.init, keys.shape[0]), out_shardings=sharding)(keys, hparams)


def run_chunks(
    learner: loop.Learner,
    keys: jax.Array,
    total_iterations: int,
    chunk_iterations: int,
    hparams: Mapping[str, jax.Array] | None = None,
    *,
    store: CheckpointStore | None = None,
    checkpoint_interval_s: float = 60.0,
    sharding: jax.sharding.Sharding | None = None,
    on_chunk: Callable[[int, pd.DataFrame], None] | None = None,
    on_checkpoint: Callable[[pd.DataFrame], None] | None = None,
    progress: bool = True,
) -> tuple[loop.Carry, pd.DataFrame, dict[str, float]]:
    """Train one member per key in `keys` [M] (vmapped, one program) for `total_iterations`.

    `hparams` holds per-member overrides of numeric hyperparameters (leaves [M]).
    Iterations are rounded up to whole chunks. With a `store`, the run starts from its
    newest good checkpoint, and checkpoints after a chunk once `checkpoint_interval_s`
    has passed since the last one, and after the final chunk. `sharding` places the
    member axis (e.g. over devices); `on_chunk(iteration, rows)` sees each chunk's rows and
    `on_checkpoint(rows)` all rows so far, after each checkpoint.

    Returns the final carry (leaves [M, ...]), one metrics row per member and
    iteration (`member`, `iteration`, `env_steps` columns) and timings: `compile_s`,
    `train_s` (running the chunks) and `checkpoint_s`, plus `resumed_from` (the
    iteration of the restored checkpoint, 0 for a fresh start).
    """
    num_members = keys.shape[0]
    num_chunks = max(1, math.ceil(total_iterations / chunk_iterations))
    t0 = time.perf_counter()
    abstract = jax.eval_shape(over_members(learner.init, num_members), keys, hparams)
    restored = store.restore_latest(abstract, sharding) if store else None
    if restored is not None:
        if restored.iteration % chunk_iterations:
            raise ValueError(f"checkpoint at iteration {restored.iteration} is not on a chunk boundary "
                             f"of {chunk_iterations} iterations; was chunk_iterations changed?")
        carry, first_chunk, history = restored.carry, restored.iteration // chunk_iterations, restored.history
    else:
        carry, first_chunk, history = init_members(learner, keys, hparams, sharding), 0, {}
    chunk_fn = over_members(loop.make_chunk(learner, chunk_iterations), num_members, shared=1)
    if first_chunk < num_chunks:  # a finished run restores without compiling its step
        chunk = jax.jit(chunk_fn, donate_argnums=0, out_shardings=sharding).lower(carry, jnp.int32(0)).compile()
    jax.block_until_ready(carry)
    compile_s = time.perf_counter() - t0

    steps_per_chunk = chunk_iterations * learner.env_steps_per_iteration * num_members
    chunks: list[dict[str, np.ndarray]] = [history] if history else []
    bar = tqdm(total=num_chunks * steps_per_chunk, initial=first_chunk * steps_per_chunk, unit="step",
               unit_scale=True, disable=not progress, file=sys.stderr, dynamic_ncols=True)
    last_return = float("nan")
    checkpoint_s = 0.0
    last_save = time.perf_counter()
    last_saved_iteration = restored.iteration if restored else None
    t_train = time.perf_counter()
    for c in range(first_chunk, num_chunks):
        carry, metrics = chunk(carry, jnp.int32(c * chunk_iterations))
        metrics = {k: np.asarray(v) for k, v in jax.device_get(metrics).items()}
        check_finite(metrics, c * chunk_iterations, learner, last_saved_iteration)
        chunks.append(metrics)
        returns = metrics.get("episode_return")
        if returns is not None and np.isfinite(returns).any():
            last = [r[np.isfinite(r)][-1] for r in returns if np.isfinite(r).any()]
            last_return = float(np.mean(last))
        bar.update(steps_per_chunk)
        bar.set_postfix(ret=f"{last_return:.1f}")
        iteration = (c + 1) * chunk_iterations
        if on_chunk is not None:
            frame = history_frame(metrics, learner)
            frame["iteration"] += c * chunk_iterations
            frame["env_steps"] += c * chunk_iterations * learner.env_steps_per_iteration
            on_chunk(iteration, frame)
        if store is not None and (c == num_chunks - 1 or time.perf_counter() - last_save >= checkpoint_interval_s):
            t_save = time.perf_counter()
            chunks = [{k: np.concatenate([m[k] for m in chunks], axis=1) for k in chunks[0]}]
            store.save(iteration, carry, chunks[0])
            if on_checkpoint is not None:
                on_checkpoint(history_frame(chunks[0], learner))
            last_saved_iteration = iteration
            last_save = time.perf_counter()
            checkpoint_s += last_save - t_save
    jax.block_until_ready(carry)
    bar.close()
    train_s = time.perf_counter() - t_train
    history = {k: np.concatenate([m[k] for m in chunks], axis=1) for k in chunks[0]}
    timings = {"compile_s": compile_s, "train_s": train_s, "checkpoint_s": checkpoint_s,
               "resumed_from": float(restored.iteration if restored else 0)}
    return carry, history_frame(history, learner), timings
