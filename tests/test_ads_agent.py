"""The ADS agent: a traced (scheduled) discount gives exactly the fixed-discount update, the
progress only rises and sets the discount, GAIfO's discriminator ranks expert transitions
first, and bad demonstrations are refused. On the pure-JAX PointReach (no MJX compile)."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from algos.ads import agent, gaifo, progress
from envs import datasets, toy

HORIZON = 20


@functools.lru_cache(maxsize=None)
def _setup():
    env1, _ = envs.make("PointReach", episode_length=HORIZON, reset_mode="none")
    demos = datasets.record(env1, toy.point_reach_expert(), jax.random.PRNGKey(0), 4, "demonstrations").obs
    env, _ = envs.make("PointReach", episode_length=HORIZON, num_envs=3, reset_mode="none")
    return env, demos


def _config(**overrides):
    c = agent.default_config()
    c.hidden_sizes, c.feature_dim, c.batch_size = (32, 32), 16, 16
    c.disc_hidden_sizes, c.disc_batch_size = (32,), 8
    c.total_env_steps, c.learning_starts, c.replay_ratio = 4 * 3 * HORIZON, 3 * HORIZON, 0.1
    c.replay_capacity = 1000
    c.eval_every_steps = 1  # every iteration (the code's cadence, 5,000 agent steps, is checked on its own)
    for k, v in overrides.items():
        c[k] = v
    return c


@functools.lru_cache(maxsize=None)
def _jitted(schedule: str, gamma: float):
    env, demos = _setup()
    learner = agent.make_learner(_config(discount_schedule=schedule, gamma=gamma), env, demos)
    return jax.jit(learner.init), jax.jit(learner.step), jax.jit(learner.hook)


def test_scheduled_discount_update_equals_the_constant_discount_update():
    """ADS's traced gamma = alpha^(1/p) must give bit for bit the step of a run whose
    config fixes gamma to that value; another progress must give another step."""
    key = jax.random.PRNGKey(3)
    p0 = int(progress.initial_progress(HORIZON))
    gamma0 = float(progress.discount(jnp.float32(p0)))
    init_ads, step_ads, _ = _jitted("ads", 0.99)
    init_fix, step_fix, _ = _jitted("fixed", gamma0)
    carry_ads, carry_fix = init_ads(key), init_fix(key)
    out_ads, m_ads = step_ads(carry_ads)
    out_fix, m_fix = step_fix(carry_fix)
    assert float(m_ads["discount"]) == pytest.approx(gamma0, abs=0) and float(m_fix["discount"]) == gamma0
    for a, b in zip(jax.tree.leaves(out_ads.agent.critic_params), jax.tree.leaves(out_fix.agent.critic_params)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(out_ads.agent.actor_params), jax.tree.leaves(out_fix.agent.actor_params)):
        np.testing.assert_array_equal(a, b)
    # the discount is traced: a later progress changes the update without recompiling
    later, _ = step_ads(carry_ads.replace(progress=jnp.asarray(HORIZON, jnp.int32)))
    diff = [float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(later.agent.critic_params),
                                                        jax.tree.leaves(out_ads.agent.critic_params))]
    assert max(diff) > 0


class _ExpertActor(nn.Module):
    """PointReach's scripted expert as a (parameter-free) DDPG actor: the demonstrations' own behaviour."""

    @nn.compact
    def __call__(self, obs):
        return toy.point_reach_expert()(obs, None)


def test_evaluation_raises_progress_only_for_an_agent_that_follows_the_demonstrations():
    """On the real learner: an agent acting as the demonstrator advances the progress by the most it
    may (5) at every evaluation (a recogniser that never moves fails here). The progress never falls,
    and the discount of the next step is alpha^(1/p). (PointReach's demonstrations start from
    random goals, so they do not align with each other and ref = 1 at every p: any agent passes
    there; `test_progress_rises_only_for_episodes_that_follow_the_demonstrations` checks the
    refusal on demonstrations that do align.)"""
    init, step, hook = _jitted("ads", 0.99)
    carry = init(jax.random.PRNGKey(4))
    start = int(carry.progress)
    expert = carry.replace(agent=carry.agent.replace(actor=_ExpertActor(), actor_params={}))
    expert_hook = jax.jit(_hook_for(expert))
    rises = []
    for i in range(3):
        before = int(expert.progress)
        expert = expert_hook(expert, jnp.int32(i))
        rises.append(int(expert.progress) - before)
    assert rises == [progress.MAX_DELTA] * 3, rises
    previous = start
    for i in range(3):
        carry = hook(carry, jnp.int32(i))
        assert previous <= int(carry.progress) <= previous + progress.MAX_DELTA
        carry, metrics = step(carry)
        assert float(metrics["discount"]) == pytest.approx(0.2 ** (1.0 / int(carry.progress)), rel=1e-6)
        assert np.isfinite(float(metrics["critic_loss"])) and np.isfinite(float(metrics["eval_return"]))
        previous = int(carry.progress)


def test_progress_rises_only_for_episodes_that_follow_the_demonstrations():
    """Demonstrations along one line (ref[k] = k + 1): an episode along it raises p by 5 per round,
    one standing still or running backwards leaves p where it is."""
    horizon, start = 30, 6
    line = jnp.linspace(0.0, 3.0, horizon)[:, None] * jnp.array([1.0, 0.5])
    demos = jnp.stack([line, line + 0.01, line - 0.01])              # [3, T, 2]
    ref = agent.reference_scores(demos)
    np.testing.assert_array_equal(ref, np.arange(1, horizon + 1))
    episodes = {"follows": line[None] + 0.02, "stands": jnp.zeros((1, horizon, 2)), "backwards": line[None, ::-1]}
    for name, episode in episodes.items():
        p = jnp.asarray(start, jnp.int32)
        for _ in range(2):
            p = progress.update_progress(p, agent.episode_costs(episode, demos, "euclidean"), ref)
        assert int(p) == (start + 2 * progress.MAX_DELTA if name == "follows" else start), (name, int(p))


def _hook_for(carry):
    """The learner's hook; a carry with another (static) actor needs its own trace."""
    env, demos = _setup()
    return agent.make_learner(_config(discount_schedule="ads"), env, demos).hook


def test_gaifo_discriminator_ranks_expert_transitions_above_reversed_ones():
    _, demos = _setup()
    rng = jax.random.PRNGKey(5)
    k_init = rng
    obs = jnp.asarray(demos[:, :-1])
    moves = jnp.asarray(demos[:, 1:, :2]) - obs[..., :2]
    nxt = obs.at[..., :2].add(-moves).at[..., 2:].add(moves)  # the expert's steps reversed: away from the goal
    moving = np.asarray(jnp.linalg.norm(moves, axis=-1) > 0.05).reshape(-1)  # at the goal both stand still
    expert = gaifo.features(obs, jnp.asarray(demos[:, 1:]), "transition").reshape(-1, 8)[moving]
    random_pairs = gaifo.features(obs, nxt, "transition").reshape(-1, 8)[moving]
    disc = gaifo.init(k_init, 8, (64, 64))

    @jax.jit
    def train(disc, key):
        def one(d, k):
            k1, k2, k3 = jax.random.split(k, 3)
            e = expert[jax.random.randint(k1, (32,), 0, expert.shape[0])]
            a = random_pairs[jax.random.randint(k2, (32,), 0, random_pairs.shape[0])]
            return gaifo.update(d, e, a, k3, (64, 64), 1e-3)
        return jax.lax.scan(one, disc, jax.random.split(key, 1000))

    disc, info = train(disc, jax.random.PRNGKey(6))
    assert float(info["disc_loss"][-20:].mean()) < float(info["disc_loss"][:20].mean())
    r_expert = gaifo.logit(disc.params, expert, (64, 64))
    r_random = gaifo.logit(disc.params, random_pairs, (64, 64))
    # the gradient penalty keeps |grad D| near 1, so the logits differ by about the inputs'
    # distance (~0.1 here): judge the ranking (the AUC), not the size of the gap
    auc = float(jnp.mean(r_expert[:, None] > r_random[None, :]))
    assert auc > 0.75, auc  # 0.83 measured; labels swapped would give < 0.5


def test_refuses_demonstrations_that_do_not_fit_the_task():
    env, demos = _setup()
    with pytest.raises(ValueError, match="T \\+ 1"):
        agent.make_learner(_config(), env, demos[:, :-2])
    with pytest.raises(ValueError, match="at least 2"):
        agent.make_learner(_config(), env, demos[:1])
    with pytest.raises(ValueError, match="reward must be one of"):
        agent.make_learner(_config(reward="airl"), env, demos)
    with pytest.raises(ValueError, match=r"ot_features \[4\] are not observation dimensions"):
        agent.make_learner(_config(ot_features=(0, 4)), env, demos)


def test_point_push_needs_the_reach_before_the_push():
    """The scripted expert gets the puck to the goal; random actions never even touch it."""
    from envs import push

    env, _ = envs.make("PointPush", reset_mode="none")
    expert = datasets.record(env, push.scripted_expert(), jax.random.PRNGKey(0), 4, "demonstrations")
    assert float(push.success(expert.obs[:, -1]).mean()) == 1.0
    assert min(expert.metadata["returns"]) > 30  # steps with the puck at the goal, of 100
    random = datasets.record(env, envs.random_policy(env.spec), jax.random.PRNGKey(1), 8, "embodiment")
    puck = np.asarray(random.obs[:, :, 2:4])
    assert np.abs(puck - puck[:, :1]).max() < 1e-6


def test_point_push_around_starts_where_the_demonstrations_end():
    """PointPushAround: the expert leaves the goal side, goes round the puck and pushes it home,
    ending next to where it started; a hand that holds still there never moves the puck."""
    from envs import push

    env, _ = envs.make("PointPushAround", reset_mode="none")
    assert env.spec.episode_length == push.AROUND_EPISODE_LENGTH
    expert = datasets.record(env, push.SCRIPTED_EXPERTS["PointPushAround"](), jax.random.PRNGKey(0), 4,
                             "demonstrations")
    obs = np.asarray(expert.obs)
    assert float(push.success(obs[:, -1]).mean()) == 1.0
    hand = obs[:, :, 0:2]
    assert (hand[:, 1:60, 0] < hand[:, :1, 0] - 0.15).any(axis=1).all()  # went back past the puck
    assert np.linalg.norm(hand[:, -1] - hand[:, 0], axis=-1).max() < 0.1  # and ended near the start
    still = datasets.record(env, lambda o, k: np.zeros(o.shape[:-1] + (2,), np.float32), jax.random.PRNGKey(1), 4,
                            "embodiment")
    assert float(push.success(np.asarray(still.obs)[:, -1]).mean()) == 0.0


def test_env_reward_oracle_stores_the_task_reward():
    env, demos = _setup()
    carry = jax.jit(agent.make_learner(_config(reward="env"), env, demos).init)(jax.random.PRNGKey(2))
    stored = carry.buffer.experience  # [num_envs, slots, ...]; the prefill filled the first T slots
    next_obs, reward = np.asarray(stored.next_obs[:, :HORIZON]), np.asarray(stored.reward[:, :HORIZON])
    radius = toy.PointReach().goal_radius  # envs.make("PointReach") uses the default
    # PointReach: r = 1 - min(|goal - pos|, 2 radius) / radius, and next_obs = [pos, goal - pos]
    expected = 1.0 - np.minimum(np.linalg.norm(next_obs[..., 2:], axis=-1), 2 * radius) / radius
    np.testing.assert_allclose(reward, expected, atol=1e-5)
    assert np.ptp(reward) > 0.1  # random play: the reward varies


def test_the_recogniser_runs_at_most_once_per_5k_agent_steps():
    """The ADS code evaluates (and updates the progress) every 5,000 agent steps, step 0 included. With
    rounds of 3 x 20 = 60 steps after a 60-step prefill, that is the first iteration and then the first
    iteration at or past each multiple of 5,000 steps: never two within one multiple."""
    env, demos = _setup()
    s = agent.make_setup(_config(eval_every_steps=5_000), env, demos)
    due = np.asarray(jax.vmap(lambda i: agent.evaluation_due(s, i))(jnp.arange(400)))
    steps_before = (s.prefill + np.arange(400)) * 60
    expected = [0] + [int(np.argmax(steps_before >= m)) for m in range(5_000, steps_before[-1] + 1, 5_000)]
    assert np.flatnonzero(due).tolist() == expected
    assert np.all(np.diff(steps_before[due]) >= 5_000 - 60)  # at most once per 5k steps


def test_cosine_cost_matrix_of_two_known_point_sets():
    """The ADS code's `cosine_distance`: 1 - x.y / (|x| |y|), here on vectors whose angles are known."""
    from algos.ads import ot_reward

    x = jnp.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    y = jnp.array([[3.0, 0.0], [-1.0, 0.0], [0.0, -0.5]])
    expected = np.array([[0.0, 2.0, 1.0],
                         [1.0, 1.0, 2.0],
                         [1 - 1 / np.sqrt(2), 1 + 1 / np.sqrt(2), 1 + 1 / np.sqrt(2)]])
    np.testing.assert_allclose(np.asarray(ot_reward.cosine_cost(x, y)), expected, atol=1e-6)
    assert agent.default_config().ot_cost == "cosine"  # the code's default in both of its modes
