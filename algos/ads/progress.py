"""ADS's progress recogniser and discount schedule (`modules/ads.py` of the official code).

The progress p (a number of demonstration steps) starts at int(0.2 T). After each round
of evaluation episodes, up to `max_delta` = 5 times: for each (episode, demonstration)
pair, take the cost matrix's top-left p x p block, match each of the agent's first p
steps to its cheapest demonstration step, and score the length of the longest strictly
increasing subsequence (LIS) of those matches; if the 90th percentile of the scores
reaches int(0.9 * ref[p - 1]), p grows by one. ref[k] is the median over ordered pairs
of distinct demonstrations of the same score on their (k+1) x (k+1) block: how well one
expert's first k+1 steps align with another's. p never decreases, and the discount is

    gamma = alpha^(1 / p),  alpha = 0.2,

so a reward p steps ahead weighs alpha: it rises from 0.2^(1/(0.2 T)) towards 0.2^(1/T).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

ALPHA = 0.2
THRESHOLD = 0.9
PROGRESS_START = 0.2
MAX_DELTA = 5
REF_PERCENTILE = 50.0
AGENT_PERCENTILE = 90.0


def lis_length(values: jax.Array, length: jax.Array) -> jax.Array:
    """Length of the longest strictly increasing subsequence of values[:length] ([n] ints).

    Patience sorting: tails[k] is the smallest last element of an increasing subsequence
    of length k + 1; O(n log n), with a traced `length`.
    """
    n = values.shape[0]
    big = jnp.iinfo(jnp.int32).max

    def body(i, carry):
        tails, size = carry
        x = values[i].astype(jnp.int32)
        masked = jnp.where(jnp.arange(n) < size, tails, big)
        k = jnp.searchsorted(masked, x, side="left")  # strictly increasing: replace the first >= x
        active = i < length
        tails = jnp.where(active, tails.at[k].set(x), tails)
        size = jnp.where(active, jnp.maximum(size, k + 1), size)
        return tails, size

    tails, size = jax.lax.fori_loop(0, n, body, (jnp.full(n, big, jnp.int32), jnp.zeros((), jnp.int32)))
    return size


def match_score(cost: jax.Array, p: jax.Array) -> jax.Array:
    """LIS of the row-wise argmin of cost[:p, :p] ([T, T] cost, traced p)."""
    t = cost.shape[1]
    masked = jnp.where(jnp.arange(t)[None, :] < p, cost, jnp.inf)
    return lis_length(jnp.argmin(masked, axis=1), p)


def scores_by_progress(costs: jax.Array) -> jax.Array:
    """[pairs, T, T] cost matrices -> [pairs, T]: match_score(C, k + 1) for every k."""
    t = costs.shape[-1]
    return jax.vmap(lambda c: jax.vmap(lambda k: match_score(c, k + 1))(jnp.arange(t)))(costs)


def reference_scores(demo_costs: jax.Array) -> jax.Array:
    """ref[k], [T]: the median over demonstration pairs of match_score(C_ij, k + 1).

    `demo_costs` [pairs, T, T]: the cost matrices of every ordered pair of distinct demonstrations.
    """
    return jnp.percentile(scores_by_progress(demo_costs).astype(jnp.float32), REF_PERCENTILE, axis=0)


def initial_progress(horizon: int, start: float = PROGRESS_START) -> jax.Array:
    return jnp.asarray(int(start * horizon), jnp.int32)


def update_progress(progress: jax.Array, costs: jax.Array, ref: jax.Array, max_delta: int = MAX_DELTA,
                    threshold: float = THRESHOLD, percentile: float = AGENT_PERCENTILE) -> jax.Array:
    """The new progress after one round: `costs` [M, T, T] (each evaluation episode against
    each demonstration), `ref` [T]. Rises by at most `max_delta`, never falls."""
    horizon = costs.shape[-1]

    def step(_, p):
        scores = jax.vmap(lambda c: match_score(c, p))(costs).astype(jnp.float32)
        agent = jnp.percentile(scores, percentile)
        needed = jnp.floor(threshold * ref[p - 1])
        return jnp.where((p < horizon) & (agent >= needed), p + 1, p)

    return jax.lax.fori_loop(0, max_delta, step, progress)


def discount(progress: jax.Array, alpha: float = ALPHA) -> jax.Array:
    """gamma = alpha^(1/p): the weight of the reward p steps ahead is alpha."""
    return jnp.exp(jnp.log(alpha) / progress)
