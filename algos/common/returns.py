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


def nstep_return(
    rewards: jax.Array, terminated: jax.Array, done: jax.Array, gamma: float | jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """n-step returns over sampled sequences [B, n] that may cross episode boundaries.

    Step k of a sequence counts only if no episode ended at an earlier step. With
    `last` the final counted step (the first `done`, else n - 1):

        G        = sum_{k <= last} gamma^k r_k
        discount = gamma^(last + 1) * (1 - terminated_last)

    so the target `G + discount * Q(next_obs[last], .)` bootstraps through a time-out
    and not through a termination. Returns (G [B], discount [B], last [B] int32).
    """
    n = rewards.shape[-1]
    ended_before = jnp.concatenate([jnp.zeros_like(done[..., :1]), done[..., :-1]], axis=-1)
    counted = jnp.cumprod(1.0 - ended_before, axis=-1)
    powers = gamma ** jnp.arange(n, dtype=rewards.dtype)
    g = jnp.sum(counted * powers * rewards, axis=-1)
    last = (jnp.sum(counted, axis=-1) - 1).astype(jnp.int32)
    term_last = jnp.take_along_axis(terminated, last[..., None], axis=-1)[..., 0]
    discount = gamma ** (last + 1).astype(rewards.dtype) * (1.0 - term_last)
    return g, discount, last


def lambda_returns(rewards: jax.Array, values: jax.Array, discounts: jax.Array, bootstrap: jax.Array,
                   lam: float | jax.Array) -> jax.Array:
    """TD(lambda) returns over an imagined trajectory (Dreamer), shape [T, ...].

    G_t = r_t + d_t ((1 - lam) v_{t+1} + lam G_{t+1}), with v_T = G_T = `bootstrap`.
    `rewards`, `values` (v_t), `discounts` (d_t, gamma times continuation) are [T, ...];
    lam = 1 gives the discounted Monte Carlo return, lam = 0 the one-step return.
    """
    next_values = jnp.concatenate([values[1:], bootstrap[None]], axis=0)
    inputs = rewards + discounts * next_values * (1.0 - lam)

    def step(carry, x):
        inp, d = x
        g = inp + lam * d * carry
        return g, g

    _, returns = jax.lax.scan(step, bootstrap, (inputs, discounts), reverse=True)
    return returns
