"""PointPush: a progress-dependent MJX task of our own, for ADS (Meta-World has no MJX port).

A sphere "hand" on two actuated slide joints must reach a puck and then push it to a
goal, in the plane. The hand starts below and to the left of the puck and the goal is
straight to the puck's right, so the hand has to get behind the puck before pushing: a
hand that heads straight for where the expert's hand ends up passes below the puck
and leaves it where it was. The later half of a demonstration (the puck moving to the
goal) is only reachable once the earlier half (getting behind the puck) is mastered,
which is the progress dependency that ADS targets.

PointPushAround (`VARIANTS`) starts the hand between the puck and the goal, where the
demonstrations' hand ends: it has to go round the puck first, a stronger dependency.

Observation (8): hand xy, puck xy, hand velocity, puck velocity. Action (2): forces on
the hand, in [-1, 1]. Reward: 1 on every step where the puck is within `GOAL_RADIUS`
of the goal (imitation agents never see it; it measures success). Metrics: the puck's
distance to the goal and `success` (1 while the puck is at the goal). The episode
has no terminal state: it ends at the time limit, which ADS's episode-level rewards
need. Written as a MuJoCo Playground `MjxEnv`, always on the pure-JAX MJX backend.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mujoco
from ml_collections import config_dict
from mujoco import mjx
from mujoco_playground._src import mjx_env

HAND_START = (-0.2, -0.15)
PUCK_START = (0.0, 0.05)
GOAL = (0.2, 0.05)
GOAL_RADIUS = 0.04
HAND_RADIUS = 0.02
PUCK_RADIUS = 0.03
START_NOISE = 0.02

_XML = f"""
<mujoco model="point_push">
  <option timestep="0.01"/>
  <default>
    <joint type="slide" limited="true" range="-0.35 0.35"/>
    <geom contype="0" conaffinity="0" condim="3" friction="0.5 0.005 0.0001"/>
  </default>
  <worldbody>
    <light pos="0 0 1"/>
    <geom name="floor" type="plane" size="0.4 0.4 0.01" rgba="0.8 0.8 0.8 1"/>
    <site name="goal" pos="{GOAL[0]} {GOAL[1]} 0.001" size="{GOAL_RADIUS} 0.001" type="cylinder" rgba="0 1 0 0.4"/>
    <body name="hand" pos="0 0 0.03">
      <joint name="hand_x" axis="1 0 0" damping="1"/>
      <joint name="hand_y" axis="0 1 0" damping="1"/>
      <geom name="hand" type="sphere" size="{HAND_RADIUS}" mass="0.2" contype="1" conaffinity="2" rgba="0.2 0.2 0.9 1"/>
    </body>
    <body name="puck" pos="0 0 0.03">
      <joint name="puck_x" axis="1 0 0" damping="1.5"/>
      <joint name="puck_y" axis="0 1 0" damping="1.5"/>
      <geom name="puck" type="sphere" size="{PUCK_RADIUS}" mass="0.2" contype="2" conaffinity="1" rgba="0.9 0.3 0.2 1"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="hand_x" gear="0.4" ctrllimited="true" ctrlrange="-1 1"/>
    <motor joint="hand_y" gear="0.4" ctrllimited="true" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""


def default_config() -> config_dict.ConfigDict:
    return config_dict.create(ctrl_dt=0.05, sim_dt=0.01, episode_length=100, action_repeat=1, impl="jax",
                              hand_start=HAND_START)


# PointPushAround: the hand starts between the puck and the goal, where the expert's hand ends. It must
# first leave the goal and go round the puck; the demonstrations' last states (hand beside the goal)
# lie next to the start, so rewards for the late steps pull the agent to stay put.
AROUND_HAND_START = (0.12, 0.05)
AROUND_EPISODE_LENGTH = 120
VARIANTS = {"PointPush": {}, "PointPushAround": {"hand_start": AROUND_HAND_START,
                                                 "episode_length": AROUND_EPISODE_LENGTH}}


class PointPush(mjx_env.MjxEnv):
    """Reach the puck, get behind it, push it to the goal (see the module docstring)."""

    def __init__(self, config: config_dict.ConfigDict | None = None, config_overrides: dict | None = None):
        super().__init__(config or default_config(), config_overrides)
        if self._config.impl != "jax":
            raise ValueError("PointPush runs on the pure-JAX MJX implementation only (impl='jax').")
        self._mj_model = mujoco.MjModel.from_xml_string(_XML)
        self._mj_model.opt.timestep = self.sim_dt
        self._mjx_model = mjx.put_model(self._mj_model, impl="jax")
        self._goal = jnp.asarray(GOAL)
        self._hand_start = jnp.asarray(self._config.hand_start, jnp.float32)

    def reset(self, rng: jax.Array) -> mjx_env.State:
        rng, k_hand, k_puck = jax.random.split(rng, 3)
        hand = self._hand_start + jax.random.uniform(k_hand, (2,), minval=-START_NOISE, maxval=START_NOISE)
        puck = jnp.asarray(PUCK_START) + jax.random.uniform(k_puck, (2,), minval=-START_NOISE, maxval=START_NOISE)
        data = mjx_env.make_data(self._mj_model, qpos=jnp.concatenate([hand, puck]), impl="jax")
        data = mjx.forward(self._mjx_model, data)
        metrics = {"goal_distance": self._goal_distance(data), "success": jnp.zeros(())}
        return mjx_env.State(data, self._obs(data), jnp.zeros(()), jnp.zeros(()), metrics, {"rng": rng})

    def step(self, state: mjx_env.State, action: jax.Array) -> mjx_env.State:
        data = mjx_env.step(self._mjx_model, state.data, action, self.n_substeps)
        distance = self._goal_distance(data)
        success = (distance < GOAL_RADIUS).astype(jnp.float32)
        done = (jnp.isnan(data.qpos).any() | jnp.isnan(data.qvel).any()).astype(jnp.float32)
        metrics = {"goal_distance": distance, "success": success}
        return mjx_env.State(data, self._obs(data), success, done, metrics, state.info)

    def _goal_distance(self, data: mjx.Data) -> jax.Array:
        return jnp.linalg.norm(data.qpos[2:4] - self._goal)

    def _obs(self, data: mjx.Data) -> jax.Array:
        return jnp.concatenate([data.qpos, data.qvel])

    @property
    def xml_path(self) -> str:
        return "<generated>"

    @property
    def action_size(self) -> int:
        return self._mjx_model.nu

    @property
    def mj_model(self) -> mujoco.MjModel:
        return self._mj_model

    @property
    def mjx_model(self) -> mjx.Model:
        return self._mjx_model


def scripted_expert(gain: float = 10.0, damping: float = 0.2, pass_by: float = 0.0):
    """A stateless expert `(obs, key) -> action`, batched like obs.

    It drives the hand to a point just behind the puck on the line to the goal; once
    behind the puck and within a centimetre of that line, it drives the hand to where
    it touches a puck resting on the goal, which pushes the puck there. A hand on the
    goal's side of the puck (PointPushAround) first steps sideways off that line and
    passes the puck at a clearance; it turns in once `pass_by` behind the puck's centre
    (`SCRIPTED_EXPERTS` holds each task's setting).
    """
    goal = jnp.asarray(GOAL)
    contact = HAND_RADIUS + PUCK_RADIUS
    clearance = contact + 0.06

    def policy(obs: jax.Array, key: jax.Array) -> jax.Array:
        del key
        hand, puck, hand_vel = obs[..., 0:2], obs[..., 2:4], obs[..., 4:6]
        direction = goal - puck
        direction = direction / jnp.maximum(jnp.linalg.norm(direction, axis=-1, keepdims=True), 1e-6)
        normal = jnp.stack([-direction[..., 1], direction[..., 0]], axis=-1)
        offset = hand - puck
        along = jnp.sum(offset * direction, axis=-1, keepdims=True)
        across = jnp.sum(offset * normal, axis=-1, keepdims=True)
        lateral = jnp.abs(across)
        side = jnp.where(across > 0, 1.0, -1.0)  # pass the puck on the side the hand is on (below when on the line)
        pushing = (along < 0.0) & (lateral < 0.01)
        behind = puck - (contact + 0.01) * direction
        # on the goal's side of the puck: step out to the clearance, then go back past the puck along it
        in_front = (along > 0.0) | ((along > -pass_by) & (lateral > 0.03))
        passing = puck + (jnp.minimum(along, 0.0) - contact - 0.02) * direction + side * clearance * normal
        stepping_out = puck + along * direction + side * clearance * normal
        detour = jnp.where(lateral > clearance - 0.01, passing, stepping_out)
        target = jnp.where(pushing, goal - contact * direction, jnp.where(in_front, detour, behind))
        # on the goal the direction is ill-defined: hold still
        target = jnp.where(jnp.linalg.norm(goal - puck, axis=-1, keepdims=True) < 0.01, hand, target)
        return jnp.clip(gain * (target - hand) - damping * hand_vel, -1.0, 1.0)

    return policy


# each task's scripted expert (a factory): PointPushAround's turns in behind the puck only once clear of it
SCRIPTED_EXPERTS = {"PointPush": scripted_expert,
                    "PointPushAround": functools.partial(scripted_expert, pass_by=HAND_RADIUS + PUCK_RADIUS + 0.01)}


def success(obs: jax.Array) -> jax.Array:
    """1.0 where the puck of observation(s) `obs` [..., 8] lies within the goal radius."""
    return (jnp.linalg.norm(obs[..., 2:4] - jnp.asarray(GOAL), axis=-1) < GOAL_RADIUS).astype(jnp.float32)
