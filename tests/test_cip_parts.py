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


def test_lasso_strengths_are_in_raw_units_as_causal_learns():
    """A noiseless y = 2 x0 - 3 x2 on columns of scales 1, 10 and 0.1 (x1 irrelevant): the raw-unit strengths
    equal numpy.linalg.lstsq's coefficients; per standard deviation they are those times each column's std."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 3)) * np.array([1.0, 10.0, 0.1])
    y = 2.0 * X[:, 0] - 3.0 * X[:, 2]
    allowed = jnp.ones(3, bool)
    exact = np.linalg.lstsq(X, y, rcond=None)[0]
    raw = np.asarray(discovery.adaptive_lasso(jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32), allowed))
    np.testing.assert_allclose(raw, exact, atol=2e-2)
    assert raw[1] == 0.0  # the irrelevant column is left out
    per_std = np.asarray(discovery.adaptive_lasso(jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32), allowed,
                                                  units="standardised"))
    np.testing.assert_allclose(per_std, exact * X.std(0), atol=2e-2)


def test_signed_weights_rank_a_negative_driver_below_an_irrelevant_input_magnitude_weights_do_not():
    """The paper's softmax(B[r, .]) of the signed strengths gives a strongly negative driver less weight than
    an input that does not drive the reward at all; softmax(|B|) (our option) gives it the most."""
    rng = np.random.default_rng(2)
    s = jnp.asarray(rng.uniform(-1, 1, size=(3000, 3)), jnp.float32)
    a = jnp.asarray(rng.uniform(-1, 1, size=(3000, 1)), jnp.float32)
    r = -2.0 * s[:, 0] + 0.01 * jnp.asarray(rng.normal(size=3000), jnp.float32)
    signed = discovery.reward_weights(s, a, r, assume_reward_last=True)
    magnitude = discovery.reward_weights(s, a, r, assume_reward_last=True, weights_from="magnitude")
    assert float(signed.state[0]) < float(signed.state[1])
    assert int(np.argmax(np.asarray(magnitude.state))) == 0
    np.testing.assert_array_equal(signed.reward_row, magnitude.reward_row)  # the same edges, other weights


def _mi_estimate_on_a_linear_gaussian_toy(gain: float, noise: float = 0.3, updates: int = 3000) -> tuple[float, float]:
    """CIP's forward-model empowerment on s' = s + gain * a + N(0, noise^2), a = tanh(u), u ~ N(0.2, 0.5^2), 1-D.

    The forward and inverse models are CIP's, trained by CIP's losses on samples of the policy's own
    transitions; the estimate is CIP's bonus with unit weights. The truth, I(s'; a | s) = h(gain a + e) - h(e),
    is integrated numerically in NumPy.
    """
    import optax

    from algos.cip import agent as cip_agent
    from envs.core import EnvSpec

    spec = EnvSpec(name="toy", obs_shape=(1,), action_shape=(1,), action_low=-1.0, action_high=1.0,
                   episode_length=1, action_repeat=1, control_dt=1.0)
    c = cip_agent.default_config()
    c.hidden_sizes = c.inverse_hidden_sizes = (64, 64)
    state = cip_agent.init(jax.random.PRNGKey(0), spec, c)
    # a fixed policy: every weight 0, the last bias giving mean 0.2 and std 0.5 (before the tanh)
    raw = np.arctanh((np.log(0.5) + 5.0) / 3.5 - 1.0)
    actor = jax.tree.map(jnp.zeros_like, state.sac.actor_params)
    layers = actor["params"]["MLP_0"]
    last = max(layers, key=lambda name: int(name.rsplit("_", 1)[-1]))
    layers[last]["bias"] = jnp.array([0.2, raw], jnp.float32)
    sac_state = state.sac.replace(actor_params=actor)

    def batch(key, n=256):
        k_s, k_a, k_e = jax.random.split(key, 3)
        s = jax.random.normal(k_s, (n, 1))
        a = jnp.tanh(0.2 + 0.5 * jax.random.normal(k_a, (n, 1)))
        return s, a, s + gain * a + noise * jax.random.normal(k_e, (n, 1))

    tx = optax.adam(3e-3)

    @jax.jit
    def train(params, key):
        def step(carry, k):
            (inv, fwd), (o_inv, o_fwd) = carry
            s, a, s2 = batch(k)
            g_inv = jax.grad(cip_agent.inverse_loss)(inv, state, s, s2, a)
            g_fwd = jax.grad(cip_agent.forward_loss)(fwd, state, s, a, s2)
            u_inv, o_inv = tx.update(g_inv, o_inv)
            u_fwd, o_fwd = tx.update(g_fwd, o_fwd)
            return ((optax.apply_updates(inv, u_inv), optax.apply_updates(fwd, u_fwd)), (o_inv, o_fwd)), None

        opts = (tx.init(params[0]), tx.init(params[1]))
        return jax.lax.scan(step, (params, opts), jax.random.split(key, updates))[0][0]

    inverse, forward = train((state.inverse_params, state.forward_params), jax.random.PRNGKey(1))
    trained = state.replace(inverse_params=inverse, forward_params=forward)
    s, _, _ = batch(jax.random.PRNGKey(2), 20_000)
    estimate = float(cip_agent.empowerment_bonus(trained, sac_state, sac_state.actor_params, s, s, jnp.ones(1),
                                                 jax.random.PRNGKey(3)))
    # the truth: the density of x = gain * tanh(u) + e on a grid, u ~ N(0.2, 0.5^2)
    u = np.linspace(0.2 - 6 * 0.5, 0.2 + 6 * 0.5, 4001)
    pu = np.exp(-0.5 * ((u - 0.2) / 0.5) ** 2)
    pu /= pu.sum()
    x = np.linspace(-gain - 6 * noise, gain + 6 * noise, 4001)
    px = (pu[None, :] * np.exp(-0.5 * ((x[:, None] - gain * np.tanh(u)[None, :]) / noise) ** 2)).sum(1)
    px /= px.sum() * (x[1] - x[0])
    h_x = -np.sum(px * np.log(np.maximum(px, 1e-300))) * (x[1] - x[0])
    truth = h_x - 0.5 * np.log(2 * np.pi * np.e * noise**2)
    return estimate, float(truth)


def test_forward_model_empowerment_tracks_the_mutual_information_of_a_linear_gaussian_toy():
    """The Barber-Agakov bound under the policy's own transitions: within 0.1 nats of the closed-form mutual
    information, and rising with it as the action's effect on s' grows."""
    (low, low_truth), (high, high_truth) = (_mi_estimate_on_a_linear_gaussian_toy(g) for g in (0.3, 2.0))
    assert low_truth < high_truth
    for estimate, truth in ((low, low_truth), (high, high_truth)):
        assert abs(estimate - truth) < 0.1, (estimate, truth)  # a lower bound, up to model and sampling error
    assert high > low + 0.5 * (high_truth - low_truth)


def test_forward_model_empowerment_does_not_read_the_replayed_next_state():
    """The bonus pairs the policy's action with the forward model's next state: the replayed s' plays no part
    (with "replay_next_state" it is the only next state the bonus sees)."""
    from algos.cip import agent as cip_agent
    from envs.core import EnvSpec

    spec = EnvSpec(name="toy", obs_shape=(3,), action_shape=(2,), action_low=-1.0, action_high=1.0,
                   episode_length=1, action_repeat=1, control_dt=1.0)
    c = cip_agent.default_config()
    c.hidden_sizes = c.inverse_hidden_sizes = (8,)
    obs = jax.random.normal(jax.random.PRNGKey(1), (16, 3))
    replayed = [jax.random.normal(jax.random.PRNGKey(k), (16, 3)) for k in (2, 3)]
    for mode, same in (("forward_model", True), ("replay_next_state", False)):
        c.empowerment = mode
        state = cip_agent.init(jax.random.PRNGKey(0), spec, c)
        bonus = [float(cip_agent.empowerment_bonus(state, state.sac, state.sac.actor_params, obs, nxt, jnp.ones(2),
                                                   jax.random.PRNGKey(4))) for nxt in replayed]
        assert (bonus[0] == bonus[1]) == same, (mode, bonus)
