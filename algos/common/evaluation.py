"""Deterministic evaluation episodes under `vmap`."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from envs.core import Environment
from envs.rollout import PolicyFn, rollout_from
from envs.wrappers import VmapWrapper

# A policy with memory (a world model's filtered state, a stack of observations):
# init(batch) -> carry, step(carry, obs [B, ...], key) -> (carry, action [B, A]).
Controller = tuple[Callable[[int], Any], Callable[[Any, jax.Array, jax.Array], tuple[Any, jax.Array]]]


def _first_episode_returns(reward: jax.Array, done: jax.Array) -> jax.Array:
    """Sum of rewards [T, E] up to and including each column's first `done`."""
    alive = jnp.cumprod(1.0 - done, axis=0)
    alive_before = jnp.concatenate([jnp.ones_like(alive[:1]), alive[:-1]], axis=0)
    return (reward * alive_before).sum(axis=0)


def _vmapped(env: Environment, num_episodes: int) -> VmapWrapper:
    if env.spec.num_envs is not None:
        raise ValueError("evaluate vmaps the environment itself: pass an unbatched env.")
    return VmapWrapper(env, num_episodes)


def evaluate(env: Environment, policy_fn: PolicyFn, key: jax.Array, num_episodes: int) -> jax.Array:
    """Returns of `num_episodes` full episodes, shape [num_episodes].

    `env` is unbatched; each episode runs for the spec's `max_episode_steps` and only
    rewards up to and including its first `done` count, so auto-reset is harmless.
    """
    venv = _vmapped(env, num_episodes)
    k_reset, k_run = jax.random.split(key)
    _, traj = rollout_from(venv, policy_fn, venv.reset(k_reset), k_run, env.spec.max_episode_steps)
    return _first_episode_returns(traj.reward, traj.done)


def rollout_controller(env: Environment, controller: Controller, key: jax.Array, num_episodes: int):
    """Run a policy with memory for one episode per vmapped env from a reset.

    Returns (obs [T + 1, E, ...], actions [T, E, ...], rewards [T, E], done [T, E]) for
    T = the spec's `max_episode_steps`; `obs[t + 1]` is the true successor of `obs[t]`
    (the final observation where an episode ended, not the auto-reset one).
    """
    venv = _vmapped(env, num_episodes)
    init_carry, step = controller
    k_reset, k_run = jax.random.split(key)

    def body(carry, k):
        env_state, memory = carry
        memory, action = step(memory, env_state.obs, k)
        nxt = venv.step(env_state, action)
        return (nxt, memory), (action, nxt.reward, nxt.done, nxt.info.get("final_obs", nxt.obs))

    first = venv.reset(k_reset)
    _, (actions, reward, done, next_obs) = jax.lax.scan(
        body, (first, init_carry(num_episodes)), jax.random.split(k_run, env.spec.max_episode_steps))
    return jnp.concatenate([first.obs[None], next_obs], axis=0), actions, reward, done


def evaluate_controller(env: Environment, controller: Controller, key: jax.Array, num_episodes: int) -> jax.Array:
    """`evaluate` for a policy with memory: returns of `num_episodes` episodes, shape [num_episodes]."""
    _, _, reward, done = rollout_controller(env, controller, key, num_episodes)
    return _first_episode_returns(reward, done)
