"""The massively parallel settings of SAC and DDPG: the C51 projection and loss against references, and learning."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import envs
from algos import ddpg, sac
from algos.common import distributional, evaluation, offpolicy, optim
from envs.rollout import Transition

Z4 = jnp.arange(4.0)  # atoms 0, 1, 2, 3


def _scatter_projection(atoms: np.ndarray, probs: np.ndarray, z: np.ndarray) -> np.ndarray:
    """C51's floor/ceil scatter (Bellemare et al. 2017, Algorithm 1), sample by sample in plain NumPy."""
    delta = (z[-1] - z[0]) / (len(z) - 1)
    out = np.zeros_like(probs)
    for row in range(probs.shape[0]):
        for j in range(len(z)):
            b = (np.clip(atoms[row, j], z[0], z[-1]) - z[0]) / delta
            low, high = int(np.floor(b)), int(np.ceil(b))
            if low == high:
                out[row, low] += probs[row, j]
            else:
                out[row, low] += probs[row, j] * (high - b)
                out[row, high] += probs[row, j] * (b - low)
    return out


def test_projection_matches_hand_computed_cases():
    probs = jnp.array([[0.1, 0.2, 0.3, 0.4]])
    # r = 0.5, discount 0.5: the atoms move to 0.5, 1, 1.5, 2
    np.testing.assert_allclose(distributional.project(0.5 + 0.5 * Z4[None], probs, Z4),
                               [[0.05, 0.05 + 0.2 + 0.15, 0.15 + 0.4, 0.0]], atol=1e-6)
    # r = 2, discount 1: 2, 3, 4, 5; the last three clip onto the top atom
    np.testing.assert_allclose(distributional.project(2.0 + Z4[None], probs, Z4), [[0.0, 0.0, 0.1, 0.9]], atol=1e-6)
    # a terminal step (discount 0) puts all the mass at r = 1.25: 3/4 on atom 1, 1/4 on atom 2
    np.testing.assert_allclose(distributional.project(jnp.full((1, 4), 1.25), probs, Z4), [[0, 0.75, 0.25, 0]],
                               atol=1e-6)


def test_projection_matches_the_scatter_and_keeps_mass_and_mean():
    rng = np.random.default_rng(0)
    z = np.linspace(-3.0, 5.0, 9)
    probs = rng.dirichlet(np.ones(9), size=6)
    atoms = rng.uniform(-1.0, 2.0, size=(6, 1)) + rng.uniform(0.0, 1.0, size=(6, 1)) * z  # some fall outside
    projected = np.asarray(distributional.project(jnp.asarray(atoms), jnp.asarray(probs), jnp.asarray(z)))
    np.testing.assert_allclose(projected, _scatter_projection(atoms, probs, z), atol=1e-6)
    np.testing.assert_allclose(projected.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(projected @ z, (probs * np.clip(atoms, z[0], z[-1])).sum(-1), atol=1e-5)


def _distributional_ddpg(num_atoms=5):
    c = ddpg.default_config()
    c.hidden_sizes, c.feature_dim, c.num_atoms, c.v_min, c.v_max = (8,), 0, num_atoms, -2.0, 2.0
    _, spec = envs.make("PointReach", num_envs=2)
    return ddpg.init(jax.random.PRNGKey(0), spec, c), spec


def test_distributional_loss_is_the_cross_entropy_to_the_lower_mean_critics_projection():
    state, spec = _distributional_ddpg()
    state = state.replace(target_critic_params=jax.tree.map(lambda p: p * 3.0, state.critic_params))  # critics differ
    k = jax.random.split(jax.random.PRNGKey(1), 4)
    b = 3
    batch = offpolicy.NStepBatch(obs=jax.random.normal(k[0], (b, *spec.obs_shape)),
                                 action=jax.random.uniform(k[1], (b, spec.action_size), minval=-1, maxval=1),
                                 reward=jnp.array([0.3, -0.5, 1.0]), discount=jnp.array([0.9, 0.0, 0.5]),
                                 next_obs=jax.random.normal(k[2], (b, *spec.obs_shape)))
    next_action = jax.random.uniform(k[3], (b, spec.action_size), minval=-1, maxval=1)
    bonus = jnp.array([0.2, 0.1, -0.3])
    loss, _ = offpolicy.distributional_critic_loss(state.critic_params, state, batch, next_action, bonus, 2.0)

    z = np.linspace(-2.0, 2.0, 5)
    next_logits = np.asarray(state.critic.apply(state.target_critic_params, batch.next_obs, next_action))  # [2, B, 5]
    next_probs = np.exp(next_logits) / np.exp(next_logits).sum(-1, keepdims=True)
    means = next_probs @ z  # [2, B]
    assert np.any(means[0] < means[1]) or np.any(means[1] < means[0])
    chosen = next_probs[np.argmin(means, axis=0), np.arange(b)]  # [B, 5]
    r, d, bo = map(np.asarray, (batch.reward, batch.discount, bonus))
    target = _scatter_projection(2.0 * r[:, None] + d[:, None] * (z[None] + bo[:, None]), chosen, z)
    logits = np.asarray(state.critic.apply(state.critic_params, batch.obs, batch.action), np.float64)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = np.mean(np.sum(-(target[None] * log_softmax).sum(-1), axis=0))
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def test_parallel_settings_refuse_bad_values():
    c = sac.default_config()
    _, spec = envs.make("PointReach", num_envs=2)
    for field, value, message in [("critic_trunk", "resnet", "unknown critic trunk"), ("compute_dtype", "fp8", "compute_dtype")]:
        bad = sac.default_config()
        bad[field] = value
        with pytest.raises(ValueError, match=message):
            sac.init(jax.random.PRNGKey(0), spec, bad)
    c.num_atoms, c.v_min, c.v_max = 11, 1.0, 1.0
    with pytest.raises(ValueError, match="v_max > v_min"):
        sac.init(jax.random.PRNGKey(0), spec, c)


def test_weight_decay_is_adamw_on_the_networks_and_spares_the_temperature():
    """`weight_decay` (FastTD3's 0.1) must be optax's AdamW, step for step; in SAC it decays the critics by exactly
    lr * wd * their weights on a first update (Adam's direction is the same) and leaves the temperature alone."""
    params = {"w": jnp.array([[0.5, -1.0], [2.0, 0.25]]), "b": jnp.array([0.1, -0.3])}
    ours, reference = optim.adam(weight_decay=0.1), optax.adamw(learning_rate=0.01, weight_decay=0.1)
    p, opt, q, ref_opt = params, ours.init(params), params, reference.init(params)
    for step in range(3):
        grads = jax.tree.map(lambda x: jnp.sin(x * (step + 1)), p)
        p, opt = optim.gradient_step(ours, p, opt, grads, jnp.float32(0.01))
        updates, ref_opt = reference.update(jax.tree.map(lambda x: jnp.sin(x * (step + 1)), q), ref_opt, q)
        q = optax.apply_updates(q, updates)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), p, q)

    _, spec = envs.make("PointReach", num_envs=2)
    k = jax.random.split(jax.random.PRNGKey(3), 3)
    b = 16
    seq = Transition(obs=jax.random.normal(k[0], (b, 1, *spec.obs_shape)),
                     action=jax.random.uniform(k[1], (b, 1, spec.action_size), minval=-1, maxval=1),
                     reward=jnp.linspace(0.0, 1.0, b)[:, None],
                     next_obs=jax.random.normal(k[2], (b, 1, *spec.obs_shape)),
                     done=jnp.zeros((b, 1), bool), truncated=jnp.zeros((b, 1), bool))
    after = {}
    for decay in (0.0, 0.1):
        c = sac.default_config()
        c.hidden_sizes, c.weight_decay = (16,), decay
        state = sac.init(jax.random.PRNGKey(0), spec, c)
        after[decay], _ = sac.update(state, seq, jax.random.PRNGKey(4))
    lr = sac.default_config().critic_lr
    jax.tree.map(lambda wd, plain, old: np.testing.assert_allclose(wd, plain - lr * 0.1 * old, atol=1e-7),
                 after[0.1].critic_params, after[0.0].critic_params, state.critic_params)
    assert float(after[0.1].log_alpha) == float(after[0.0].log_alpha) != float(state.log_alpha)


EPISODE = 25
NUM_ENVS = 8
UPDATES_PER_VECTOR_STEP = 8
SETTINGS = {  # each backbone with a different combination, so that every path runs once
    "sac-c51-residual-bf16": (sac, dict(num_atoms=51, critic_trunk="residual", compute_dtype="bfloat16")),
    "ddpg-c51-layernorm": (ddpg, dict(num_atoms=51, critic_trunk="layernorm", feature_dim=16, actor_lr=1e-3,
                                      critic_lr=1e-3, std_schedule_steps=1_500.0)),
}


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_parallel_settings_learn_pointreach(setting):
    algo, overrides = SETTINGS[setting]
    c = algo.default_config()
    c.total_env_steps, c.learning_starts, c.batch_size, c.hidden_sizes = 4_000, 500, 128, (32, 32)
    c.updates_per_vector_step = UPDATES_PER_VECTOR_STEP
    c.replay_ratio = 0.25  # overridden: it alone would give 2 updates per vectorised step
    c.update(overrides)
    env, spec = envs.make("PointReach", episode_length=EPISODE, num_envs=NUM_ENVS)
    eval_env, _ = envs.make("PointReach", episode_length=EPISODE, reset_mode="none")
    carry, metrics = jax.jit(algo.make_train(c, env))(jax.random.PRNGKey(0))
    iterations = algo.num_iterations(c, NUM_ENVS)
    assert int(carry.agent.updates) == iterations * UPDATES_PER_VECTOR_STEP  # updates per vectorised step, not per env
    assert np.all(np.isfinite(metrics["critic_loss"]))

    policy = lambda obs, k: algo.act(carry.agent, obs, k, deterministic=True)  # noqa: E731
    trained = float(evaluation.evaluate(eval_env, policy, jax.random.PRNGKey(1), 32).mean())
    random = float(evaluation.evaluate(eval_env, envs.random_policy(spec), jax.random.PRNGKey(2), 64).mean())
    # of at most 25: a random walk scores ~5, reaching and holding the goal ~20
    assert random < 8.0 and trained > 14.0, (trained, random)
