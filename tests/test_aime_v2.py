"""AIME-v2: lambda-returns, the surrogate reward, the switches, and the regulariser."""

from __future__ import annotations

import functools
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algos import aime_v2
from algos.common import returns
from algos.aime import imitation
from algos.aime_v2 import surrogate
from envs import datasets, sequences
from envs.rollout import random_policy
from envs.toy import PointReach, point_reach_expert
from worldmodels import rssm, sequence, training as wm_training

from exact_models import ExactPointModel


expert = point_reach_expert()


@pytest.fixture(scope="module")
def point():
    env = PointReach()
    demos = datasets.record(env, expert, jax.random.PRNGKey(0), 48, "demonstrations")
    embodiment = datasets.record(env, random_policy(env.spec), jax.random.PRNGKey(1), 32, "embodiment")
    return env, demos, embodiment


def small_config():
    c = aime_v2.default_config()
    m = c.world_model.model
    m.deter = m.hidden = m.encoder_hidden = m.decoder_hidden = 32
    m.stoch = 4
    c.batch_size = c.imitation.batch_size = 8
    c.seq_len = c.imitation.seq_len = 10
    c.imitation.hidden_sizes = c.value_hidden_sizes = c.reward_hidden_sizes = (32, 32)
    c.updates_per_episode, c.num_iterations, c.num_envs, c.imagine_starts = 1, 4, 2, 16
    return c


def test_lambda_returns_against_a_python_reference():
    rng = np.random.default_rng(0)
    T, B = 7, 3
    r, v, d, boot = rng.normal(size=(T, B)), rng.normal(size=(T, B)), rng.uniform(0.8, 1, (T, B)), rng.normal(size=B)
    for lam in (0.0, 0.95, 1.0):
        expected, g = np.zeros((T, B)), boot
        for t in reversed(range(T)):
            next_v = v[t + 1] if t + 1 < T else boot
            g = r[t] + d[t] * ((1 - lam) * next_v + lam * g)
            expected[t] = g
        got = returns.lambda_returns(jnp.asarray(r), jnp.asarray(v), jnp.asarray(d), jnp.asarray(boot), lam)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_surrogate_reward_ranks_demonstrations_above_unrelated_motion(point):
    env, demos, embodiment = point
    c = wm_training.default_config()
    m = c.model
    m.deter = m.hidden = m.encoder_hidden = m.decoder_hidden = 32
    m.stoch, m.decoder_std = 4, 0.1
    c.batch_size, c.seq_len, c.num_updates, c.lr = 16, 20, 600, 3e-3
    model = rssm.make_rssm(m, (4,), 0)
    train_demos = surrogate.action_free(sequences.observations_only(jax.tree.map(lambda x: x[:40], demos), 2))
    state, _ = jax.jit(wm_training.make_train(model, c, train_demos))(jax.random.PRNGKey(0))
    held_out = jnp.swapaxes(jnp.asarray(demos.obs[40:]), 0, 1)            # [T + 1, 8, 4]
    unrelated = jnp.swapaxes(jnp.asarray(embodiment.obs[:8]), 0, 1)       # random play
    r_demo = surrogate.reward(model, state.params, held_out)
    r_other = surrogate.reward(model, state.params, unrelated)
    assert r_demo.shape == (51, 8) and float(jnp.abs(r_demo[0]).max()) == 0.0
    assert float(r_demo[1:].mean()) > float(r_other[1:].mean()) + 0.5, (float(r_demo.mean()), float(r_other.mean()))
    # per episode, every demonstration beats every random episode
    assert float(r_demo[1:].mean(0).min()) > float(r_other[1:].mean(0).max())


_BUILT = {}


def build(point, **switches):
    """(config, model, agent, state after one iteration), built once per switch setting."""
    name = tuple(sorted(switches.items()))
    if name not in _BUILT:
        _BUILT[name] = _build(point, **switches)
    return _BUILT[name]


def _build(point, **switches):
    env, demos, embodiment = point
    c = small_config()
    for k, v in switches.items():
        c[k] = v
    model = rssm.make_rssm(c.world_model.model, (4,), 2)
    likelihood = rssm.make_rssm(c.world_model.model, (4,), 0)
    setup = aime_v2.make_setup(c, env, model, likelihood, sequences.from_dataset(embodiment),
                               sequences.observations_only(demos, 2))
    agent = types.SimpleNamespace(update=functools.partial(aime_v2.agent.update, setup))
    state = aime_v2.agent.init(setup, jax.random.PRNGKey(3), model.init(jax.random.PRNGKey(0)),
                               imitation.init(c.imitation, model, jax.random.PRNGKey(2)).params,
                               likelihood.init(jax.random.PRNGKey(1)))
    # fill the online buffer with recorded episodes (collection is tested in the pipeline test)
    n = c.num_envs * c.num_iterations
    seq = sequences.from_dataset(jax.tree.map(lambda x: x[:n], embodiment))
    rewards = jax.random.normal(jax.random.PRNGKey(4), seq.obs.shape[:2])
    state = state._replace(buffer=aime_v2.agent.Buffer(seq.obs, seq.prev_actions, rewards, seq.lengths,
                                                       jnp.asarray(n, jnp.int32)))
    return c, model, agent, state


def test_both_additions_off_is_plain_online_fine_tuning(point):
    c, model, agent, state = build(point, regulariser=False, surrogate_reward=False)
    key = jax.random.PRNGKey(11)
    new, _ = jax.jit(agent.update)(state, key)

    # the plain update, written out: Adam on the ELBO of online windows, then AIME's loss on demonstrations
    _, k_on, k_demo, k_model, k_pol, _ = jax.random.split(key, 6)
    b = state.buffer
    obs, prev, mask = sequences.sample_windows(sequences.Sequences(b.obs, b.prev_actions, b.lengths), k_on,
                                                 c.batch_size, c.seq_len, num_episodes=b.count)
    wm = c.world_model
    grads = jax.grad(lambda p: wm_training.loss_fn(model, wm, p, (obs, prev, mask), k_model)[0])(
        state.model_params["rssm"])
    grads = {"rssm": grads, "reward": jax.tree.map(jnp.zeros_like, state.model_params["reward"])}
    tx = optax.chain(optax.clip_by_global_norm(wm.grad_clip), optax.adam(wm.lr))
    updates, _ = tx.update(grads, state.model_opt, state.model_params)
    expected_model = optax.apply_updates(state.model_params, updates)
    demo_obs, _, demo_mask = sequences.sample_windows(sequences.observations_only(point[1], 2), k_demo,
                                                        c.imitation.batch_size, c.imitation.seq_len)
    policy, _ = imitation.update(c.imitation, model, expected_model["rssm"], state.policy, demo_obs, demo_mask,
                                 jax.random.split(k_pol)[0])
    for want, got in ((expected_model, new.model_params), (policy.params, new.policy.params)):
        for x, y in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    # the value network never moves
    for x, y in zip(jax.tree.leaves(new.value_params), jax.tree.leaves(state.value_params)):
        np.testing.assert_array_equal(x, y)


def test_each_addition_changes_only_its_part(point):
    key = jax.random.PRNGKey(11)
    plain = jax.jit(build(point, regulariser=False, surrogate_reward=False)[2].update)
    _, _, agent_reg, state = build(point, regulariser=True, surrogate_reward=False)
    base, _ = plain(state, key)
    with_reg, _ = jax.jit(agent_reg.update)(state, key)
    # the regulariser changes the world model's batch, not the rule: the model moves differently
    assert not np.allclose(jax.tree.leaves(base.model_params["rssm"])[0], jax.tree.leaves(with_reg.model_params["rssm"])[0])
    _, _, agent_reward, state_r = build(point, regulariser=False, surrogate_reward=True)
    with_reward, metrics = jax.jit(agent_reward.update)(state_r, key)
    assert float(metrics["value_gradient_loss"]) != 0.0
    for x, y in zip(jax.tree.leaves(with_reward.value_params), jax.tree.leaves(state_r.value_params)):
        assert not np.array_equal(x, y)  # the value network learns only with the surrogate reward


def test_the_regulariser_vanishes_on_data_the_model_fits_exactly(point):
    """The regulariser is the world model's loss on embodiment windows: its gradient is
    zero where the model is exact, and not elsewhere."""
    _, _, embodiment = point
    model = ExactPointModel()
    data = sequences.from_dataset(embodiment)
    obs, prev, mask = sequences.sample_windows(data, jax.random.PRNGKey(0), 32, 20)
    mask = mask.at[0].set(0.0)  # the filter starts from the zero state: the first step has no history

    def regulariser(gain):
        filtered = sequence.observe(model, {"gain": gain}, obs, prev, jax.random.PRNGKey(1), sample=False)
        return sequence.elbo(model, {"gain": gain}, obs, filtered, mask)[0]

    g_exact = float(jax.grad(regulariser)(1.0))
    g_off = float(jax.grad(regulariser)(1.5))
    assert abs(g_off) > 1.0
    assert abs(g_exact) < 1e-4 * abs(g_off), (g_exact, g_off)


def test_ilfo_baseline_reads_the_latest_evaluation_at_each_step_and_refuses_other_runs(tmp_path):
    import json

    import pandas as pd

    from experiments.aime_v2 import main as aime_v2_driver

    config = {"algo": "ads", "task": "PendulumSwingup",
              "agent": {"demos": "d.npz", "reward": "ot", "discount_schedule": "fixed"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    rows = [dict(member=m, env_steps=s, eval_return=10.0 * m + s / 1000) for m in (0, 1) for s in (3000, 5000, 9000)]
    pd.DataFrame(rows).to_parquet(tmp_path / "metrics.parquet")
    out = aime_v2_driver.ilfo_baseline(str(tmp_path), "PendulumSwingup", "d.npz", [0, 4000, 8000, 9000])
    np.testing.assert_array_equal(out["eval_return"], [[np.nan, 3.0, 5.0, 9.0], [np.nan, 13.0, 15.0, 19.0]])
    assert out["variant"].startswith("OT + DDPG")
    with pytest.raises(ValueError, match="discount_schedule"):
        (tmp_path / "config.json").write_text(json.dumps({**config, "agent": {**config["agent"], "discount_schedule": "ads"}}))
        aime_v2_driver.ilfo_baseline(str(tmp_path), "PendulumSwingup", "d.npz", [0])


def test_value_gradient_loss_against_the_reference_on_a_3_step_rollout():
    """The reference (`train_aime-v2.py`) imagines s_0 (the start) .. s_3, takes R_0 .. R_2 with
    R_t = r_t + gamma ((1 - lam) v_{t+1} + lam R_{t+1}), R_3 = v_3, and minimises
    -mean(cum_discount[:-2] * R[1:]) = -(1 * R_1 + gamma * R_2) / 2; the value net regresses R_0 .. R_2
    at s_0 .. s_2 with weights 1, gamma, gamma^2. Written out by hand on known rewards and values."""
    gamma, lam = 0.9, 0.5
    r = np.array([1.0, 2.0, 3.0, 4.0])        # at s_0 .. s_3
    v = np.array([10.0, 20.0, 30.0, 40.0])
    R2 = r[2] + gamma * v[3]
    R1 = r[1] + gamma * ((1 - lam) * v[2] + lam * R2)
    R0 = r[0] + gamma * ((1 - lam) * v[1] + lam * R1)
    lam_returns, weights = aime_v2.agent.lambda_targets(jnp.asarray(r)[:, None], jnp.asarray(v)[:, None], gamma, lam)
    np.testing.assert_allclose(np.asarray(lam_returns)[:, 0], [R0, R1, R2], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(weights)[:, 0], [1.0, gamma, gamma**2, gamma**3], rtol=1e-6)
    objective = float(aime_v2.agent.value_gradient_objective(lam_returns, weights))
    assert objective == pytest.approx(-(1.0 * R1 + gamma * R2) / 2, rel=1e-6)
    # what we ran before 2026-12-03 (s_0 left out) scores R_2 alone with weight 1: a different number
    old_returns, old_weights = aime_v2.agent.lambda_targets(jnp.asarray(r[1:])[:, None], jnp.asarray(v[1:])[:, None],
                                                            gamma, lam)
    assert float(aime_v2.agent.value_gradient_objective(old_returns, old_weights)) != pytest.approx(objective)


def test_tanh_normal_entropy_term_is_the_analytic_kl_mean_over_time_and_batch():
    """AIME-v2's entropy term: -KL(N(mu, sigma) || N(0, 0.8742)) per dimension, summed over the actions and
    averaged over (T, B), times 1e-4; checked against the closed form computed in NumPy."""
    from algos.common import networks

    mean = np.array([[[0.3, -0.2]], [[0.0, 1.0]]])           # [T=2, B=1, A=2]
    log_std = np.log(np.array([[[0.5, 1.2]], [[0.9, 0.1]]]))
    s0 = 0.8742
    sigma = np.exp(log_std)
    kl = np.log(s0 / sigma) + (sigma**2 + mean**2) / (2 * s0**2) - 0.5
    np.testing.assert_allclose(np.asarray(networks.gaussian_kl(jnp.asarray(mean), jnp.asarray(log_std), s0)), kl,
                               rtol=1e-4, atol=1e-7)  # float32
    c = imitation.default_config()
    c.action_prior, c.action_prior_scale = "tanh_normal", 1e-4
    term = jnp.asarray(kl.sum(-1))                            # [T, B], as the actor returns it
    loss = float(imitation.action_prior_loss(c, term, jnp.ones_like(term)))
    assert loss == pytest.approx(1e-4 * kl.sum(-1).mean(), rel=1e-5)
