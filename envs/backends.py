"""Adapters from MuJoCo Playground and Brax environments to the project's `State`.

Both libraries expose `reset(rng)` and `step(state, action)` over a dataclass with
`obs`, `reward`, `done`, `metrics`, `info`. We keep their state whole in
`State.inner`, so their own bookkeeping (rngs, cached data) round-trips untouched,
and mirror the public fields onto our `State`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import Environment, EnvSpec, State, check_action


class BackendEnv(Environment):
    """A Playground `MjxEnv` or a Brax `PipelineEnv` seen through our contract.

    Actions are clipped to the actuator control range, as MuJoCo itself clamps
    limited controls; the episode limit and resets belong to the wrappers.
    """

    def __init__(self, base, name: str, dt: float, episode_length: int):
        self._base = base
        # Traced, not run: Brax's `observation_size` runs a reset op by op (about 40 s for halfcheetah on a CPU).
        obs = jax.eval_shape(base.reset, jax.random.PRNGKey(0)).obs
        if not isinstance(obs, jax.ShapeDtypeStruct) or len(obs.shape) != 1:
            shape = jax.tree.map(lambda x: x.shape, obs)
            raise ValueError(f"{name}: only flat state observations are supported, got observations of shape {shape}.")
        obs_size = int(obs.shape[0])
        low, high = _control_range(base)
        self._spec = EnvSpec(
            name=name,
            obs_shape=(obs_size,),
            action_shape=(base.action_size,),
            action_low=low,
            action_high=high,
            episode_length=episode_length,
            action_repeat=1,
            control_dt=float(dt),
        )

    @property
    def spec(self) -> EnvSpec:
        return self._spec

    @property
    def base(self):
        """The Playground or Brax environment underneath (for its MuJoCo model)."""
        return self._base

    def _wrap(self, s) -> State:
        return State(
            inner=s,
            obs=s.obs.astype(jnp.float32),
            reward=jnp.asarray(s.reward, jnp.float32),
            done=jnp.asarray(s.done, jnp.float32),
            truncated=jnp.zeros((), jnp.float32),
            metrics={k: jnp.asarray(v, jnp.float32) for k, v in s.metrics.items()},
            info={},
        )

    def reset(self, key: jax.Array) -> State:
        return self._wrap(self._base.reset(key))

    def step(self, state: State, action: jax.Array) -> State:
        action = check_action(self._spec, action)
        action = jnp.clip(action, self._spec.action_low, self._spec.action_high)
        return self._wrap(self._base.step(state.inner, action))


def _mj_model(base):
    """The `mujoco.MjModel` of a Playground env (`mj_model`) or a Brax one (`sys.mj_model`)."""
    if hasattr(base, "mj_model"):
        return base.mj_model
    return getattr(getattr(base, "sys", None), "mj_model", None)


def _control_range(base) -> tuple[float, float]:
    mj_model = _mj_model(base)
    if mj_model is None or mj_model.nu == 0 or not np.all(mj_model.actuator_ctrllimited):
        return -1.0, 1.0
    ranges = np.asarray(mj_model.actuator_ctrlrange)
    low, high = float(ranges[:, 0].max()), float(ranges[:, 1].min())
    if not (np.allclose(ranges[:, 0], low) and np.allclose(ranges[:, 1], high)):
        # Per-actuator ranges would need an array bound; none of the registered tasks has them.
        raise ValueError("actuators with different control ranges are not supported")
    return low, high


def physics_data(inner):
    """The MJX `Data` inside a backend's state (Playground's `data`, Brax's `pipeline_state`)."""
    data = getattr(inner, "data", None)
    return data if data is not None else inner.pipeline_state


def mujoco_model(env: Environment):
    """The `mujoco.MjModel` underneath a (wrapped) physics environment."""
    base = env.unwrapped
    if not isinstance(base, BackendEnv):
        raise TypeError(f"{type(base).__name__} has no MuJoCo model")
    return _mj_model(base.base)
