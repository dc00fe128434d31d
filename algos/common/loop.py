"""The chunked training-loop skeleton shared by every agent.

An agent supplies a `Learner`: `init(key, hparams) -> carry` and `step(carry) ->
(carry, metrics)`, one training iteration (collect experience, update). Everything lives in
`carry` (parameters, optimiser states, normaliser, environment state, keys), so a
run stopped at a chunk boundary resumes bit for bit from the carry alone.

An optional `hook(carry, iteration) -> carry` runs before every step with the global
iteration index, which is not batched when seeds are vmapped: a hook that branches on
it with `lax.cond` (work every K iterations, such as CIP's causal discovery) pays for
the branch only when it is taken, also under `vmap`.

`make_chunk` scans `step` for a fixed number of iterations in one jitted call;
the host loop around chunks (progress bar, metrics, checkpoints) lives in
`experiments`. `make_train` scans the whole run, for `jit(vmap(train))` over seeds and over the
numeric hyperparameters in `hparams` (see `algos.common.hparams`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp

from envs.rollout import Transition

Carry = Any
Metrics = dict[str, jax.Array]


class Learner(NamedTuple):
    init: Callable[[jax.Array, Mapping[str, jax.Array] | None], Carry]
    step: Callable[[Carry], tuple[Carry, Metrics]]
    env_steps_per_iteration: int
    prefill_env_steps: int = 0  # environment steps taken by `init` (an off-policy random prefill)
    hook: Callable[[Carry, jax.Array], Carry] | None = None  # before each step, given the iteration


def make_chunk(learner: Learner, iterations: int) -> Callable[..., tuple[Carry, Metrics]]:
    """`chunk(carry, start_iteration=0) -> (carry, metrics)` with metrics stacked over `iterations`.

    `start_iteration` (a scalar, shared by vmapped members: `in_axes=None`) is the global
    index of the chunk's first iteration, for the learner's `hook`.
    """

    def body(carry: Carry, iteration: jax.Array) -> tuple[Carry, Metrics]:
        if learner.hook is not None:
            carry = learner.hook(carry, iteration)
        return learner.step(carry)

    def chunk(carry: Carry, start_iteration: jax.Array | int = 0) -> tuple[Carry, Metrics]:
        iterations_ = jnp.asarray(start_iteration, jnp.int32) + jnp.arange(iterations, dtype=jnp.int32)
        return jax.lax.scan(body, carry, iterations_)

    return chunk


def make_train(learner: Learner, iterations: int) -> Callable[..., tuple[Carry, Metrics]]:
    """`train(key, hparams=None) -> (final carry, metrics [iterations, ...])`; jittable and vmappable.

    `hparams` overrides numeric hyperparameters of the config (a partial dict).
    """
    chunk = make_chunk(learner, iterations)

    def train(key: jax.Array, hparams: Mapping[str, jax.Array] | None = None) -> tuple[Carry, Metrics]:
        return chunk(learner.init(key, hparams))

    return train


def episode_metrics(traj: Transition) -> Metrics:
    """Mean return and length of the episodes that finished inside `traj` ([T, N]).

    NaN when none finished, so a curve shows a gap rather than a false zero; the
    host loop averages with `nanmean`.
    """
    finished = traj.metrics["episode_done"]
    count = finished.sum()
    mean = lambda x: jnp.where(count > 0, (x * finished).sum() / jnp.maximum(count, 1.0), jnp.nan)  # noqa: E731
    return {
        "episodes": count,
        "episode_return": mean(traj.metrics["episode_return"]),
        "episode_length": mean(traj.metrics["episode_length"]),
    }
