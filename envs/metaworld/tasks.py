"""Meta-World tasks, each written from its metaworld 3.0 class (`metaworld/envs/sawyer_*_v3.py`):
the constants, the reset's placement, the observed objects and the "v2" reward (metaworld's
default `reward_function_version`). Success is metaworld's `info["success"]`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.metaworld import rewards
from envs.metaworld.sawyer import SawyerEnv, SawyerState, TaskConfig, info_metrics, quat_from_matrix_xyzw


def _metrics(success, near_object, grasp_success, grasp_reward, in_place_reward, obj_to_target, reward):
    return info_metrics(success=success, near_object=near_object, grasp_success=grasp_success,
                        grasp_reward=grasp_reward, in_place_reward=in_place_reward, obj_to_target=obj_to_target,
                        unscaled_reward=reward)


class Basketball(SawyerEnv):
    """Pick up the ball and dunk it through the hoop (`SawyerBasketballEnvV3`)."""

    config = TaskConfig(
        name="mw/basketball", metaworld_name="basketball-v3", xml="sawyer_xyz/sawyer_basketball.xml",
        hand_low=(-0.5, 0.40, 0.05), hand_high=(0.5, 1.0, 0.5), hand_init=(0.0, 0.6, 0.2),
        reset_low=(-0.1, 0.6, 0.0299, -0.1, 0.85, 0.0), reset_high=(0.1, 0.7, 0.0301, 0.1, 0.9 + 1e-7, 0.0),
        episode_length=175, camera="corner",
        # the authors' basketball-v3 narrows the basket's x range from [-0.1, 0.1] to [-0.025, 0.025]
        ads_reset=((-0.1, 0.6, 0.0299, -0.025, 0.85, 0.0), (0.1, 0.7, 0.0301, 0.025, 0.9 + 1e-7, 0.0)))
    TARGET_RADIUS = 0.08
    BALL_Z = 0.03
    HOOP_HEIGHT = 0.3  # the reward's target sits just above the hoop

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        m = self._mj_model
        self._basket = m.body("basket_goal").id
        self._ball = m.body("bsktball").id
        # the goal site's offset from the basket (hoop link + site), as the reference reads it after placing
        self._goal_offset = jnp.asarray(m.body("hooplink").pos + m.site("goal").pos, jnp.float32)

    def _valid(self, rand):
        return jnp.linalg.norm(rand[:2] - rand[3:5]) >= 0.15

    def _goal_bounds(self):
        low = self._reset_box[0][3:] + np.array([0.0, -0.083, 0.2499])
        high = self._reset_box[1][3:] + np.array([0.0, -0.083, 0.2501])
        return low, high

    def _place(self, s: SawyerState) -> SawyerState:
        obj_init = jnp.concatenate([s.rand[:2], jnp.array([self.BALL_Z])])
        basket = s.rand[3:6]
        return self._set_obj_xyz(s, obj_init).replace(
            body_pos=s.body_pos.at[self._basket].set(basket), target=basket + self._goal_offset, obj_init=obj_init)

    def _objects(self, d):
        return d.xpos[self._ball], d.xquat[self._ball]

    def _evaluate(self, obs, action, d, s):
        obj = obs[4:7]
        target = s.target.at[2].set(self.HOOP_HEIGHT)
        scale = jnp.array([1.0, 1.0, 2.0])
        target_to_obj = jnp.linalg.norm((obj - target) * scale)
        target_to_obj_init = jnp.linalg.norm((s.obj_init - target) * scale)
        in_place = rewards.tolerance(target_to_obj, 0.0, self.TARGET_RADIUS, target_to_obj_init)
        tcp_opened = obs[3]
        tcp = self.tcp(d)
        tcp_to_obj = jnp.linalg.norm(obj - tcp)
        grasped = rewards.gripper_caging(
            action, obj, left_pad=d.xpos[self._ids["leftpad"]], right_pad=d.xpos[self._ids["rightpad"]], tcp=tcp,
            obj_init_pos=s.obj_init, init_tcp=self._init_tcp, obj_radius=0.025, pad_success_thresh=0.06,
            object_reach_radius=0.01, xz_thresh=0.005, high_density=True)
        lifted = (tcp_to_obj < 0.035) & (tcp_opened > 0) & (obj[2] - 0.01 > s.obj_init[2])
        grasped = jnp.where(lifted, 1.0, grasped)
        reward = rewards.hamacher_product(grasped, in_place)
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(target_to_obj < self.TARGET_RADIUS, 10.0, reward)
        metrics = _metrics(success=target_to_obj <= self.TARGET_RADIUS, near_object=tcp_to_obj <= 0.05,
                           grasp_success=(tcp_opened > 0) & (obj[2] - 0.03 > s.obj_init[2]), grasp_reward=grasped,
                           in_place_reward=in_place, obj_to_target=target_to_obj, reward=reward)
        return reward, metrics


class LeverPull(SawyerEnv):
    """Pull a lever up by 90 degrees (`SawyerLeverPullEnvV3`)."""

    config = TaskConfig(
        name="mw/lever-pull", metaworld_name="lever-pull-v3", xml="sawyer_xyz/sawyer_lever_pull.xml",
        hand_low=(-0.5, 0.40, -0.15), hand_high=(0.5, 1.0, 0.5), hand_init=(0.0, 0.4, 0.2),
        reset_low=(-0.1, 0.7, 0.0), reset_high=(0.1, 0.8, 0.0), episode_length=125, camera="corner4")
    LEVER_RADIUS = 0.2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        m = self._mj_model
        self._lever = m.body("lever").id
        self._lever_start = m.site("leverStart").id
        self._lever_geom = m.geom("objGeom").id
        self._lever_qpos = int(m.jnt_qposadr[m.joint("LeverAxis").id])

    def _goal_bounds(self):
        return np.asarray(self.config.hand_low), np.asarray(self.config.hand_high)

    def _lever_pos_init(self, s: SawyerState) -> jax.Array:
        return s.rand + jnp.array([0.12, -self.LEVER_RADIUS, 0.25])

    def _place(self, s: SawyerState) -> SawyerState:
        return s.replace(body_pos=s.body_pos.at[self._lever].set(s.rand), obj_init=s.rand,
                         target=s.rand + jnp.array([0.12, 0.0, 0.25 + self.LEVER_RADIUS]))

    def _objects(self, d):
        return d.site_xpos[self._lever_start], quat_from_matrix_xyzw(d.geom_xmat[self._lever_geom].reshape(3, 3))

    def _evaluate(self, obs, action, d, s):
        del action
        gripper, lever = obs[:3], obs[4:7]
        scale = jnp.array([4.0, 1.0, 4.0])
        offset = jnp.array([0.0, 0.055, 0.07])
        lever_init = self._lever_pos_init(s)
        shoulder_to_lever = jnp.linalg.norm((gripper + offset - lever) * scale)
        shoulder_to_lever_init = jnp.linalg.norm((self._init_tcp + offset - lever_init) * scale)
        ready_to_lift = rewards.tolerance(shoulder_to_lever, 0.0, 0.02, shoulder_to_lever_init)
        lever_error = jnp.abs(-d.qpos[self._lever_qpos] - jnp.pi / 2.0)
        engagement = rewards.tolerance(lever_error, 0.0, jnp.pi / 48.0, jnp.asarray(jnp.pi / 2.0 - jnp.pi / 12.0))
        obj_to_target = jnp.linalg.norm(lever - s.target)
        in_place = rewards.tolerance(obj_to_target, 0.0, 0.04, jnp.linalg.norm(lever_init - s.target))
        reward = 10.0 * rewards.hamacher_product(ready_to_lift, in_place)
        metrics = _metrics(success=lever_error <= jnp.pi / 24.0, near_object=shoulder_to_lever < 0.03,
                           grasp_success=ready_to_lift > 0.9, grasp_reward=ready_to_lift, in_place_reward=engagement,
                           obj_to_target=shoulder_to_lever, reward=reward)
        return reward, metrics


class PickPlace(SawyerEnv):
    """Pick up the puck and place it at a goal in the air (`SawyerPickPlaceEnvV3`).

    `grasp_success` here omits the reference's contact-force test (`touching_main_object`);
    the reward and `success` do not use it. The reference's "initial" pad positions are views
    of the live data (`get_body_com`), so its caging margins follow the pads as they move;
    the reward here reads the current pads there too, to give the reference's numbers.
    """

    config = TaskConfig(
        name="mw/pick-place", metaworld_name="pick-place-v3", xml="sawyer_xyz/sawyer_pick_place_v3.xml",
        hand_low=(-0.5, 0.40, 0.05), hand_high=(0.5, 1.0, 0.5), hand_init=(0.0, 0.6, 0.2),
        reset_low=(-0.1, 0.6, 0.02, -0.1, 0.8, 0.05), reset_high=(0.1, 0.7, 0.02, 0.1, 0.9, 0.3),
        episode_length=125, camera="corner3")
    TARGET_RADIUS = 0.05

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        m = self._mj_model
        self._obj = m.body("obj").id
        self._obj_geom = m.geom("objGeom").id

    def _valid(self, rand):
        return jnp.linalg.norm(rand[:2] - rand[3:5]) >= 0.15

    def _place(self, s: SawyerState) -> SawyerState:
        return self._set_obj_xyz(s, s.rand[:3]).replace(target=s.rand[3:6], obj_init=s.rand[:3])

    def _objects(self, d):
        return d.xpos[self._obj], quat_from_matrix_xyzw(d.geom_xmat[self._obj_geom].reshape(3, 3))

    def _evaluate(self, obs, action, d, s):
        tcp, obj, tcp_opened = self.tcp(d), obs[4:7], obs[3]
        obj_to_target = jnp.linalg.norm(obj - s.target)
        tcp_to_obj = jnp.linalg.norm(obj - tcp)
        in_place = rewards.tolerance(obj_to_target, 0.0, self.TARGET_RADIUS, jnp.linalg.norm(s.obj_init - s.target))
        left_pad, right_pad = d.xpos[self._ids["leftpad"]], d.xpos[self._ids["rightpad"]]
        grasped = rewards.pick_place_caging(action, obj, left_pad=left_pad, right_pad=right_pad,
                                            init_left_pad=left_pad, init_right_pad=right_pad, tcp=tcp,
                                            obj_init_pos=s.obj_init, init_tcp=self._init_tcp)
        reward = rewards.hamacher_product(grasped, in_place)
        lifted = (tcp_to_obj < 0.02) & (tcp_opened > 0) & (obj[2] - 0.01 > s.obj_init[2])
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(obj_to_target < self.TARGET_RADIUS, 10.0, reward)
        metrics = _metrics(success=obj_to_target <= 0.07, near_object=tcp_to_obj <= 0.03,
                           grasp_success=(tcp_opened > 0) & (obj[2] - 0.02 > s.obj_init[2]), grasp_reward=grasped,
                           in_place_reward=in_place, obj_to_target=obj_to_target, reward=reward)
        return reward, metrics


class Assembly(SawyerEnv):
    """Pick up the wrench (a round nut on a handle) and put it over the peg (`SawyerNutAssemblyEnvV3`).

    The ADS authors' assembly-v3 (`reset_variant="ads"`, default) fixes the peg at metaworld's
    default goal (0.1, 0.8, 0.1) and spreads the wrench over x in [-0.1, 0.1], y in [0.4, 0.6];
    metaworld's puts the wrench at (0, 0.6) and spreads the peg.
    """

    config = TaskConfig(
        name="mw/assembly", metaworld_name="assembly-v3", xml="sawyer_xyz/sawyer_assembly_peg.xml",
        hand_low=(-0.5, 0.40, 0.05), hand_high=(0.5, 1.0, 0.5), hand_init=(0.0, 0.6, 0.2),
        reset_low=(0.0, 0.6, 0.02, -0.1, 0.75, 0.1), reset_high=(0.0, 0.6, 0.02, 0.1, 0.85, 0.1),
        episode_length=175, camera="corner",
        ads_reset=((-0.1, 0.4, 0.02, 0.1, 0.8, 0.1), (0.1, 0.6, 0.02, 0.1, 0.8, 0.1)))
    WRENCH_HANDLE_LENGTH = 0.02
    IDEAL_QUAT = (0.707, 0.0, 0.0, 0.707)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        m = self._mj_model
        self._nut = m.body("RoundNut").id
        self._peg = m.body("peg").id
        self._grip_site = m.site("RoundNut-8").id
        self._center_site = m.site("RoundNut").id

    def _valid(self, rand):
        return jnp.linalg.norm(rand[:2] - rand[3:5]) >= 0.1

    def _place(self, s: SawyerState) -> SawyerState:
        obj_init, target = s.rand[:3], s.rand[3:6]
        return self._set_obj_xyz(s, obj_init).replace(
            body_pos=s.body_pos.at[self._peg].set(target - jnp.array([0.0, 0.0, 0.05])), target=target,
            obj_init=obj_init)

    def _objects(self, d):
        return d.site_xpos[self._grip_site], d.xquat[self._nut]

    def _in_place(self, wrench_center: jax.Array, target: jax.Array) -> tuple[jax.Array, jax.Array]:
        """metaworld's `_reward_pos`: (in-place reward, success)."""
        error = target - wrench_center
        radius = jnp.linalg.norm(error[:2])
        success = (radius < 0.02) & (error[2] > 0.0)
        threshold = jnp.where(success, 0.02, 0.01)
        above = radius > threshold
        target_height = jnp.where(above, 0.02 * jnp.log(jnp.where(above, radius - threshold, 1.0)) + 0.2, 0.0)
        error = error.at[2].set(target_height - wrench_center[2])
        lifted = (wrench_center[2] > 0.02) | (radius < threshold)
        placed = rewards.tolerance(jnp.linalg.norm(error * jnp.array([1.0, 1.0, 3.0])), 0.0, 0.02, jnp.asarray(0.4))
        return 0.1 * lifted + 0.9 * placed, success

    def _evaluate(self, obs, action, d, s):
        hand, wrench = obs[:3], obs[4:7]
        near = jnp.abs(wrench[0] - hand[0]) < self.WRENCH_HANDLE_LENGTH / 2.0
        wrench_threshed = wrench.at[0].set(jnp.where(near, hand[0], wrench[0]))
        reward_quat = jnp.maximum(1.0 - jnp.linalg.norm(obs[7:11] - jnp.asarray(self.IDEAL_QUAT)) / 0.4, 0.0)
        grab = rewards.gripper_caging(
            action, wrench_threshed, left_pad=d.xpos[self._ids["leftpad"]], right_pad=d.xpos[self._ids["rightpad"]],
            tcp=self.tcp(d), obj_init_pos=s.obj_init, init_tcp=self._init_tcp, obj_radius=0.015,
            pad_success_thresh=0.02, object_reach_radius=0.01, xz_thresh=0.01, medium_density=True)
        in_place, success = self._in_place(d.site_xpos[self._center_site], s.target)
        reward = jnp.where(success, 10.0, (2.0 * grab + 6.0 * in_place) * reward_quat)
        metrics = _metrics(success=success, near_object=reward_quat, grasp_success=grab >= 0.5, grasp_reward=grab,
                           in_place_reward=in_place, obj_to_target=0.0, reward=reward)
        return reward, metrics


TASKS: dict[str, type[SawyerEnv]] = {cls.config.name: cls for cls in (Assembly, Basketball, LeverPull, PickPlace)}
