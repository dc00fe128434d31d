"""`rollout`: run a policy for a fixed number of steps with `lax.scan`."""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from flax import struct

from envs.core import Environment, EnvSpec, State

PolicyFn = Callable[[jax.Array, jax.Array], jax.Array]  # (obs, key) -> action
PolicyInput = Callable[[State], jax.Array]  # what a policy sees of a state


def observation(state: State) -> jax.Array:
    """The default `PolicyInput`: the environment's observation."""
    return state.obs


def state_observation(state: State) -> jax.Array:
    """The state vector behind pixel observations (`info["state_obs"]`): a state-based expert
    acting in a pixel environment, so its frames can be recorded."""
    return state.info["state_obs"]


@struct.dataclass
class Transition:
    """One step of experience; in a trajectory every leaf has a leading time axis.

    `next_obs` is the true successor observation: where an episode ended and the
    environment auto-reset, it is the ended episode's last observation
    (`info["final_obs"]`), not the new episode's first one. `metrics` are the
    environment's metrics after the step (episode statistics among them).
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    done: jax.Array
    truncated: jax.Array
    metrics: dict[str, jax.Array] = struct.field(default_factory=dict)

    @property
    def terminated(self) -> jax.Array:
        return self.done * (1.0 - self.truncated)


def env_step(env: Environment, policy_fn: PolicyFn, state: State, key: jax.Array,
             policy_input: PolicyInput = observation) -> tuple[State, Transition]:
    """One policy step: the building block of `rollout` and of the training loops."""
    action = policy_fn(policy_input(state), key)
    nxt = env.step(state, action)
    next_obs = nxt.info.get("final_obs", nxt.obs)
    return nxt, Transition(
        obs=state.obs, action=action, reward=nxt.reward, next_obs=next_obs, done=nxt.done, truncated=nxt.truncated,
        metrics=nxt.metrics,
    )


def rollout_from(
    env: Environment, policy_fn: PolicyFn, state: State, key: jax.Array, num_steps: int,
    policy_input: PolicyInput = observation,
) -> tuple[State, Transition]:
    """Continue from `state` for `num_steps`; returns the last state and a `[T, ...]` trajectory."""

    def body(s, k):
        return env_step(env, policy_fn, s, k, policy_input)

    return jax.lax.scan(body, state, jax.random.split(key, num_steps))


@functools.partial(jax.jit, static_argnums=(0, 1, 3))
def rollout(env: Environment, policy_fn: PolicyFn, key: jax.Array, num_steps: int) -> Transition:
    """Reset with `key` and run `policy_fn` for `num_steps`; jitted, and vmappable over `key`.

    Returns a `Transition` whose leaves have shape `[num_steps, *batch, ...]`.
    """
    reset_key, run_key = jax.random.split(key)
    state = env.reset(reset_key)
    _, traj = rollout_from(env, policy_fn, state, run_key, num_steps)
    return traj


def random_policy(spec: EnvSpec) -> PolicyFn:
    """A uniform random policy over the action box of `spec`, batched like the observation."""

    def policy(obs: jax.Array, key: jax.Array) -> jax.Array:
        batch = obs.shape[: obs.ndim - len(spec.obs_shape)]
        return jax.random.uniform(
            key, (*batch, *spec.action_shape), minval=spec.action_low, maxval=spec.action_high
        )

    return policy


def zeros_policy(spec: EnvSpec) -> PolicyFn:
    """The all-zeros action, batched like the observation."""

    def policy(obs: jax.Array, key: jax.Array) -> jax.Array:
        batch = obs.shape[: obs.ndim - len(spec.obs_shape)]
        return jnp.zeros((*batch, *spec.action_shape), jnp.float32)

    return policy
