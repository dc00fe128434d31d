"""AIME's phase 2 and its baselines on PointReach, whose dynamics are known exactly:
pos' = pos + 0.1 a, and the observation is [pos, goal - pos]."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algos.common import evaluation
from algos import bco
from algos.aime import imitation
from envs import datasets, sequences
from envs.rollout import random_policy
from envs.toy import PointReach, point_reach_expert

from exact_models import ExactPointModel


expert = point_reach_expert()


@pytest.fixture(scope="module")
def point():
    env = PointReach()
    demos = datasets.record(env, expert, jax.random.PRNGKey(0), 32, "demonstrations")
    embodiment = datasets.record(env, random_policy(env.spec), jax.random.PRNGKey(1), 64, "embodiment")
    return env, demos, embodiment


def early_action_error(predicted, demos, steps=10):
    """MSE against the true actions over each demonstration's first steps, where the expert moves."""
    true = np.asarray(demos.actions[:, :steps])
    return float(((np.asarray(predicted)[:, :steps] - true) ** 2).mean()), float((true**2).mean())


@pytest.mark.parametrize("action_prior, policy", [("none", "reference"), ("uniform", "bounded")])
def test_phase2_recovers_the_true_actions_under_an_exact_world_model(point, action_prior, policy):
    """The released code's objective with its policy network (the default), and the paper's action prior
    with SAC's bounded actor (what we ran before 2026-12-03)."""
    _, demos, _ = point
    model = ExactPointModel()
    c = imitation.default_config()
    c.action_prior, c.policy = action_prior, policy
    c.batch_size, c.seq_len, c.hidden_sizes, c.lr = 16, 20, (64, 64), 1e-3
    chunk = jax.jit(imitation.make_chunk(c, model, {}, sequences.observations_only(demos, 2), 750))
    state, metrics = chunk(imitation.init(c, model, jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    assert float(metrics["policy_loss"][-100:].mean()) < float(metrics["policy_loss"][:100].mean())
    # the policy's mode on the demonstration's states against the actions it never saw
    mean, _ = imitation.policy_net(c, 2).apply(state.params, jnp.asarray(demos.obs[:, :-1]))
    error, scale = early_action_error(jnp.tanh(mean), demos)
    assert error < 0.1 * scale, (error, scale)


def test_the_action_prior_is_the_only_difference_between_the_paper_and_the_released_objective(point):
    _, demos, _ = point
    model = ExactPointModel()
    c = imitation.default_config()
    c.hidden_sizes = (16,)
    params = imitation.init(c, model, jax.random.PRNGKey(0)).params
    obs, _, mask = sequences.sample_windows(sequences.observations_only(demos, 2), jax.random.PRNGKey(1), 4, 10)
    released, (m_released, _) = imitation.loss(c, model, {}, params, obs, mask, jax.random.PRNGKey(2))
    assert float(m_released["action_prior"]) == 0.0
    c.action_prior = "uniform"
    paper, (m_paper, _) = imitation.loss(c, model, {}, params, obs, mask, jax.random.PRNGKey(2))
    assert float(paper - released) == pytest.approx(float(m_paper["action_prior"]), rel=1e-5)
    assert float(m_paper["action_prior"]) > 0.0  # a tanh-Gaussian is not the uniform distribution
    c.action_prior = "imitation"
    with pytest.raises(ValueError, match="action_prior"):
        imitation.make_chunk(c, model, {}, sequences.observations_only(demos, 2), 1)


def test_reference_policy_starts_with_the_reference_std():
    """AIME's policy: std = softplus(MLP) + 1e-6 with PyTorch's initialisation, about 0.69 at the start
    (softplus of outputs near 0), against SAC's bounded actor's 0.22."""
    c = imitation.default_config()
    features = jax.random.normal(jax.random.PRNGKey(0), (256, 32))
    stds = {}
    for policy in ("reference", "bounded"):
        c.policy = policy
        net = imitation.policy_net(c, 6)
        _, log_std = net.apply(net.init(jax.random.PRNGKey(1), features), features)
        stds[policy] = float(jnp.exp(log_std).mean())
    assert 0.55 < stds["reference"] < 0.85 and stds["bounded"] == pytest.approx(0.223, abs=0.01), stds


def test_bco_policy_recovers_actions_when_its_inverse_model_is_exact(point):
    _, demos, _ = point
    c = bco.default_config()
    c.policy_updates = 1500

    def exact_idm(obs, _):  # the action that moved the point into the last observation
        return jnp.clip((obs[:, -1, :2] - obs[:, -2, :2]) / 0.1, -1.0, 1.0)

    params, losses = jax.jit(lambda k: bco.train_policy(
        c, k, sequences.observations_only(demos, 2), exact_idm, 2))(jax.random.PRNGKey(0))
    assert float(losses[-100:].mean()) < 0.2 * float(losses[:100].mean())
    # act along each demonstration with the stacked controller, reading the demonstration's observations
    init_carry, step = bco.controller(c, params, 4, 2, -1.0, 1.0)
    obs = jnp.swapaxes(jnp.asarray(demos.obs[:, :-1]), 0, 1)
    _, actions = jax.lax.scan(lambda carry, o: step(carry, o, jax.random.PRNGKey(0)), init_carry(obs.shape[1]), obs)
    error, scale = early_action_error(jnp.swapaxes(actions, 0, 1), demos)
    assert error < 0.1 * scale, (error, scale)


def test_bco_inverse_model_learns_the_dynamics_from_random_play(point):
    _, _, embodiment = point
    c = bco.default_config()
    c.idm_updates = 1500
    data = sequences.from_dataset(embodiment)
    params, losses = jax.jit(lambda k: bco.train_idm(c, k, data, -1.0, 1.0))(jax.random.PRNGKey(0))
    obs, action, _ = bco.windows(data, jax.random.PRNGKey(7), 512, c.stack)
    error = float(((bco.predict(c, params, bco.flat(obs), 2) - action) ** 2).mean())
    assert error < 0.05 * float((action**2).mean()), error  # uniform actions: mean square 1/3


def test_controller_evaluation_matches_the_memoryless_one(point):
    env, _, _ = point

    def step(carry, obs, key):
        return carry, expert(obs, key)

    key = jax.random.PRNGKey(3)
    with_memory = evaluation.evaluate_controller(env, (lambda b: jnp.zeros((b,)), step), key, 8)
    np.testing.assert_allclose(with_memory, evaluation.evaluate(env, expert, key, 8), rtol=1e-6)
