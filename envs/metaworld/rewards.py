"""Meta-World's reward shaping in JAX: dm_control's `tolerance`, the Hamacher product and the
gripper-caging reward, as `metaworld.utils.reward_utils` and `SawyerXYZEnv._gripper_caging_reward`
(metaworld 3.0) compute them, with every data-dependent branch written as a select.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_VALUE_AT_MARGIN = 0.1


def tolerance(x: jax.Array, lower: float, upper: float, margin: jax.Array,
              value_at_margin: float = _VALUE_AT_MARGIN) -> jax.Array:
    """1 inside [lower, upper], falling off as a long-tailed sigmoid of the distance / margin.

    Meta-World calls only the "long_tail" sigmoid: 1 / ((d * s)^2 + 1), s = sqrt(1/v - 1). A zero
    margin makes it an indicator of the bounds, as in dm_control.
    """
    in_bounds = (lower <= x) & (x <= upper)
    safe_margin = jnp.where(margin == 0, 1.0, margin)
    d = jnp.where(x < lower, lower - x, x - upper) / safe_margin
    scale = jnp.sqrt(1.0 / value_at_margin - 1.0)
    soft = 1.0 / ((d * scale) ** 2 + 1.0)
    return jnp.where(in_bounds, 1.0, jnp.where(margin == 0, 0.0, soft))


def hamacher_product(a: jax.Array, b: jax.Array) -> jax.Array:
    """The Hamacher t-norm a*b / (a + b - a*b), 0 where both are 0 (inputs in [0, 1])."""
    denominator = a + b - a * b
    return jnp.where(denominator > 0, a * b / jnp.where(denominator > 0, denominator, 1.0), 0.0)


def gripper_caging(action: jax.Array, obj_pos: jax.Array, *, left_pad: jax.Array, right_pad: jax.Array,
                   tcp: jax.Array, obj_init_pos: jax.Array, init_tcp: jax.Array, obj_radius: float,
                   pad_success_thresh: float, object_reach_radius: float, xz_thresh: float,
                   desired_gripper_effort: float = 1.0, high_density: bool = False,
                   medium_density: bool = False) -> jax.Array:
    """Reward for caging and then gripping the object at `obj_pos` [3] (Meta-World's
    `_gripper_caging_reward`; the pads are body positions, `tcp` the fingers' midpoint)."""
    if high_density and medium_density:
        raise ValueError("the caging reward is either high- or medium-density, not both")
    pad_y = jnp.stack([left_pad[1], right_pad[1]])
    pad_to_obj = jnp.abs(pad_y - obj_pos[1])
    pad_to_obj_init = jnp.abs(pad_y - obj_init_pos[1])
    caging_margin = jnp.abs(pad_to_obj_init - pad_success_thresh)
    caging_lr = tolerance(pad_to_obj, obj_radius, pad_success_thresh, caging_margin)
    caging_y = hamacher_product(caging_lr[0], caging_lr[1])

    xz = jnp.array([0, 2])
    xz_margin = jnp.linalg.norm(obj_init_pos[xz] - init_tcp[xz]) - xz_thresh
    caging_xz = tolerance(jnp.linalg.norm(tcp[xz] - obj_pos[xz]), 0.0, xz_thresh, xz_margin)

    gripper_closed = jnp.minimum(jnp.maximum(0.0, action[-1]), desired_gripper_effort) / desired_gripper_effort
    caging = hamacher_product(caging_y, caging_xz)
    gripping = jnp.where(caging > 0.97, gripper_closed, 0.0)
    caging_and_gripping = hamacher_product(caging, gripping)
    if high_density:
        caging_and_gripping = (caging_and_gripping + caging) / 2
    if medium_density:
        reach_margin = jnp.abs(jnp.linalg.norm(obj_init_pos - init_tcp) - object_reach_radius)
        reach = tolerance(jnp.linalg.norm(obj_pos - tcp), 0.0, object_reach_radius, reach_margin)
        caging_and_gripping = (caging_and_gripping + reach) / 2
    return caging_and_gripping


def pick_place_caging(action: jax.Array, obj_pos: jax.Array, *, left_pad: jax.Array, right_pad: jax.Array,
                      init_left_pad: jax.Array, init_right_pad: jax.Array, tcp: jax.Array, obj_init_pos: jax.Array,
                      init_tcp: jax.Array) -> jax.Array:
    """pick-place's own caging reward (`SawyerPickPlaceEnvV3._gripper_caging_reward`): signed pad offsets,
    margins from the pads' initial positions, always the high-density mean."""
    pad_margin, xz_margin_min, obj_radius = 0.05, 0.005, 0.015
    right_margin = jnp.abs(jnp.abs(obj_pos[1] - init_right_pad[1]) - pad_margin)
    left_margin = jnp.abs(jnp.abs(obj_pos[1] - init_left_pad[1]) - pad_margin)
    right = tolerance(obj_pos[1] - right_pad[1], obj_radius, pad_margin, right_margin)
    left = tolerance(left_pad[1] - obj_pos[1], obj_radius, pad_margin, left_margin)
    caging_y = hamacher_product(left, right)
    xz = jnp.array([0, 2])
    xz_margin = jnp.linalg.norm(obj_init_pos[xz] - init_tcp[xz]) - xz_margin_min
    caging_xz = tolerance(jnp.linalg.norm(tcp[xz] - obj_pos[xz]), 0.0, xz_margin_min, xz_margin)
    gripper_closed = jnp.minimum(jnp.maximum(0.0, action[-1]), 1.0)
    caging = hamacher_product(caging_y, caging_xz)
    gripping = jnp.where(caging > 0.97, gripper_closed, 0.0)
    return (hamacher_product(caging, gripping) + caging) / 2
