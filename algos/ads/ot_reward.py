"""The optimal-transport proxy reward of ADS / OT-IL (Dadashi et al.; Haldar et al.), with ott-jax.

For an agent episode X [T, D] and a demonstration Y [T, D], with cost C_ij = c(x_i, y_j)
(cosine distance 1 - <x, y>/(|x||y|), or Euclidean in the official code's "features"
mode), the entropic plan P = Sinkhorn(1/T, 1/T, C, epsilon = 0.01, 100 iterations) gives

    r_i = -scale * sum_j P_ij C_ij        (the official code's -scale * diag(P C^T))

and the episode is rewarded by the demonstration with the highest total unscaled reward.
With `auto_scale`, the official trainer sets the scale once, after the first episode, so
that the episode's total is -factor (factor 10): scale = factor / |sum_i r_i(scale = 1)|.
Everything is jittable and vmaps over demonstrations and episodes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from ott.geometry import geometry
from ott.problems.linear import linear_problem
from ott.solvers.linear import sinkhorn

EPSILON = 0.01
ITERATIONS = 100
SCALE = 200.0  # the official sinkhorn_rew_scale, before auto-scaling


def cosine_cost(x: jax.Array, y: jax.Array) -> jax.Array:
    """[T, D] x [S, D] -> [T, S]: 1 - cos(x_i, y_j)."""
    dots = x @ y.T
    norms = jnp.linalg.norm(x, axis=-1)[:, None] * jnp.linalg.norm(y, axis=-1)[None, :]
    return 1.0 - dots / jnp.maximum(norms, 1e-12)  # a zero vector (the origin) is at cost 1 from everything


def euclidean_cost(x: jax.Array, y: jax.Array) -> jax.Array:
    """[T, D] x [S, D] -> [T, S]: |x_i - y_j|."""
    return jnp.sqrt(jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1))


COSTS = {"cosine": cosine_cost, "euclidean": euclidean_cost}


def sinkhorn_plan(cost: jax.Array, epsilon: float = EPSILON, iterations: int = ITERATIONS) -> jax.Array:
    """The entropic OT plan [T, S] between uniform marginals, a fixed number of iterations."""
    geom = geometry.Geometry(cost_matrix=cost, epsilon=epsilon)
    solver = sinkhorn.Sinkhorn(max_iterations=iterations, min_iterations=iterations)
    return solver(linear_problem.LinearProblem(geom)).matrix


def rewards_against(episode: jax.Array, demo: jax.Array, cost: str = "cosine", epsilon: float = EPSILON,
                    iterations: int = ITERATIONS) -> jax.Array:
    """Unscaled per-step OT rewards [T] of `episode` [T, D] against one demonstration [S, D]."""
    C = COSTS[cost](episode, demo)
    P = sinkhorn_plan(C, epsilon, iterations)
    return -jnp.sum(P * C, axis=1)


class OTReward(NamedTuple):
    rewards: jax.Array  # [T] scaled rewards against the closest demonstration
    closest: jax.Array  # [] its index
    score: jax.Array  # [] its total unscaled reward


def ot_reward(episode: jax.Array, demos: jax.Array, scale: jax.Array | float = SCALE, cost: str = "cosine",
              epsilon: float = EPSILON, iterations: int = ITERATIONS) -> OTReward:
    """The proxy reward of `episode` [T, D] from the closest of `demos` [N, T, D]."""
    per_demo = jax.vmap(lambda d: rewards_against(episode, d, cost, epsilon, iterations))(demos)  # [N, T]
    totals = per_demo.sum(axis=1)
    closest = jnp.argmax(totals)
    return OTReward(rewards=scale * per_demo[closest], closest=closest, score=totals[closest])


def auto_scale(first_episode_unscaled_total: jax.Array, factor: float = 10.0) -> jax.Array:
    """The official auto_rew_scale: the scale that makes the first episode's total -factor."""
    return factor / jnp.abs(first_episode_unscaled_total)
