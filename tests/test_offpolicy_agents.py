"""SAC and DDPG: learning on a tiny task, vmapped seeds and hyperparameters equal separate runs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from algos import ddpg, sac
from algos.common import evaluation

EPISODE = 25
NUM_ENVS = 4


def _tiny(algo):
    c = algo.default_config()
    c.total_env_steps = 4_000
    c.learning_starts = 500
    c.batch_size = 64
    c.hidden_sizes = (32, 32)
    if algo is ddpg:
        c.feature_dim = 16
        c.actor_lr = c.critic_lr = 1e-3
        c.std_schedule_steps = 1_500.0
        c.replay_ratio = 1.0
    return c


@pytest.fixture(scope="module")
def pointreach():
    env, spec = envs.make("PointReach", episode_length=EPISODE, num_envs=NUM_ENVS)
    eval_env, _ = envs.make("PointReach", episode_length=EPISODE, reset_mode="none")
    random = evaluation.evaluate(eval_env, envs.random_policy(spec), jax.random.PRNGKey(2), 256)
    return env, eval_env, float(random.mean())


@pytest.mark.parametrize("algo", [sac, ddpg], ids=["sac", "ddpg"])
def test_learns_pointreach_and_vmap_matches_separate_runs(algo, pointreach):
    env, eval_env, random_return = pointreach
    config = _tiny(algo)
    train = algo.make_train(config, env)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    lrs = jnp.array([config.critic_lr, 3 * config.critic_lr])
    carries, metrics = jax.jit(jax.vmap(train))(keys, {"critic_lr": lrs})

    def eval_one(agent, k):
        policy = lambda obs, kk: algo.act(agent, obs, kk, deterministic=True)  # noqa: E731
        return evaluation.evaluate(eval_env, policy, k, 32).mean()

    trained = np.asarray(jax.jit(jax.vmap(eval_one))(carries.agent, jax.random.split(jax.random.PRNGKey(1), 2)))
    # of at most 25: a random walk scores ~5, reaching and holding the goal ~20
    assert random_return < 8.0
    assert np.all(trained > 14.0), (trained, random_return)

    # run 1 of the vmapped grid equals a separate run with its key and learning rate set in the config
    config_1 = _tiny(algo)
    config_1.critic_lr = float(lrs[1])
    _, single_metrics = jax.jit(algo.make_train(config_1, env))(keys[1])
    # Batched and unbatched matmuls round differently (~1e-7); training amplifies that
    # chaotically over hundreds of updates, so compare the first 50 iterations (200 updates) tightly.
    np.testing.assert_allclose(metrics["critic_loss"][1, :50], single_metrics["critic_loss"][:50], rtol=1e-4)
    assert not np.allclose(metrics["critic_loss"][0, :50], single_metrics["critic_loss"][:50], rtol=1e-2)


def test_sac_temperature_moves_towards_target_entropy():
    """With a near-deterministic actor (entropy far below -|A|), the temperature loss raises alpha."""
    log_pi = jnp.full((16,), 5.0)  # entropy -5 < target -2
    grad = jax.grad(sac.temperature_loss)(jnp.float32(0.0), log_pi, -2.0)
    assert float(grad) < 0.0  # descent increases log alpha
    log_pi = jnp.full((16,), -5.0)  # entropy 5 > target
    assert float(jax.grad(sac.temperature_loss)(jnp.float32(0.0), log_pi, -2.0)) > 0.0


def test_offpolicy_refuses_an_unbatched_env():
    env, _ = envs.make("PointReach")
    with pytest.raises(ValueError, match="batched environment"):
        sac.make_train(sac.default_config(), env)


def test_ddpg_exploration_std_schedule():
    env, spec = envs.make("PointReach", num_envs=2)
    config = ddpg.default_config()
    config.hidden_sizes, config.feature_dim = (8,), 4
    state = ddpg.init(jax.random.PRNGKey(0), spec, config, {"std_schedule_steps": 100.0})
    stds = [float(ddpg.exploration_std(state.replace(env_steps=jnp.int32(t)))) for t in (0, 50, 100, 1000)]
    np.testing.assert_allclose(stds, [1.0, 0.55, 0.1, 0.1], rtol=1e-6)


def test_ddpg_constant_exploration_explores_with_its_own_std():
    """ADS's `expl_noise`: with exploration="constant" the actions' noise has std `explore_std` (0.4), while
    the schedule (0.1 here) still smooths the target; with the schedule alone the noise has the scheduled std."""
    env, spec = envs.make("PointReach")
    obs = jnp.zeros((4096, *spec.obs_shape))
    for exploration, expected in (("constant", 0.4), ("schedule", 0.1)):
        c = ddpg.default_config()
        c.hidden_sizes, c.feature_dim, c.std_init, c.std_final, c.exploration = (8,), 0, 0.1, 0.1, exploration
        state = ddpg.init(jax.random.PRNGKey(0), spec, c)
        mean = ddpg.act(state, obs, jax.random.PRNGKey(1), deterministic=True)
        noise = ddpg.act(state, obs, jax.random.PRNGKey(1)) - mean
        assert float(jnp.std(noise)) == pytest.approx(expected, rel=0.05), exploration
