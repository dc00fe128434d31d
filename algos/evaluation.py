"""Deterministic evaluation episodes under `vmap`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.core import Environment
from envs.rollout import PolicyFn, rollout_from
from envs.wrappers import VmapWrapper


def evaluate(env: Environment, policy_fn: PolicyFn, key: jax.Array, num_episodes: int) -> jax.Array:
    """Returns of `num_episodes` full episodes, shape [num_episodes].

    `env` is unbatched; each episode runs for the spec's `max_episode_steps` and only
    rewards up to and including its first `done` count, so auto-reset is harmless.
    """
    if env.spec.num_envs is not None:
        raise ValueError("evaluate vmaps the environment itself: pass an unbatched env.")
    venv = VmapWrapper(env, num_episodes)
    k_reset, k_run = jax.random.split(key)
    _, traj = rollout_from(venv, policy_fn, venv.reset(k_reset), k_run, env.spec.max_episode_steps)
    alive = jnp.cumprod(1.0 - traj.done, axis=0)
    alive_before = jnp.concatenate([jnp.ones_like(alive[:1]), alive[:-1]], axis=0)
    return (traj.reward * alive_before).sum(axis=0)
