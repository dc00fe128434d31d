"""PPO: GAE against a plain reference, learning on a tiny task, vmapped seeds."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from algos import ppo
from algos.common import evaluation
from algos.common.returns import gae


def _gae_reference(r, v, nv, term, done, gamma, lam):
    T, N = r.shape
    adv = np.zeros((T, N))
    for n in range(N):
        running = 0.0
        for t in reversed(range(T)):
            delta = r[t, n] + gamma * (1 - term[t, n]) * nv[t, n] - v[t, n]
            running = delta + gamma * lam * (1 - done[t, n]) * running
            adv[t, n] = running
    return adv


def test_gae_matches_python_reference():
    rng = np.random.default_rng(0)
    T, N = 17, 5
    r, v, nv = (rng.normal(size=(T, N)).astype(np.float32) for _ in range(3))
    done = (rng.random((T, N)) < 0.2).astype(np.float32)
    term = done * (rng.random((T, N)) < 0.5)
    adv, tgt = gae(r, v, nv, term, done, 0.97, 0.9)
    ref = _gae_reference(r, v, nv, term, done, 0.97, 0.9)
    np.testing.assert_allclose(adv, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tgt, ref + v, rtol=1e-5, atol=1e-5)


def test_gae_bootstraps_at_truncation_not_at_termination():
    r = jnp.zeros((1, 2))
    v = jnp.zeros((1, 2))
    nv = jnp.full((1, 2), 10.0)
    done = jnp.ones((1, 2))
    term = jnp.array([[0.0, 1.0]])  # env 0 timed out, env 1 terminated
    adv, _ = gae(r, v, nv, term, done, 0.9, 0.95)
    np.testing.assert_allclose(adv, [[9.0, 0.0]])


@pytest.fixture(scope="module")
def pointreach_config():
    c = ppo.default_config()
    c.rollout_length = 25
    c.total_env_steps = 16 * 25 * 60
    c.learning_rate = 3e-3
    c.hidden_sizes = (32, 32)
    return c


def test_ppo_learns_pointreach_and_seeds_vmap(pointreach_config):
    env, spec = envs.make("PointReach", episode_length=25, num_envs=16)
    eval_env, _ = envs.make("PointReach", episode_length=25)
    config = pointreach_config
    train = ppo.make_train(config, env)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    carries, metrics = jax.jit(jax.vmap(train))(keys)

    eval_keys = jax.random.split(jax.random.PRNGKey(1), 3)

    def eval_one(agent, k):
        policy = lambda obs, kk: ppo.act(agent, obs, kk, deterministic=True)  # noqa: E731
        return evaluation.evaluate(eval_env, policy, k, 32).mean()

    trained = jax.jit(jax.vmap(eval_one))(carries.agent, eval_keys)
    random = evaluation.evaluate(eval_env, envs.random_policy(spec), jax.random.PRNGKey(2), 256)
    # of at most 25: a random walk scores ~5, reaching and holding the goal ~20
    assert float(random.mean()) < 8.0
    assert np.all(np.asarray(trained) > 15.0), (trained, random.mean())

    # seed 1 of the vmapped run equals a separate run with the same key
    single_carry, single_metrics = jax.jit(train)(keys[1])
    np.testing.assert_allclose(metrics["policy_loss"][1], single_metrics["policy_loss"], rtol=1e-4, atol=1e-6)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a[1], b, rtol=1e-4, atol=1e-5),
        carries.agent.params,
        single_carry.agent.params,
    )


@pytest.mark.parametrize("scale", [0.01, 1.0])
def test_actor_out_scale_sets_the_policy_means_last_layer(scale):
    """Orthogonal init: every singular value of the mean's last kernel equals the scale; the value head keeps 1."""
    _, spec = envs.make("PointReach", episode_length=25, num_envs=4)
    config = ppo.default_config()
    config.actor_out_scale = scale
    params = ppo.init(jax.random.PRNGKey(0), spec, config).params["params"]
    last = lambda tree: tree[sorted(tree, key=lambda k: int(k.split("_")[-1]))[-1]]["kernel"]  # noqa: E731
    np.testing.assert_allclose(np.linalg.svd(np.asarray(last(params["actor"])), compute_uv=False), scale, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.svd(np.asarray(last(params["critic"])), compute_uv=False), 1.0, rtol=1e-4)


def test_tanh_normal_policy_stays_in_the_box_and_its_entropy_estimate_is_unbiased():
    """Brax's policy: actions inside the box, log pi consistent with `act`, and the one-sample entropy
    estimate averaging to the tanh-normal's entropy by numerical integration (1-D)."""
    _, spec = envs.make("PointReach", episode_length=25, num_envs=4)
    config = ppo.default_config()
    config.policy, config.actor_out_scale = "tanh_normal", 1.0
    agent = ppo.init(jax.random.PRNGKey(0), spec, config)
    obs = jax.random.normal(jax.random.PRNGKey(1), (4096, *spec.obs_shape)) * 3.0
    actions = ppo.act(agent, obs, jax.random.PRNGKey(2))
    assert float(jnp.abs(actions).max()) <= max(abs(spec.action_low), abs(spec.action_high))
    assert float(actions.std()) > 0.3  # out_scale 1 and softplus(.) scales: broad from the start

    loc, log_scale = jnp.array([[0.3]]), jnp.log(jnp.array([[0.8]]))
    keys = jax.random.split(jax.random.PRNGKey(3), 200_000)
    estimate = jax.vmap(lambda k: ppo._entropy(agent, loc, log_scale, k))(keys).mean()
    u = np.linspace(-8, 8, 200_001)
    density_u = np.exp(-0.5 * ((u - 0.3) / 0.8) ** 2) / (0.8 * np.sqrt(2 * np.pi))
    # H(tanh u) = H(u) + E[log(1 - tanh(u)^2)]
    exact = 0.5 * np.log(2 * np.pi * np.e * 0.8**2) + np.trapezoid(density_u * np.log1p(-np.tanh(u) ** 2), u)
    np.testing.assert_allclose(float(estimate), exact, atol=5e-3)
