"""The environment contract: `State`, `EnvSpec` and the `Environment` base class.

Every environment in the project, physics or bandit, is an object with two pure
functions, `reset(key) -> State` and `step(state, action) -> State`, and a static
`spec`. The object itself holds only static configuration, so it can be closed over
by `jax.jit` and `jax.vmap`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

# The name of the vmap axis over independent members (seeds x hyperparameters) of one
# program: `jax.vmap(train, axis_name=MEMBER_AXIS)`. The auto-reset uses it to keep its
# reset a branch under vmapped members (see `envs.wrappers.AutoReset`).
MEMBER_AXIS = "members"


@struct.dataclass
class State:
    """One step of an environment, batched or not.

    Attributes:
      inner: the backend's own state (an MJX/Brax state, or a bandit's hidden state);
        opaque to users and wrappers alike.
      obs: observation, shape `spec.obs_shape` (with leading batch axes when vmapped).
      reward: reward received on the transition into this state, shape `()`.
      done: 1.0 where the episode ended on this transition, for any reason.
      truncated: 1.0 where it ended only because of the time limit. A truncated
        state is not terminal: learners must bootstrap from `info["final_obs"]`.
      metrics: backend and wrapper diagnostics (floats), same structure every step.
      info: wrapper bookkeeping (step counters, keys, the pre-reset observation).
    """

    inner: Any
    obs: jax.Array
    reward: jax.Array
    done: jax.Array
    truncated: jax.Array
    metrics: dict[str, jax.Array] = struct.field(default_factory=dict)
    info: dict[str, Any] = struct.field(default_factory=dict)

    @property
    def terminated(self) -> jax.Array:
        """1.0 where the episode reached a true terminal state (no bootstrapping)."""
        return self.done * (1.0 - self.truncated)


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """Static description of an environment.

    Attributes:
      name: registry name.
      obs_shape: shape of one observation.
      action_shape: shape of one action.
      action_low, action_high: bounds of the box action set (floats, same for all dims).
      episode_length: time limit in *base* environment steps (before action repeat).
      action_repeat: how many base steps one agent step lasts.
      control_dt: seconds of simulated time per agent step (base dt x action_repeat).
      num_envs: leading batch size of `State` leaves, or None when unbatched.
      obs_dtype: "float32" (states) or "uint8" (pixels, [H, W, 3 x frame stack]).
    """

    name: str
    obs_shape: tuple[int, ...]
    action_shape: tuple[int, ...]
    action_low: float
    action_high: float
    episode_length: int
    action_repeat: int
    control_dt: float
    num_envs: int | None = None
    obs_dtype: str = "float32"

    @property
    def max_episode_steps(self) -> int:
        """Agent steps per episode: the time limit divided by the action repeat."""
        return -(-self.episode_length // self.action_repeat)

    @property
    def obs_size(self) -> int:
        return math.prod(self.obs_shape)

    @property
    def action_size(self) -> int:
        return math.prod(self.action_shape)


class Environment:
    """Base class. Subclasses implement `reset`, `step` and `spec`; all are pure."""

    def reset(self, key: jax.Array) -> State:
        raise NotImplementedError

    def step(self, state: State, action: jax.Array) -> State:
        raise NotImplementedError

    @property
    def spec(self) -> EnvSpec:
        raise NotImplementedError

    @property
    def unwrapped(self) -> "Environment":
        return self


def check_action(spec: EnvSpec, action: jax.Array) -> jax.Array:
    """Raise a clear error for an action of the wrong shape; return it as float32.

    Shapes are static under `jit`, so this costs nothing at run time.
    """
    action = jnp.asarray(action)
    expected = spec.action_shape if spec.num_envs is None else (spec.num_envs, *spec.action_shape)
    if tuple(action.shape) != tuple(expected):
        batch = "" if spec.num_envs is None else f" ({spec.num_envs} environments x {spec.action_shape})"
        raise ValueError(
            f"{spec.name}: action has shape {tuple(action.shape)}, expected {tuple(expected)}{batch}."
        )
    if not jnp.issubdtype(action.dtype, jnp.floating):
        raise TypeError(f"{spec.name}: action dtype must be floating, got {action.dtype}.")
    return action.astype(jnp.float32)
