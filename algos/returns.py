"""Return estimators over trajectories with a leading time axis."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    done: jax.Array,
    gamma: float | jax.Array,
    lam: float | jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation, correct across auto-resets and time-outs.

    All inputs have shape [T, ...]. `next_values[t]` is the value of the true successor
    of step t (the pre-reset observation where an episode ended), so a truncated
    step bootstraps from it while a terminated one does not; `done` cuts the
    recursion at every episode boundary.

        delta_t = r_t + gamma * (1 - terminated_t) * V(s'_t) - V(s_t)
        A_t     = delta_t + gamma * lam * (1 - done_t) * A_{t+1}

    Returns (advantages, value targets = advantages + values), both [T, ...].
    """
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values

    def backward(carry, x):
        delta, d = x
        adv = delta + gamma * lam * (1.0 - d) * carry
        return adv, adv

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(deltas[0]), (deltas, done), reverse=True)
    return advantages, advantages + values
