"""CIP's counterfactual data augmentation (CoDA-style, Pitis et al., 2020).

State dimensions with no edge into the reward (|B[r, s]| <= tau) are swapped between
pairs of real transitions, in both s and s'; the action, reward and done flags of the
first transition are kept. The causal dimensions, and so the reward, stay consistent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def causal_mask(reward_row_state: jax.Array, tau: float = 0.05) -> jax.Array:
    """[S] bool: the state dimensions that drive the reward."""
    return jnp.abs(reward_row_state) > tau


def swap(obs: jax.Array, next_obs: jax.Array, partner_obs: jax.Array, partner_next_obs: jax.Array,
         mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """s~ = m * s_i + (1 - m) * s_j and the same for s' ([..., S] each, mask [S])."""
    return jnp.where(mask, obs, partner_obs), jnp.where(mask, next_obs, partner_next_obs)


def counterfactual_batch(key: jax.Array, obs: jax.Array, next_obs: jax.Array, mask: jax.Array
                         ) -> tuple[jax.Array, jax.Array]:
    """Counterfactual (s~, s~') [B, S] for a batch: each transition's partner is a random other one.

    Actions, rewards and done flags of the batch are reused unchanged by the caller.
    """
    partner = jax.random.permutation(key, obs.shape[0])
    return swap(obs, next_obs, obs[partner], next_obs[partner], mask)
