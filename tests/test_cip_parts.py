"""CIP's parts: DirectLiNGAM's causal order, the reward-row weights, the counterfactual swap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algos.cip import augment, discovery


def _linear_dag(d: int, n: int, seed: int):
    """Linear SEM with uniform (non-Gaussian) noise over a random DAG: X [n, d], B [d, d], order."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(d)
    B = np.zeros((d, d))
    for a in range(d):
        for b in range(a):
            if rng.random() < 0.4:
                B[perm[a], perm[b]] = rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)
    noise = rng.uniform(-1, 1, size=(n, d))
    X = np.zeros((n, d))
    for k in perm:
        X[:, k] = X @ B[k] + noise[:, k]
    return X, B


_order = jax.jit(discovery.causal_order)


@pytest.mark.parametrize("d", [6, 12, 24])
def test_direct_lingam_recovers_a_causal_order_consistent_with_the_dag(d):
    X, B = _linear_dag(d, 5000, seed=d)
    order = np.asarray(_order(jnp.asarray(X, jnp.float32)))
    assert sorted(order.tolist()) == list(range(d))
    position = np.empty(d, int)
    position[order] = np.arange(d)
    violated = [(j, i) for i in range(d) for j in range(d) if B[i, j] != 0 and position[j] > position[i]]
    assert not violated


def _transitions(n=4000, seed=0, constant_column=False):
    """Reward driven by s0, s3 and a1 only; s1 is caused by s0 (a non-causal correlate)."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(-1, 1, size=(n, 6))
    s[:, 1] += 0.8 * s[:, 0]
    if constant_column:
        s[:, 5] = 0.3
    a = rng.uniform(-1, 1, size=(n, 2))
    r = 1.5 * s[:, 0] - 1.0 * s[:, 3] + 2.0 * a[:, 1] + 0.3 * rng.uniform(-1, 1, size=n)
    return jnp.asarray(s, jnp.float32), jnp.asarray(a, jnp.float32), jnp.asarray(r, jnp.float32)


@pytest.mark.parametrize("assume_reward_last", [False, True])
def test_reward_weights_single_out_the_dimensions_that_drive_the_reward(assume_reward_last):
    s, a, r = _transitions(constant_column=True)
    w = jax.jit(discovery.reward_weights, static_argnames="assume_reward_last")(s, a, r, assume_reward_last)
    assert np.all(np.isfinite(np.asarray(w.state))) and np.all(np.isfinite(np.asarray(w.action)))
    np.testing.assert_allclose(float(w.state.sum()), 6.0, rtol=1e-5)
    np.testing.assert_allclose(float(w.action.sum()), 2.0, rtol=1e-5)
    row = np.asarray(w.reward_row)
    assert set(np.flatnonzero(np.abs(row) > 0.05)) == {0, 3, 7}  # s0, s3, a1 (a1 is column 6 + 1)
    assert row[0] > 0 > row[3] and row[7] > 0
    assert row[5] == 0.0  # the constant column: no edge, no NaN
    ws = np.asarray(w.state)
    assert ws[0] == ws.max() and np.argmax(np.asarray(w.action)) == 1
    if not assume_reward_last:
        order = np.asarray(w.order)
        assert order[-1] == 5 and list(order).index(8) > list(order).index(0)  # constant last; s0 before r


def test_counterfactual_swap_keeps_causal_dimensions_and_swaps_the_rest():
    key = jax.random.PRNGKey(0)
    obs, next_obs = jax.random.normal(key, (64, 5)), jax.random.normal(jax.random.PRNGKey(1), (64, 5))
    mask = augment.causal_mask(jnp.array([0.9, 0.0, -0.4, 0.01, 0.0]))
    assert mask.tolist() == [True, False, True, False, False]
    new_obs, new_next = augment.counterfactual_batch(jax.random.PRNGKey(2), obs, next_obs, mask)
    partner = jax.random.permutation(jax.random.PRNGKey(2), 64)
    np.testing.assert_array_equal(new_obs[:, [0, 2]], obs[:, [0, 2]])
    np.testing.assert_array_equal(new_next[:, [0, 2]], next_obs[:, [0, 2]])
    np.testing.assert_array_equal(new_obs[:, [1, 3, 4]], obs[partner][:, [1, 3, 4]])
    np.testing.assert_array_equal(new_next[:, [1, 3, 4]], next_obs[partner][:, [1, 3, 4]])


def test_discovery_linear_algebra_matches_lapack_without_calling_it():
    from algos.cip import discovery as d

    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(4), 3)
    X = jax.random.normal(k1, (400, 7))
    X = X.at[:, 1].set(0.9 * X[:, 0] + 0.1 * X[:, 1])  # nearly collinear columns
    y = X @ jnp.arange(7.0) + jax.random.normal(k2, (400,))
    allowed = jnp.array([1, 1, 1, 0, 1, 1, 1], bool)
    ref = np.linalg.lstsq(np.where(allowed, X, 0.0), y, rcond=None)[0]
    np.testing.assert_allclose(d._least_squares(X, y, allowed), ref, atol=2e-3)
    gram = X.T @ X / 400
    top = np.linalg.eigvalsh(np.asarray(gram))[-1]
    assert top <= float(d._largest_eigenvalue(gram)) <= 1.02 * top  # an upper bound, and tight
    # no LAPACK kernel in the vmapped discovery: two at once hang XLA:CPU's pool (see `experiments`)
    hlo = jax.jit(jax.vmap(lambda x: d.adaptive_lasso(x, y, allowed))).lower(jnp.stack([X, X])).as_text()
    assert "lapack" not in hlo
