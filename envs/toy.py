"""Tiny pure-JAX tasks with known solutions, for tests that cannot afford MJX compiles.

`PointReach`: a point mass in the plane moved by velocity commands towards a goal.
The optimal policy is a = clip(k * (goal - pos)); a random policy gets a clearly
lower return. With `terminate_radius` set, leaving the disc of that radius is a true
terminal state, so the task exercises termination as well as truncation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from envs.core import Environment, EnvSpec, State, check_action


@struct.dataclass
class PointReachState:
    pos: jax.Array   # (dim,)
    goal: jax.Array  # (dim,)


class PointReach(Environment):
    def __init__(
        self,
        dim: int = 2,
        step_size: float = 0.1,
        goal_radius: float = 1.0,
        terminate_radius: float | None = None,
        episode_length: int = 50,
        name: str = "PointReach",
    ):
        self.dim = dim
        self.step_size = step_size
        self.goal_radius = goal_radius
        self.terminate_radius = terminate_radius
        self._spec = EnvSpec(
            name=name,
            obs_shape=(2 * dim,),
            action_shape=(dim,),
            action_low=-1.0,
            action_high=1.0,
            episode_length=episode_length,
            action_repeat=1,
            control_dt=step_size,
        )

    @property
    def spec(self) -> EnvSpec:
        return self._spec

    def _obs(self, s: PointReachState) -> jax.Array:
        return jnp.concatenate([s.pos, s.goal - s.pos])

    def reset(self, key: jax.Array) -> State:
        k_pos, k_goal = jax.random.split(key)
        pos = jax.random.uniform(k_pos, (self.dim,), minval=-0.1, maxval=0.1)
        goal = jax.random.uniform(k_goal, (self.dim,), minval=-self.goal_radius, maxval=self.goal_radius)
        inner = PointReachState(pos=pos, goal=goal)
        zero = jnp.zeros((), jnp.float32)
        return State(inner=inner, obs=self._obs(inner), reward=zero, done=zero, truncated=zero, metrics={"distance": jnp.linalg.norm(goal - pos)}, info={})

    def step(self, state: State, action: jax.Array) -> State:
        action = jnp.clip(check_action(self._spec, action), -1.0, 1.0)
        s = state.inner
        pos = s.pos + self.step_size * action
        dist = jnp.linalg.norm(s.goal - pos)
        reward = 1.0 - jnp.minimum(dist, 2.0 * self.goal_radius) / self.goal_radius
        done = jnp.zeros((), jnp.float32)
        if self.terminate_radius is not None:
            done = (jnp.linalg.norm(pos) > self.terminate_radius).astype(jnp.float32)
        inner = PointReachState(pos=pos, goal=s.goal)
        return state.replace(inner=inner, obs=self._obs(inner), reward=reward.astype(jnp.float32), done=done, truncated=jnp.zeros((), jnp.float32), metrics={"distance": dist})


def point_reach_expert(gain: float = 5.0):
    """PointReach's near-optimal policy `(obs, key) -> clip(gain * (goal - pos), -1, 1)`, batched like obs."""

    def policy(obs: jax.Array, key: jax.Array) -> jax.Array:
        half = obs.shape[-1] // 2
        return jnp.clip(gain * obs[..., half:], -1.0, 1.0)

    return policy
