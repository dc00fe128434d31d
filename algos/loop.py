"""The chunked training-loop skeleton shared by every agent.

An agent supplies a `Learner`: `init(key, hparams) -> carry` and `step(carry) ->
(carry, metrics)`, one training iteration (collect experience, update). Everything lives in
`carry` (parameters, optimiser states, normaliser, environment state, keys), so a
run stopped at a chunk boundary resumes bit for bit from the carry alone.

`make_chunk` scans `step` for a fixed number of iterations in one jitted call;
the host loop around chunks (progress bar, metrics, checkpoints) lives in
`experiments`. `make_train` scans the whole run, for `jit(vmap(train))` over seeds and over the
numeric hyperparameters in `hparams` (see `algos.hparams`).
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


def make_chunk(learner: Learner, iterations: int) -> Callable[[Carry], tuple[Carry, Metrics]]:
    """`chunk(carry) -> (carry, metrics)` with metrics stacked over `iterations`."""

    def chunk(carry: Carry) -> tuple[Carry, Metrics]:
        return jax.lax.scan(lambda c, _: learner.step(c), carry, None, length=iterations)

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
