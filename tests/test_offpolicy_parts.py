"""Shared off-policy parts: replay ring, n-step returns, tanh-Gaussian, hyperparameters."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algos.common import hparams, networks, offpolicy, optim, replay, returns
from envs.rollout import Transition


def _step(values: np.ndarray) -> Transition:
    """A batch of transitions [N] whose every field carries `values` (the time index)."""
    v = jnp.asarray(values, jnp.float32)
    return Transition(obs=v[:, None] * jnp.ones((1, 3)), action=v[:, None], reward=v, next_obs=v[:, None] * jnp.ones((1, 3)),
                      done=jnp.zeros_like(v), truncated=jnp.zeros_like(v))


def _example() -> Transition:
    return jax.tree.map(lambda x: x[0], _step(np.zeros(1)))


def test_replay_samples_only_written_consecutive_steps_and_wraps():
    buffer = replay.make(capacity=8, num_envs=2, batch_size=512, sequence_length=3)  # 4 slots per env
    state = replay.init(buffer, _example())
    add = jax.jit(lambda s, v: replay.add(buffer, s, _step(v)))
    sample = jax.jit(lambda s, k: replay.sample(buffer, s, k))

    for t in range(3):  # env 0 writes t, env 1 writes 100 + t
        state = add(state, np.array([t, 100 + t]))
    seq = sample(state, jax.random.PRNGKey(0))
    assert seq.obs.shape == (512, 3, 3) and seq.action.shape == (512, 3, 1) and seq.reward.shape == (512, 3)
    starts = set(np.asarray(seq.reward[:, 0]).tolist())
    assert starts == {0.0, 100.0}  # the only full sequences written so far

    for t in range(3, 7):  # wraps around: slots now hold steps 3..6
        state = add(state, np.array([t, 100 + t]))
    seq = np.asarray(sample(state, jax.random.PRNGKey(1)).reward)
    np.testing.assert_array_equal(np.diff(seq, axis=1), 1.0)  # consecutive, never across the write head
    assert set(seq[:, 0].tolist()) == {3.0, 4.0, 103.0, 104.0}  # every valid start is drawn, nothing stale


def test_replay_refuses_a_capacity_too_small():
    with pytest.raises(ValueError, match="too small"):
        replay.make(capacity=4, num_envs=4, batch_size=2, sequence_length=3)


def _nstep_reference(r, term, done, gamma):
    B, n = r.shape
    g, disc, last = np.zeros(B), np.zeros(B), np.zeros(B, int)
    for b in range(B):
        acc, k = 0.0, 0
        for k in range(n):
            acc += gamma**k * r[b, k]
            if done[b, k]:
                break
        g[b], last[b] = acc, k
        disc[b] = gamma ** (k + 1) * (1 - term[b, k])
    return g, disc, last


def test_nstep_return_matches_python_reference():
    rng = np.random.default_rng(0)
    B, n = 64, 4
    r = rng.normal(size=(B, n)).astype(np.float32)
    done = (rng.random((B, n)) < 0.3).astype(np.float32)
    term = done * (rng.random((B, n)) < 0.5)
    g, disc, last = returns.nstep_return(r, term, done, 0.9)
    g_ref, disc_ref, last_ref = _nstep_reference(r, term, done, 0.9)
    np.testing.assert_allclose(g, g_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(disc, disc_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(last, last_ref)


def test_nstep_batch_bootstraps_at_truncation_not_at_termination():
    # three 3-step sequences: ends by time-out at step 1, by termination at step 1, no end
    done = jnp.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    truncated = jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    t = jnp.arange(3, dtype=jnp.float32)
    next_obs = jnp.broadcast_to((10.0 + t)[None, :, None], (3, 3, 1))  # successor of step k is 10 + k
    seq = Transition(obs=jnp.zeros((3, 3, 1)), action=jnp.zeros((3, 3, 1)), reward=jnp.ones((3, 3)),
                     next_obs=next_obs, done=done, truncated=truncated)
    batch = offpolicy.nstep_batch(seq, jnp.float32(0.5))
    np.testing.assert_allclose(batch.reward, [1.5, 1.5, 1.75])
    np.testing.assert_allclose(batch.discount, [0.25, 0.0, 0.125])
    np.testing.assert_allclose(batch.next_obs[:, 0], [11.0, 11.0, 12.0])


def test_tanh_gaussian_log_prob_matches_sampled_density():
    mean, log_std = jnp.array([0.3]), jnp.array([-0.4])
    keys = jax.random.split(jax.random.PRNGKey(0), 400_000)
    actions, log_prob = jax.vmap(lambda k: networks.tanh_gaussian_sample(mean, log_std, k))(keys)
    a, logp = np.asarray(actions[:, 0]), np.asarray(log_prob[:, 0])
    edges = np.linspace(-0.9, 0.9, 19)
    counts, _ = np.histogram(a, edges)
    empirical = counts / (len(a) * np.diff(edges))
    which = np.digitize(a, edges) - 1
    analytic = np.array([np.exp(logp[which == i]).mean() for i in range(len(edges) - 1)])
    np.testing.assert_allclose(empirical, analytic, rtol=0.05)
    # and the closed form: log N(atanh a) - log(1 - a^2)
    u = np.arctanh(np.clip(a[:1000], -0.999999, 0.999999))
    std = np.exp(-0.4)
    closed = -0.5 * ((u - 0.3) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi) - np.log(1 - a[:1000] ** 2)
    np.testing.assert_allclose(logp[:1000], closed, rtol=1e-3, atol=1e-3)


def test_hparams_resolve_overrides_and_refuses_unknown():
    config = {"lr": 1e-3, "gamma": 0.99}
    hp = hparams.resolve(config, ("lr", "gamma"), {"lr": jnp.array([1.0, 2.0])})
    np.testing.assert_allclose(hp["lr"], [1.0, 2.0])
    assert hp["gamma"].dtype == jnp.float32
    with pytest.raises(ValueError, match="unknown hyperparameters \\['lrr'\\]"):
        hparams.resolve(config, ("lr", "gamma"), {"lrr": 1.0})


def test_gradient_step_equals_optax_adam_and_polyak():
    import optax

    params = {"w": jnp.array([1.0, -2.0])}
    grads = {"w": jnp.array([0.5, 0.1])}
    tx = optim.adam()
    p, _ = optim.gradient_step(tx, params, tx.init(params), grads, jnp.float32(0.01))
    ref_tx = optax.adam(0.01)
    updates, _ = ref_tx.update(grads, ref_tx.init(params), params)
    np.testing.assert_allclose(p["w"], optax.apply_updates(params, updates)["w"], rtol=1e-6)
    np.testing.assert_allclose(optim.polyak({"w": jnp.zeros(2)}, params, 0.1)["w"], [0.1, -0.2], rtol=1e-6)


@pytest.mark.parametrize("shape", [(20, 64), (64, 64), (64, 1), (3, 4, 5)])
def test_orthogonal_init_matches_jax_without_lapack(shape):
    key = jax.random.PRNGKey(7)
    ours = networks.orthogonal(1.5)(key, shape)
    np.testing.assert_allclose(ours, jax.nn.initializers.orthogonal(1.5)(key, shape, jnp.float32), atol=2e-5)
    flat = np.asarray(ours).reshape(-1, shape[-1]) / 1.5
    small = min(flat.shape)
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)
    # the vmapped initialisation of a network: no LAPACK kernel left (two batched LAPACK
    # kernels at once deadlock XLA:CPU's intra-op pool on small machines, see `experiments`)
    critic = networks.EnsembleCritic(hidden_sizes=(32, 32))
    hlo = jax.jit(jax.vmap(lambda k: critic.init(k, jnp.zeros((1, 3)), jnp.zeros((1, 1))))).lower(
        jax.random.split(key, 3)).as_text()
    assert "lapack" not in hlo and "custom_call" not in hlo
