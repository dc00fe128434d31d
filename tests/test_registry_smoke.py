"""Every registered task builds, and its reset and step trace with the right shapes.

`jax.eval_shape` traces without compiling, which keeps this affordable on a CPU for
all 30+ tasks; one Brax task is also compiled and stepped for real.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs

ALL = [name for names in envs.list_tasks().values() for name in names]


@pytest.mark.parametrize("name", ALL)
def test_task_traces(name):
    env, spec = envs.make(name)
    state = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
    assert state.obs.shape == spec.obs_shape
    nxt = jax.eval_shape(env.step, state, jax.ShapeDtypeStruct(spec.action_shape, jnp.float32))
    assert nxt.obs.shape == spec.obs_shape and nxt.reward.shape == ()
    assert spec.episode_length > 0 and spec.control_dt > 0


def test_brax_task_steps_on_mjx():
    env, spec = envs.make("reacher", episode_length=5)
    traj = envs.rollout(env, envs.random_policy(spec), jax.random.PRNGKey(0), 6)
    assert traj.obs.shape == (6, *spec.obs_shape)
    assert np.all(np.isfinite(traj.obs)) and np.all(np.isfinite(traj.reward))
    np.testing.assert_array_equal(traj.done, [0, 0, 0, 0, 1, 0])
