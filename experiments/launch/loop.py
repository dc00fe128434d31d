"""The one host loop: jitted chunks over vmapped members, progress, checkpoints, metrics.

Every checkpointed training in the project runs through `run_chunks`: the launcher's
runs (`experiments.launch.run`), AIME's stages and AIME-v2's online phase. Members (seeds x
numeric hyperparameters) are one vmapped program; between chunks it updates the progress
bar, checks the metrics, and checkpoints the whole carry (`experiments.launch.checkpoints`), so
rerunning resumes at the last checkpoint and ends bit-identical to an unbroken run.

A member whose metrics go non-finite is frozen, not fatal, when other members are healthy:
its carry goes back to its state at the start of that chunk (its last good state) and stays
there, its metrics are NaN from that iteration on, and `member_frozen` is 1 in its rows. The
others train to the end. When every member has failed (or there is one), the run stops
with `NonFiniteError`, naming the metric, the iteration and the last good checkpoint.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from algos.common import loop
from envs.core import MEMBER_AXIS
from experiments.launch.checkpoints import CheckpointStore

# Metrics that are NaN by design (no episode finished in that iteration); any other
# non-finite metric fails its member.
MAY_BE_NAN = frozenset({"episode_return", "episode_length"})
FROZEN = "member_frozen"  # 1.0 in the rows of a member frozen after a non-finite metric


class NonFiniteError(FloatingPointError):
    """A metric became NaN or infinite; the message names the metric, iteration and member."""


class LoopResult(NamedTuple):
    carry: loop.Carry  # the final carry, leaves [members, ...]
    metrics: pd.DataFrame  # one row per member and iteration: member, iteration, env_steps, metrics
    timings: dict[str, float]  # compile_s, train_s, checkpoint_s, resumed_from
    failed: dict[int, int]  # member -> the iteration at which it was frozen


def history_frame(history: Mapping[str, np.ndarray], learner: loop.Learner) -> pd.DataFrame:
    """Long-format rows (member, iteration, env_steps, metrics...) from `history` [members, iterations]."""
    num_members, iterations = next(iter(history.values())).shape[:2]
    iteration = np.arange(1, iterations + 1)
    frame = pd.DataFrame({k: np.asarray(history[k], dtype=np.float64).reshape(-1) for k in sorted(history)})
    frame.insert(0, "member", np.repeat(np.arange(num_members), iterations))
    frame.insert(1, "iteration", np.tile(iteration, num_members))
    frame.insert(2, "env_steps", learner.prefill_env_steps + frame["iteration"] * learner.env_steps_per_iteration)
    return frame


def first_non_finite(metrics: Mapping[str, np.ndarray]) -> dict[int, tuple[int, str, float]]:
    """Per member with a non-finite metric outside `MAY_BE_NAN`: (offset in the chunk, metric, value) of the first."""
    found: dict[int, tuple[int, str, float]] = {}
    for name, values in metrics.items():
        if name in MAY_BE_NAN or name == FROZEN:
            continue
        for member, offset in np.argwhere(~np.isfinite(values)):
            if member not in found or offset < found[member][0]:
                found[int(member)] = (int(offset), name, float(values[member, offset]))
    return found


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


def num_members_of(members: Sequence) -> int:
    """The length of the leading (member) axis of the init arguments."""
    return int(jax.tree.leaves(members)[0].shape[0])


def abstract_carry(learner: loop.Learner, members: Sequence) -> loop.Carry:
    """The carry's structure (shapes and dtypes), for restoring a checkpoint."""
    return jax.eval_shape(over_members(learner.init, num_members_of(members)), *members)


def init_members(learner: loop.Learner, members: Sequence, sharding: jax.sharding.Sharding | None = None) -> loop.Carry:
    """The members' initial carries, leaves [M, ...], from one program vmapped over `MEMBER_AXIS`.

    `members` are `learner.init`'s arguments, each with a leading member axis (e.g. keys [M]
    and hyperparameter overrides {name: [M]}). The axis name matters on tasks with a costly
    reset: CIP's initialisation on CheetahRun (10k prefill steps, 3 members, 2-core CPU) took
    1.6 s so, 3.5 s one member at a time, and 223 s vmapped without the name.
    """
    return jax.jit(over_members(learner.init, num_members_of(members)), out_shardings=sharding)(*members)


@jax.jit
def _freeze(previous: loop.Carry, current: loop.Carry, frozen: jax.Array) -> loop.Carry:
    """`previous` for the members where `frozen` [M], `current` for the others."""
    def pick(p, c):
        return jnp.where(frozen.reshape(-1, *([1] * (c.ndim - 1))), p, c)

    return jax.tree.map(pick, previous, current)


def _restored_failures(history: Mapping[str, np.ndarray], chunk_start: int) -> dict[int, int]:
    frozen = history.get(FROZEN)
    if frozen is None or not frozen.size:
        return {}
    return {int(m): chunk_start - int(frozen[m].sum()) + 1 for m in np.nonzero(frozen[:, -1] > 0)[0]}


def run_chunks(
    learner: loop.Learner,
    members: Sequence,
    total_iterations: int,
    chunk_iterations: int,
    *,
    store: CheckpointStore | None = None,
    checkpoint_interval_s: float = 60.0,
    sharding: jax.sharding.Sharding | None = None,
    on_chunk: Callable[[int, pd.DataFrame], None] | None = None,
    on_checkpoint: Callable[[pd.DataFrame], None] | None = None,
    progress: bool = True,
    desc: str | None = None,
    postfix: Sequence[str] = ("episode_return",),
) -> LoopResult:
    """Train one member per row of `members` (vmapped, one program) for `total_iterations`.

    `members`: `learner.init`'s arguments, each with a leading member axis [M, ...].
    Iterations are rounded up to whole chunks. With a `store`, the run starts from its
    newest good checkpoint, and checkpoints after a chunk once `checkpoint_interval_s`
    has passed since the last one, and after the final chunk. `sharding` places the
    member axis (e.g. over devices); `on_chunk(iteration, rows)` sees each chunk's rows and
    `on_checkpoint(rows)` all rows so far, after each checkpoint. The progress bar counts
    environment steps (iterations for a learner that takes none) and shows the last value
    of the first metric of `postfix` that the learner reports.
    """
    num_members = num_members_of(members)
    num_chunks = max(1, math.ceil(total_iterations / chunk_iterations))
    t0 = time.perf_counter()
    restored = store.restore_latest(abstract_carry(learner, members), sharding) if store else None
    if restored is not None:
        if restored.iteration % chunk_iterations:
            raise ValueError(f"checkpoint at iteration {restored.iteration} is not on a chunk boundary "
                             f"of {chunk_iterations} iterations; was chunk_iterations changed?")
        carry, first_chunk, history = restored.carry, restored.iteration // chunk_iterations, restored.history
    else:
        carry, first_chunk, history = init_members(learner, members, sharding), 0, {}
    failed = _restored_failures(history, first_chunk * chunk_iterations)
    # a grid keeps the carry before each chunk, to put a failing member back to it
    can_freeze = num_members > 1
    chunk_fn = over_members(loop.make_chunk(learner, chunk_iterations), num_members, shared=1)
    if first_chunk < num_chunks:  # a finished run restores without compiling its step
        chunk = jax.jit(chunk_fn, donate_argnums=() if can_freeze else 0,
                        out_shardings=sharding).lower(carry, jnp.int32(0)).compile()
    jax.block_until_ready(carry)
    compile_s = time.perf_counter() - t0

    per_iteration = learner.env_steps_per_iteration * num_members or 1
    steps_per_chunk = chunk_iterations * per_iteration
    chunks: list[dict[str, np.ndarray]] = [history] if history else []
    bar = tqdm(total=num_chunks * steps_per_chunk, initial=first_chunk * steps_per_chunk,
               unit="step" if learner.env_steps_per_iteration else "it", unit_scale=True, desc=desc,
               disable=not progress or first_chunk >= num_chunks, file=sys.stderr, dynamic_ncols=True)
    last_value = {}
    checkpoint_s = 0.0
    last_save = time.perf_counter()
    last_saved_iteration = restored.iteration if restored else None
    t_train = time.perf_counter()
    for c in range(first_chunk, num_chunks):
        start = c * chunk_iterations
        previous = carry
        carry, metrics = chunk(carry, jnp.int32(start))
        metrics = {k: np.asarray(v, dtype=np.float64) if np.issubdtype(np.asarray(v).dtype, np.floating)
                   else np.asarray(v) for k, v in jax.device_get(metrics).items()}
        newly = {m: f for m, f in first_non_finite(metrics).items() if m not in failed}
        if newly and (not can_freeze or len(failed) + len(newly) == num_members):
            member, (offset, name, value) = min(newly.items(), key=lambda kv: kv[1][0])
            kept = (f"the last good checkpoint is iteration {last_saved_iteration}" if last_saved_iteration
                    else "no checkpoint kept")
            iteration = start + offset + 1
            raise NonFiniteError(
                f"metric {name!r} is {value} at iteration {iteration} (env step "
                f"{learner.prefill_env_steps + iteration * learner.env_steps_per_iteration}) of member {member}"
                f"{' (every member has failed)' if num_members > 1 else ''}; the run stopped; {kept}")
        for member, (offset, name, value) in newly.items():
            failed[member] = start + offset + 1
            bar.write(f"member {member}: metric {name!r} is {value} at iteration {start + offset + 1}; "
                      f"frozen at its state of iteration {start}, the other members go on")
        if failed:
            frozen = np.zeros(num_members, bool)
            frozen[list(failed)] = True
            carry = _freeze(previous, carry, jnp.asarray(frozen))
            for member, at in failed.items():
                for values in metrics.values():
                    if np.issubdtype(values.dtype, np.floating):
                        values[member, max(at - start - 1, 0):] = np.nan
        metrics[FROZEN] = np.zeros((num_members, chunk_iterations))
        for member, at in failed.items():
            metrics[FROZEN][member, max(at - start - 1, 0):] = 1.0
        del previous
        chunks.append(metrics)
        for name in postfix:
            values = metrics.get(name)
            if values is not None and np.isfinite(values).any():
                last_value = {name: float(np.mean([r[np.isfinite(r)][-1] for r in values if np.isfinite(r).any()]))}
                break
        bar.update(steps_per_chunk)
        if last_value:
            bar.set_postfix({k[:12]: f"{v:.4g}" for k, v in last_value.items()})
        iteration = (c + 1) * chunk_iterations
        if on_chunk is not None:
            frame = history_frame(metrics, learner)
            frame["iteration"] += start
            frame["env_steps"] += start * learner.env_steps_per_iteration
            on_chunk(iteration, frame)
        if store is not None and (c == num_chunks - 1 or time.perf_counter() - last_save >= checkpoint_interval_s):
            t_save = time.perf_counter()
            chunks = [_concatenate(chunks)]
            store.save(iteration, carry, chunks[0])
            if on_checkpoint is not None:
                on_checkpoint(history_frame(chunks[0], learner))
            last_saved_iteration = iteration
            last_save = time.perf_counter()
            checkpoint_s += last_save - t_save
    jax.block_until_ready(carry)
    bar.close()
    train_s = time.perf_counter() - t_train
    timings = {"compile_s": compile_s, "train_s": train_s, "checkpoint_s": checkpoint_s,
               "resumed_from": float(restored.iteration if restored else 0)}
    return LoopResult(carry, history_frame(_concatenate(chunks), learner), timings, failed)


def _concatenate(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Chunks' metrics [M, iterations] joined along iterations (a metric missing from older ones: zeros)."""
    names = dict.fromkeys(k for m in chunks for k in m)
    def get(m, k):
        ref = next(x[k] for x in chunks if k in x)
        return m[k] if k in m else np.zeros((ref.shape[0], next(iter(m.values())).shape[1]), ref.dtype)
    return {k: np.concatenate([get(m, k) for m in chunks], axis=1) for k in names}
