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


class UpdateCarry(NamedTuple):
    """The carry of `updates_learner`: the trained state, the key stream and the last evaluation."""

    state: Any
    key: jax.Array
    evaluation: Metrics  # the metrics of the last `evaluate`, and `evaluated_at` (the updates before it)


def updates_learner(init: Callable[..., Any], update: Callable[[Any, jax.Array], tuple[Any, Metrics]],
                    evaluate: Callable[[Any, jax.Array], Metrics] | None = None, eval_every: int = 0,
                    env_steps_per_iteration: int = 0) -> Learner:
    """A `Learner` whose iteration is one `update(state, key) -> (state, metrics)`, such as a model's
    gradient step, so that the host loop's chunks, checkpoints and resumes serve it too.

    `init(key, *args) -> state`; the learner's `init(key, *args)` splits off the update stream.
    With `evaluate(state, key) -> metrics`, every `eval_every` updates (first on the initial
    state) the state is evaluated, and every iteration's metrics carry the last evaluation's,
    with `evaluated_at`: the number of updates made before it.
    """

    def init_carry(key: jax.Array, *args) -> UpdateCarry:
        k_init, k_run = jax.random.split(key)
        state = init(k_init, *args)
        evaluation = {}
        if evaluate is not None:
            shapes = jax.eval_shape(evaluate, state, k_run)
            evaluation = {k: jnp.full(v.shape, jnp.nan, v.dtype) for k, v in shapes.items()}
            evaluation["evaluated_at"] = jnp.full((), -1.0)
        return UpdateCarry(state, k_run, evaluation)

    def step(carry: UpdateCarry) -> tuple[UpdateCarry, Metrics]:
        key, k_update = jax.random.split(carry.key)
        state, metrics = update(carry.state, k_update)
        return UpdateCarry(state, key, carry.evaluation), {**metrics, **carry.evaluation}

    hook = None
    if evaluate is not None:
        def evaluate_now(carry: UpdateCarry, iteration: jax.Array) -> UpdateCarry:
            metrics = evaluate(carry.state, jax.random.fold_in(carry.key, 0xE7A1))
            return carry._replace(evaluation={**metrics, "evaluated_at": iteration.astype(jnp.float32)})

        def hook(carry: UpdateCarry, iteration: jax.Array) -> UpdateCarry:
            return jax.lax.cond(iteration % eval_every == 0, evaluate_now, lambda c, i: c, carry, iteration)

    return Learner(init=init_carry, step=step, env_steps_per_iteration=env_steps_per_iteration, hook=hook)
