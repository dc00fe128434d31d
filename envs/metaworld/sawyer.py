"""The Sawyer arm of Meta-World on MJX: mocap control, the 39-d observation, resets in JAX.

Written from the official package's `SawyerXYZEnv` (metaworld 3.0, `sawyer_xyz_env.py`), on
its own XML models. Per step: the action's xyz part (clipped to [-1, 1], times 1/100) moves the
mocap body that the hand is welded to, clipped to the task's hand box; its last entry drives
the two fingers as `[a, -a]`; five physics steps follow, then a forward pass so the
observation is read at the new positions (the reference calls `mj_forward` there too).

Observation (39): hand position (3), finger opening (1, clipped to [0, 1]), up to two objects'
positions and quaternions (14, zero-padded), the previous step's 18 values, and the goal
(3; zeros unless `goal_observable`, Meta-World's "partially observable" default for ML1,
which the ADS authors trained on; their demonstrations zero it too).

Physics runs on MJX's warp implementation: the Sawyer scenes collide cylinders with meshes,
boxes and cylinders, which MJX's pure-JAX implementation does not implement (`put_model`
refuses them), so `impl="jax"` cannot load these models at all (`docs/environments.md`).

The reference's reset first drives the hand to its start for 50 x 5 physics steps, from the
model's initial state, before placing the objects. That settle does not depend on the task's
random vector, so it is computed once here, on CPU MuJoCo at construction, and every reset
starts from its result.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from envs.core import Environment, EnvSpec, State, check_action
from envs.worlds import per_world

FRAME_SKIP = 5
ACTION_SCALE = 1.0 / 100
MOCAP_QUAT = (1.0, 0.0, 1.0, 0.0)
HAND_SPACE = ((-0.525, 0.348, -0.0525), (0.525, 1.025, 0.7))  # the observation's bounds on the hand
OBJ_OBS_SIZE = 14
OBS_SIZE = 39
# metaworld's `reset_mocap_welds`: the weld's anchor, relative pose and torque scale (the first 11
# of MuJoCo 4's 12 weld values; metaworld 3.x writes 11 and fails to load on MuJoCo 4)
MOCAP_WELD = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 5.0)
HAND_RESET_STEPS = 50
# warp's buffers per world: contacts (its own default; CPU MuJoCo had at most 13 in scripted and random
# basketball episodes) and constraint rows (at most 56 there)
CONTACTS_PER_WORLD = 48
CONSTRAINTS_PER_WORLD = 128


@struct.dataclass
class Pose:
    """What the observation and the rewards read of the physics after a step (one world)."""

    qpos: jax.Array
    qvel: jax.Array
    qacc_warmstart: jax.Array
    xpos: jax.Array
    xquat: jax.Array
    site_xpos: jax.Array
    geom_xmat: jax.Array


@struct.dataclass
class SawyerState:
    """What a Meta-World episode carries between steps (leaves batched like `State.obs`).

    Attributes:
      qpos, qvel: [nq], [nv] physics state; mocap_pos [1, 3], mocap_quat [1, 4]: the hand's target.
      qacc_warmstart: [nv] the solver's warm start, as MuJoCo keeps it in its data.
      body_pos: [nbody, 3] the model's body offsets: tasks move fixed bodies (a basket, a lever)
        per episode, as the reference does by writing `model.body_pos`.
      prev_obs: [18] the previous step's first 18 observation values.
      target: [3] the goal position; obj_init: [3] the object's start (rewards use both).
      rand: the task's random vector of this episode (object and goal placement).
    """

    qpos: jax.Array
    qvel: jax.Array
    mocap_pos: jax.Array
    mocap_quat: jax.Array
    qacc_warmstart: jax.Array
    body_pos: jax.Array
    prev_obs: jax.Array
    target: jax.Array
    obj_init: jax.Array
    rand: jax.Array


def fix_mocap_weld(mj_model: mujoco.MjModel) -> None:
    """Write Meta-World's mocap weld parameters into `mj_model` (in place)."""
    for i in range(mj_model.neq):
        if mj_model.eq_type[i] == mujoco.mjtEq.mjEQ_WELD:
            mj_model.eq_data[i, :len(MOCAP_WELD)] = MOCAP_WELD


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """A task's constants, as its metaworld class sets them.

    Attributes:
      name: our registry name ("mw/<name>"); metaworld_name: the official id ("basketball-v3").
      xml: the model's path under `metaworld/assets/`.
      hand_low, hand_high: the mocap box (also the goal space of some tasks).
      hand_init: the hand's start, where the reset drives it.
      reset_low, reset_high: the box the random vector (objects, goal) is drawn from.
      episode_length: the time limit the ADS authors set per task (`IL/suite/metaworld.py`,
        `MAX_PATH_LENGTH`); metaworld's own is 500.
      camera: the camera the ADS authors render this task from.
      ads_reset: the ADS authors' own box for the random vector where their copy of metaworld changed
        it (`IL/metaworld/envs/mujoco/sawyer_xyz/v3/`), as (low, high); None where it is metaworld's.
    """

    name: str
    metaworld_name: str
    xml: str
    hand_low: tuple[float, float, float]
    hand_high: tuple[float, float, float]
    hand_init: tuple[float, float, float]
    reset_low: tuple[float, ...]
    reset_high: tuple[float, ...]
    episode_length: int
    camera: str
    ads_reset: tuple[tuple[float, ...], tuple[float, ...]] | None = None


class SawyerEnv(Environment):
    """One Meta-World task; subclasses place the objects and score the state.

    Subclasses implement `_place` (the reset's object placement from the random vector),
    `_objects` (positions and quaternions for the observation) and `_evaluate` (reward
    and metrics, `success` among them).
    """

    config: TaskConfig

    def __init__(self, goal_observable: bool = False, task_variations: int = 50, variations_seed: int = 0,
                 reset_variant: str = "ads"):
        """`reset_variant`: "ads", the random-vector box of the ADS authors' copy of metaworld (which
        produced the paper's numbers; the same as metaworld's for most tasks), or "metaworld"."""
        from envs.metaworld import assets

        if reset_variant not in ("ads", "metaworld"):
            raise ValueError(f"reset_variant must be 'ads' or 'metaworld', got {reset_variant!r}")
        box = self.config.ads_reset if reset_variant == "ads" and self.config.ads_reset else \
            (self.config.reset_low, self.config.reset_high)
        self._reset_box = (np.asarray(box[0], np.float32), np.asarray(box[1], np.float32))

        mj_model = mujoco.MjModel.from_xml_path(str(assets.model_path(self.config.xml)))
        fix_mocap_weld(mj_model)
        self._mj_model = mj_model
        self._goal_observable = bool(goal_observable)
        self._settled = self._settle_hand(mj_model)
        self._ids = {
            "hand": mj_model.body("hand").id, "rightclaw": mj_model.body("rightclaw").id,
            "leftclaw": mj_model.body("leftclaw").id, "leftpad": mj_model.body("leftpad").id,
            "rightpad": mj_model.body("rightpad").id,
            "right_ee": mj_model.site("rightEndEffector").id, "left_ee": mj_model.site("leftEndEffector").id,
        }
        self._init_tcp = jnp.asarray(self._settled["tcp"], jnp.float32)
        # Meta-World's benchmarks fix 50 random vectors per task (`_make_tasks`); each episode takes one
        if task_variations < 0:
            raise ValueError(f"task_variations must be >= 0 (0: a fresh draw per episode), got {task_variations}")
        self._variations = self._draw_variations(task_variations, variations_seed) if task_variations else None
        self._warp_model = None  # MJX's warp model, built on first use
        self._physics: dict[int, Any] = {}  # worlds per call -> a warp data template with buffers for them
        # one warp call for all worlds, however the vmaps around a step nest (envs.worlds)
        self._advance = per_world(functools.partial(self._worlds, FRAME_SKIP))
        self._pose = per_world(functools.partial(self._worlds, 0))

    # -- the pieces a task provides -------------------------------------------------------
    def _place(self, s: SawyerState) -> SawyerState:
        """Place objects and the goal from `s.rand` (qpos, body_pos, target, obj_init)."""
        raise NotImplementedError

    def _objects(self, d) -> tuple[jax.Array, jax.Array]:
        """Object positions [3k] and quaternions [4k] (k <= 2) for the observation."""
        raise NotImplementedError

    def _evaluate(self, obs: jax.Array, action: jax.Array, d, s: SawyerState) -> tuple[jax.Array, dict]:
        """Reward and metrics (`success` among them) of the state after a step."""
        raise NotImplementedError

    def _valid(self, rand: jax.Array) -> jax.Array:
        """Whether a random vector is acceptable (some tasks redraw, e.g. a basket too near the ball)."""
        return jnp.ones((), bool)

    # -- construction-time helpers --------------------------------------------------------
    def _settle_hand(self, mj_model: mujoco.MjModel) -> dict[str, np.ndarray]:
        """The state after the reference's hand reset, from the model's initial state."""
        d = mujoco.MjData(mj_model)
        mujoco.mj_resetData(mj_model, d)
        for _ in range(HAND_RESET_STEPS):
            d.mocap_pos[0] = self.config.hand_init
            d.mocap_quat[0] = MOCAP_QUAT
            d.ctrl[:] = (-1.0, 1.0)
            mujoco.mj_step(mj_model, d, nstep=FRAME_SKIP)
        tcp = (d.site("rightEndEffector").xpos + d.site("leftEndEffector").xpos) / 2.0
        return {"qpos": d.qpos.copy(), "qvel": d.qvel.copy(), "mocap_pos": d.mocap_pos.copy(),
                "mocap_quat": d.mocap_quat.copy(), "qacc_warmstart": d.qacc_warmstart.copy(), "tcp": tcp.copy()}

    def _draw_variations(self, count: int, seed: int) -> jax.Array:
        keys = jax.random.split(jax.random.PRNGKey(seed), count)
        return jax.vmap(self._draw_rand)(keys)

    def _draw_rand(self, key: jax.Array) -> jax.Array:
        low, high = jnp.asarray(self._reset_box[0]), jnp.asarray(self._reset_box[1])

        def draw(carry):
            key, _ = carry
            key, sub = jax.random.split(key)
            return key, jax.random.uniform(sub, low.shape, minval=low, maxval=high)

        return jax.lax.while_loop(lambda c: ~self._valid(c[1]), draw, draw((key, low)))[1]

    # -- physics ----------------------------------------------------------------------------
    def _template(self, worlds: int):
        """The warp model and a data template for a call of `worlds` worlds (built once per size, at
        trace time): the worlds of a call share one contact buffer, sized for all of them."""
        if worlds not in self._physics:
            from mujoco import mjx

            from envs.metaworld import assets

            assets.require_warp()
            with jax.ensure_compile_time_eval():  # concrete arrays, though asked for inside a trace
                if self._warp_model is None:  # one model for every size; only the data's buffers differ
                    self._warp_model = mjx.put_model(self._mj_model, impl="warp")
                d0 = mjx.make_data(self._mj_model, impl="warp", naconmax=worlds * CONTACTS_PER_WORLD,
                                   njmax=CONSTRAINTS_PER_WORLD)
            self._physics[worlds] = d0
        return self._warp_model, self._physics[worlds]

    def _worlds(self, substeps: int, qpos, qvel, mocap_pos, mocap_quat, qacc_warmstart, body_pos, ctrl) -> Pose:
        """`substeps` physics steps then a forward pass, for W worlds (every argument [W, ...])."""
        from mujoco import mjx

        mx, d0 = self._template(qpos.shape[0])

        def world(qpos, qvel, mocap_pos, mocap_quat, qacc_warmstart, body_pos, ctrl):
            m = mx.replace(body_pos=body_pos)
            d = d0.replace(qpos=qpos, qvel=qvel, mocap_pos=mocap_pos, mocap_quat=mocap_quat,
                           qacc_warmstart=qacc_warmstart, ctrl=ctrl)
            d = jax.lax.fori_loop(0, substeps, lambda _, d: mjx.step(m, d), d)
            d = mjx.forward(m, d)
            return Pose(qpos=d.qpos, qvel=d.qvel, qacc_warmstart=d.qacc_warmstart, xpos=d.xpos, xquat=d.xquat,
                        site_xpos=d.site_xpos, geom_xmat=d.geom_xmat)

        return jax.vmap(world)(qpos, qvel, mocap_pos, mocap_quat, qacc_warmstart, body_pos, ctrl)

    def _physics_of(self, s: SawyerState, ctrl: jax.Array, substeps: int) -> "Pose":
        fn = self._advance if substeps else self._pose
        return fn(s.qpos, s.qvel, s.mocap_pos, s.mocap_quat, s.qacc_warmstart, s.body_pos, ctrl)

    def _forward(self, s: SawyerState) -> "Pose":
        return self._physics_of(s, jnp.zeros(2), 0)

    # -- observation ----------------------------------------------------------------------
    def tcp(self, d) -> jax.Array:
        """The midpoint of the two fingertips (Meta-World's `tcp_center`)."""
        return (d.site_xpos[self._ids["right_ee"]] + d.site_xpos[self._ids["left_ee"]]) / 2.0

    def _current(self, d) -> jax.Array:
        hand = d.xpos[self._ids["hand"]]
        opening = jnp.clip(jnp.linalg.norm(d.xpos[self._ids["rightclaw"]] - d.xpos[self._ids["leftclaw"]]) / 0.1,
                           0.0, 1.0)
        pos, quat = self._objects(d)
        k = pos.shape[0] // 3
        objs = jnp.concatenate([jnp.concatenate([pos[3 * i:3 * i + 3], quat[4 * i:4 * i + 4]]) for i in range(k)])
        objs = jnp.pad(objs, (0, OBJ_OBS_SIZE - objs.shape[0]))
        return jnp.concatenate([hand, opening[None], objs])

    def _goal_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The goal's bounds in an observed goal (the task's goal space): by default the goal part
        (entries 3-5) of the random vector's box."""
        return self._reset_box[0][3:6], self._reset_box[1][3:6]

    @staticmethod
    def _set_obj_xyz(s: SawyerState, pos: jax.Array) -> SawyerState:
        """The main object's free joint to `pos`, at rest (the reference's `_set_obj_xyz`)."""
        return s.replace(qpos=s.qpos.at[9:12].set(pos), qvel=s.qvel.at[9:15].set(0.0))

    def _observe(self, d, s: SawyerState) -> jax.Array:
        current = self._current(d)
        goal = s.target if self._goal_observable else jnp.zeros(3)
        obs = jnp.concatenate([current, s.prev_obs, goal])
        low, high = _obs_bounds(self._goal_bounds() if self._goal_observable else (np.zeros(3), np.zeros(3)))
        return jnp.clip(obs, low, high)

    # -- the environment contract ---------------------------------------------------------
    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(name=self.config.name, obs_shape=(OBS_SIZE,), action_shape=(4,), action_low=-1.0,
                       action_high=1.0, episode_length=self.config.episode_length, action_repeat=1,
                       control_dt=float(self._mj_model.opt.timestep * FRAME_SKIP))

    @property
    def variations(self) -> jax.Array:
        """The fixed task variations [K, len(reset_low)] episodes draw from (`task_variations` > 0)."""
        if self._variations is None:
            raise ValueError(f"{self.config.name} was built with task_variations=0: every episode draws afresh")
        return self._variations

    @property
    def mj_model(self) -> mujoco.MjModel:
        return self._mj_model

    def initial_state(self, rand: jax.Array) -> SawyerState:
        """The settled hand, the objects placed from random vector `rand`, and no previous step."""
        settled = self._settled
        f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
        s = SawyerState(qpos=f32(settled["qpos"]), qvel=f32(settled["qvel"]), mocap_pos=f32(settled["mocap_pos"]),
                        mocap_quat=f32(settled["mocap_quat"]), qacc_warmstart=f32(settled["qacc_warmstart"]),
                        body_pos=f32(self._mj_model.body_pos), prev_obs=jnp.zeros(18), target=jnp.zeros(3),
                        obj_init=jnp.zeros(3), rand=f32(rand))
        return self._place(s)

    def reset(self, key: jax.Array) -> State:
        if self._variations is None:
            rand = self._draw_rand(key)
        else:
            rand = self._variations[jax.random.randint(key, (), 0, self._variations.shape[0])]
        return self.reset_to(self.initial_state(rand))

    def reset_to(self, s: SawyerState) -> State:
        """The first `State` of an episode from a placed `SawyerState` (parity tests start here)."""
        d = self._forward(s)
        current = self._current(d)
        s = s.replace(prev_obs=current)
        obs = self._observe(d, s)
        _, metrics = self._evaluate(obs, jnp.zeros(4), d, s)
        zero = jnp.zeros(())
        return State(inner=s, obs=obs, reward=zero, done=zero, truncated=zero,
                     metrics=jax.tree.map(jnp.zeros_like, metrics), info={})

    def evaluate_at(self, s: SawyerState, action: jax.Array) -> tuple[jax.Array, jax.Array, dict]:
        """Observation [39], reward and metrics of physics state `s` reached by `action` [4]
        (what `step` reports after its physics), without stepping: scores given states."""
        d = self._forward(s)
        obs = self._observe(d, s)
        reward, metrics = self._evaluate(obs, jnp.clip(action, -1.0, 1.0), d, s)
        return obs, reward, metrics

    def step(self, state: State, action: jax.Array) -> State:
        action = jnp.clip(check_action(self.spec, action), -1.0, 1.0)
        s = state.inner
        low, high = jnp.asarray(self.config.hand_low), jnp.asarray(self.config.hand_high)
        mocap_pos = jnp.clip(s.mocap_pos + action[:3] * ACTION_SCALE, low, high)
        s = s.replace(mocap_pos=mocap_pos, mocap_quat=jnp.asarray([MOCAP_QUAT], jnp.float32))
        d = self._physics_of(s, jnp.stack([action[3], -action[3]]), FRAME_SKIP)
        s = s.replace(qpos=d.qpos, qvel=d.qvel, qacc_warmstart=d.qacc_warmstart)
        obs = self._observe(d, s)
        reward, metrics = self._evaluate(obs, action, d, s)
        unstable = (jnp.isnan(d.qpos).any() | jnp.isnan(d.qvel).any()).astype(jnp.float32)
        s = s.replace(prev_obs=obs[:18])
        # the time limit is the EpisodeLimit wrapper's: a step of the task itself never truncates
        return state.replace(inner=s, obs=obs, reward=reward.astype(jnp.float32), done=unstable,
                             truncated=jnp.zeros(()), metrics=metrics)


def _obs_bounds(goal_bounds) -> tuple[np.ndarray, np.ndarray]:
    hand_low, hand_high = np.asarray(HAND_SPACE[0]), np.asarray(HAND_SPACE[1])
    inf = np.full(OBJ_OBS_SIZE, np.inf)
    low = np.concatenate([hand_low, [-1.0], -inf, hand_low, [-1.0], -inf, np.asarray(goal_bounds[0])])
    high = np.concatenate([hand_high, [1.0], inf, hand_high, [1.0], inf, np.asarray(goal_bounds[1])])
    return low.astype(np.float32), high.astype(np.float32)


def quat_from_matrix_xyzw(mat: jax.Array) -> jax.Array:
    """A rotation matrix [3, 3] as a scalar-last quaternion with SciPy's sign choice
    (`Rotation.from_matrix(m).as_quat()`, which some Meta-World tasks put in the observation)."""
    m = mat
    decision = jnp.stack([m[0, 0], m[1, 1], m[2, 2], m[0, 0] + m[1, 1] + m[2, 2]])
    choice = jnp.argmax(decision)

    def diagonal(i):
        j, k = (i + 1) % 3, (i + 2) % 3
        q = jnp.zeros(4)
        q = q.at[i].set(1.0 - decision[3] + 2.0 * m[i, i])
        q = q.at[j].set(m[j, i] + m[i, j])
        q = q.at[k].set(m[k, i] + m[i, k])
        return q.at[3].set(m[k, j] - m[j, k])

    trace = jnp.stack([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1], 1.0 + decision[3]])
    q = jnp.where(choice == 3, trace, jax.lax.switch(jnp.minimum(choice, 2), [lambda: diagonal(0),
                                                                            lambda: diagonal(1),
                                                                            lambda: diagonal(2)]))
    return q / jnp.linalg.norm(q)


def info_metrics(**values: Any) -> dict[str, jax.Array]:
    """Metrics as float32 scalars."""
    return {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}
