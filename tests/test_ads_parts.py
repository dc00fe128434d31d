"""ADS's parts: the OT proxy reward against exact OT, the progress recogniser, the discount schedule."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from algos.ads import ot_reward, progress


def _trajectory(key, length=40, dim=4):
    """A smooth curve away from the origin (cosine costs need nonzero vectors)."""
    steps = jnp.cumsum(0.3 * jax.random.normal(key, (length, dim)), axis=0)
    return steps + 3.0


def test_sinkhorn_plan_approaches_the_exact_assignment():
    """Uniform marginals on n points each: exact OT is the optimal assignment / n; the entropic
    plan at epsilon = 0.01 must cost nearly as little and have the right marginals."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    C = np.asarray(ot_reward.euclidean_cost(jnp.asarray(x), jnp.asarray(y)))
    rows, cols = linear_sum_assignment(C)
    exact = C[rows, cols].sum() / 8
    P = np.asarray(ot_reward.sinkhorn_plan(jnp.asarray(C), iterations=2000))
    # at epsilon = 0.01 Sinkhorn converges slowly: the marginals hold to 0.5%
    np.testing.assert_allclose(P.sum(axis=0), 1 / 8, rtol=5e-3)
    np.testing.assert_allclose(P.sum(axis=1), 1 / 8, rtol=5e-3)
    assert (P * C).sum() == pytest.approx(exact, abs=0.02)
    assert (P * C).sum() >= exact - 1e-4


def test_identical_trajectories_get_the_maximal_reward_and_the_closest_demo_is_chosen():
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    demos = jnp.stack([_trajectory(k) for k in keys])
    for i in range(3):
        out = ot_reward.ot_reward(demos[i], demos, scale=1.0)
        assert int(out.closest) == i
        # cosine cost >= 0, so a reward is <= 0; a copy transports (almost: the entropic plan
        # spreads a little mass onto neighbouring steps) each step onto itself
        assert -0.01 < float(out.score) <= 0.0
        other = ot_reward.rewards_against(demos[i], demos[(i + 1) % 3]).sum()
        assert float(other) < float(out.score) - 0.01
    noisy = demos[1] + 0.5 * jax.random.normal(jax.random.PRNGKey(9), demos[1].shape)
    assert int(ot_reward.ot_reward(noisy, demos).closest) == 1


def test_auto_scale_makes_the_first_episode_total_minus_the_factor():
    demos = jnp.stack([_trajectory(jax.random.PRNGKey(1))])
    episode = _trajectory(jax.random.PRNGKey(2))
    unscaled = ot_reward.ot_reward(episode, demos, scale=1.0)
    scale = ot_reward.auto_scale(unscaled.score, factor=10.0)
    assert float(ot_reward.ot_reward(episode, demos, scale=scale).rewards.sum()) == pytest.approx(-10.0, rel=1e-5)


def _lis_reference(a):
    dp = [1] * len(a)
    for i in range(len(a)):
        for j in range(i):
            if a[j] < a[i]:
                dp[i] = max(dp[i], dp[j] + 1)
    return max(dp) if len(a) else 0


def test_lis_matches_the_official_quadratic_programme():
    rng = np.random.default_rng(0)
    fn = jax.jit(progress.lis_length)
    for _ in range(50):
        a = rng.integers(0, 12, size=20)
        k = int(rng.integers(1, 21))
        assert int(fn(jnp.asarray(a), k)) == _lis_reference(list(a[:k]))


def _progress_after(episode_fn, rounds=30, horizon=40):
    """Run the recogniser for `rounds` rounds against 4 demonstrations of one smooth path."""
    base = _trajectory(jax.random.PRNGKey(0), horizon)
    demos = jnp.stack([base + 0.05 * jax.random.normal(jax.random.PRNGKey(i + 1), base.shape) for i in range(4)])
    pairs = jnp.stack([ot_reward.cosine_cost(demos[i], demos[j]) for i in range(4) for j in range(4) if i != j])
    ref = progress.reference_scores(pairs)
    p = progress.initial_progress(horizon)
    update = jax.jit(progress.update_progress)
    for r in range(rounds):
        episodes = jnp.stack([episode_fn(base, jax.random.PRNGKey(100 + 10 * r + e)) for e in range(2)])
        costs = jnp.stack([ot_reward.cosine_cost(ep, d) for ep in episodes for d in demos])
        p = update(p, costs, ref)
    return int(p), horizon


def test_progress_of_a_copy_a_prefix_and_unrelated_motion():
    copy, horizon = _progress_after(lambda base, k: base + 0.05 * jax.random.normal(k, base.shape))
    assert copy == horizon  # +5 per round from 8: reaches the horizon

    def prefix(base, k):  # follows the demonstration for 20 steps, then stays where it is
        held = jnp.concatenate([base[:20], jnp.repeat(base[19:20], horizon - 20, axis=0)])
        return held + 0.05 * jax.random.normal(k, base.shape)

    stalled, _ = _progress_after(prefix)
    assert 20 <= stalled <= 26, stalled

    def unrelated(base, k):  # moves elsewhere
        return _trajectory(k, horizon)[::-1] * jnp.array([1.0, -1.0, 1.0, -1.0]) + 10.0

    start, _ = _progress_after(unrelated)
    assert start < 14, start  # progress starts at int(0.2 * 40) = 8


def test_discount_schedule_is_monotone_with_the_paper_endpoints():
    horizon = 250
    p = jnp.arange(int(0.2 * horizon), horizon + 1)
    gammas = np.asarray(progress.discount(p))
    assert (np.diff(gammas) > 0).all()
    assert gammas[0] == pytest.approx(0.2 ** (1 / 50), rel=1e-6)
    assert gammas[-1] == pytest.approx(0.2 ** (1 / 250), rel=1e-6)
    assert float(progress.discount(jnp.asarray(50))) ** 50 == pytest.approx(0.2, rel=1e-5)
