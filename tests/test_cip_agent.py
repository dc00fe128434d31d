"""The CIP agent: equal to SAC with its parts off, the inverse model, counterfactuals, resets, schedule."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import envs
from algos import cip, sac
from algos.common import evaluation, networks
from algos.cip import agent as cip_agent
from envs.core import EnvSpec
from envs.rollout import Transition

EPISODE = 25
NUM_ENVS = 4
SPEC = EnvSpec(name="test", obs_shape=(6,), action_shape=(3,), action_low=-1.0, action_high=1.0, episode_length=EPISODE,
               action_repeat=1, control_dt=0.01, num_envs=NUM_ENVS)


def _tiny():
    c = cip.default_config()
    c.total_env_steps = 4_000
    c.learning_starts = 500
    c.batch_size = 64
    c.hidden_sizes = (32, 32)
    c.inverse_hidden_sizes = (32, 32)
    c.actor_update_interval = c.target_update_interval = 1
    c.discovery_first = c.discovery_window = 500
    c.discovery_every = 1_000
    c.empowerment_warmup = 100
    c.reset_interval, c.reset_first = 1_500, 500
    return c


def _batch(key, b=64, s=6, a=3):
    ks = jax.random.split(key, 4)
    obs = jax.random.normal(ks[0], (b, 1, s))
    return Transition(obs=obs, action=jax.random.uniform(ks[1], (b, 1, a), minval=-1, maxval=1),
                      reward=jax.random.normal(ks[2], (b, 1)), next_obs=obs + 0.1 * jax.random.normal(ks[3], (b, 1, s)),
                      done=jnp.zeros((b, 1)), truncated=jnp.zeros((b, 1)))


def test_update_with_the_parts_off_is_sac_update():
    """Uniform weights, no counterfactuals, no empowerment: the SAC state moves exactly as under sac.update."""
    c = _tiny()
    c.augment_fraction, c.empowerment_scale = 0.0, 0.0
    state = cip.init(jax.random.PRNGKey(0), SPEC, c)
    seq, key = _batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(2)
    for _ in range(3):
        state_cip, _ = jax.jit(cip.update)(state, seq, key)
        state_sac, _ = jax.jit(sac.update)(state.sac, seq, key)
        for a, b in zip(jax.tree.leaves((state_cip.sac.actor_params, state_cip.sac.critic_params,
                                         state_cip.sac.log_alpha)),
                        jax.tree.leaves((state_sac.actor_params, state_sac.critic_params, state_sac.log_alpha))):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        state = state_cip
        key = jax.random.fold_in(key, 0)
    # and the parts do change it once on
    c.augment_fraction, c.empowerment_scale, c.empowerment_warmup = 0.5, 1.0, 0
    on = cip.init(jax.random.PRNGKey(0), SPEC, c)
    on = on.replace(mask=jnp.array([True, False, True, False, False, False]),
                    weights=on.weights._replace(action=jnp.array([2.0, 0.5, 0.5])))
    moved, info = jax.jit(cip.update)(on, seq, key)
    off, _ = jax.jit(sac.update)(on.sac, seq, key)
    assert not np.allclose(moved.sac.actor_params["params"]["MLP_0"]["Dense_0"]["kernel"],
                           off.actor_params["params"]["MLP_0"]["Dense_0"]["kernel"])
    assert np.isfinite(float(info["empowerment"]))


def test_weighted_log_prob_with_unit_weights_is_the_plain_one():
    mean, log_std = jnp.array([[0.3, -1.0]]), jnp.array([[-0.5, 0.2]])
    _, log_prob = networks.tanh_gaussian_sample(mean, log_std, jax.random.PRNGKey(0))
    assert float(sac._weighted(log_prob, jnp.ones(2))[0]) == float(sac._weighted(log_prob, None)[0])
    # the per-dimension log-density of a given action matches the sampled one
    action, log_prob = networks.tanh_gaussian_sample(mean, log_std, jax.random.PRNGKey(3))
    np.testing.assert_allclose(networks.tanh_gaussian_log_prob(mean, log_std, action), log_prob, atol=1e-4)


def test_inverse_model_learns_known_dynamics():
    """s' = s + B a: the action is recoverable from (s, s'), so the likelihood must rise well above the prior's."""
    c = _tiny()
    state = cip.init(jax.random.PRNGKey(0), SPEC, c)
    b_matrix = jax.random.normal(jax.random.PRNGKey(5), (3, 6))
    tx = optax.adam(1e-3)

    def data(key):
        k1, k2 = jax.random.split(key)
        s = jax.random.normal(k1, (256, 6))
        a = jax.random.uniform(k2, (256, 3), minval=-0.95, maxval=0.95)
        return s, s + a @ b_matrix, a

    @jax.jit
    def step(params, opt, key):
        s, s_next, a = data(key)
        loss, g = jax.value_and_grad(cip_agent.inverse_loss)(params, state, s, s_next, a)
        updates, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, updates), opt, loss

    params, opt = state.inverse_params, tx.init(state.inverse_params)
    losses = []
    for i in range(400):
        params, opt, loss = step(params, opt, jax.random.PRNGKey(100 + i))
        losses.append(float(loss))
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 3.0, (losses[:3], losses[-3:])


def test_counterfactual_sequences_swap_only_the_non_causal_dimensions_of_the_chosen_share():
    seq = _batch(jax.random.PRNGKey(0), b=8)
    mask = jnp.array([True, True, False, False, True, False])
    out = cip_agent.counterfactual_sequences(seq, mask, jax.random.PRNGKey(1), jnp.float32(0.5))
    np.testing.assert_array_equal(out.obs[4:], seq.obs[4:])  # the real half is untouched
    np.testing.assert_array_equal(out.obs[:4][..., mask], seq.obs[:4][..., mask])
    np.testing.assert_array_equal(out.next_obs[:4][..., mask], seq.next_obs[:4][..., mask])
    assert not np.allclose(out.obs[:4][..., ~mask], seq.obs[:4][..., ~mask])
    # each swapped row's non-causal part is some other row's, in s and s' alike
    for i in range(4):
        j = [k for k in range(8) if np.array_equal(out.obs[i, 0, ~mask], seq.obs[k, 0, ~mask])]
        assert j and np.array_equal(out.next_obs[i, 0, ~mask], seq.next_obs[j[0], 0, ~mask])
    np.testing.assert_array_equal(out.reward, seq.reward)
    np.testing.assert_array_equal(out.action, seq.action)
    none = cip_agent.counterfactual_sequences(seq, mask, jax.random.PRNGKey(1), jnp.float32(0.0))
    np.testing.assert_array_equal(none.obs, seq.obs)


def test_dormant_fraction_counts_hidden_neurons_with_small_gradients():
    grads = {"params": {"Dense_0": {"kernel": jnp.ones((3, 4)).at[:, 1].set(0.0), "bias": jnp.zeros(4)},
                        "Dense_1": {"kernel": jnp.ones((4, 4)), "bias": jnp.zeros(4)},
                        "Dense_2": {"kernel": jnp.zeros((4, 2)), "bias": jnp.zeros(2)}}}  # output layer: not counted
    assert float(cip_agent.dormant_fraction(grads, 0.05)) == pytest.approx(1 / 8)


def test_reset_moves_every_network_towards_a_fresh_one_and_clears_adam():
    c = _tiny()
    state = cip.init(jax.random.PRNGKey(0), SPEC, c)
    update = jax.jit(cip.update)
    for i in range(3):  # move the optimiser states off zero
        state, _ = update(state, _batch(jax.random.PRNGKey(i)), jax.random.PRNGKey(10 + i))
    batch = sac.offpolicy.nstep_batch(_batch(jax.random.PRNGKey(7)), jnp.float32(0.99))
    new = jax.jit(lambda st, b, k: cip_agent.reset(st, b, k, SPEC, c))(state, batch, jax.random.PRNGKey(8))
    fresh = sac.init(jax.random.split(jax.random.PRNGKey(8), 3)[1], SPEC, c, state.sac.hp)
    old_k = state.sac.critic_params["params"]["q"]["Dense_0"]["kernel"]
    new_k = new.sac.critic_params["params"]["q"]["Dense_0"]["kernel"]
    fresh_k = fresh.critic_params["params"]["q"]["Dense_0"]["kernel"]
    eta = float(jnp.sum((new_k - fresh_k) * (old_k - fresh_k)) / jnp.sum((old_k - fresh_k) ** 2))
    assert 0.2 - 1e-5 <= eta <= 0.9 + 1e-5
    np.testing.assert_allclose(new_k, eta * old_k + (1 - eta) * fresh_k, atol=1e-5)
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves(new.sac.critic_opt) if x.ndim > 0)
    assert int(new.resets) == 1


@pytest.fixture(scope="module")
def pointreach():
    env, spec = envs.make("PointReach", episode_length=EPISODE, num_envs=NUM_ENVS)
    eval_env, _ = envs.make("PointReach", episode_length=EPISODE, reset_mode="none")
    return env, eval_env


def test_cip_learns_pointreach_and_runs_discovery_and_resets_on_schedule(pointreach):
    env, eval_env = pointreach
    c = _tiny()
    train = jax.jit(jax.vmap(cip.make_train(c, env)))
    carries, metrics = train(jax.random.split(jax.random.PRNGKey(0), 2))
    policy = lambda agent: lambda obs, k: cip.act(agent, obs, k, deterministic=True)  # noqa: E731
    returns = [float(evaluation.evaluate(eval_env, policy(jax.tree.map(lambda x: x[i], carries.agent)),
                                         jax.random.PRNGKey(1), 32).mean()) for i in range(2)]
    assert min(returns) > 14.0, returns  # a random walk scores ~5 of at most 25
    # discovery at env steps 500 (first), 1000, 2000, 3000; resets at updates 1500 and 3000
    np.testing.assert_array_equal(carries.agent.discoveries, [4, 4])
    np.testing.assert_array_equal(carries.agent.resets, [2, 2])
    # PointReach's reward is minus the distance to the goal: it depends on the position, not on the action
    agent = jax.tree.map(lambda x: x[0], carries.agent)
    assert np.all(np.isfinite(agent.weights.state)) and np.all(np.isfinite(agent.weights.action))
    assert agent.mask.any()
    # the discovery count in the metrics rises at the scheduled iterations (env steps 1000, 2000, 3000)
    steps = 500 + NUM_ENVS * np.arange(1, metrics["discoveries"].shape[1] + 1)
    rises = steps[np.flatnonzero(np.diff(metrics["discoveries"][0])) + 1] - NUM_ENVS
    np.testing.assert_array_equal(rises, [1000, 2000, 3000])


def test_released_behaviour_is_sac_with_resets():
    c = _tiny()
    c.behaviour = "released"
    state = cip.init(jax.random.PRNGKey(0), SPEC, c)
    assert all(float(state.hp[k]) == 0.0 for k in ("augment_fraction", "entropy_weighting", "empowerment_scale"))
    c.behaviour = "wrong"
    with pytest.raises(ValueError, match="behaviour"):
        cip.init(jax.random.PRNGKey(0), SPEC, c)
    c = _tiny()
    c.discovery_first = 100
    with pytest.raises(ValueError, match="discovery_first"):
        cip.init(jax.random.PRNGKey(0), SPEC, c)


def test_empowerment_bonus_is_a_bounded_minus_kl_that_the_actor_can_climb():
    """With unit weights the bonus is -KL(pi || q) <= 0; ascending it moves pi onto q and stays finite."""
    state = cip.init(jax.random.PRNGKey(0), SPEC, _tiny())
    # an inverse model far from the fresh policy (both start near N(0, 1) before the tanh)
    state = state.replace(inverse_params=jax.tree.map(lambda x: 3.0 * x, state.inverse_params))
    seq = _batch(jax.random.PRNGKey(1), b=2048)
    obs, next_obs = seq.obs[:, 0], seq.next_obs[:, 0]
    w = jnp.ones(3)
    bonus = jax.jit(lambda p, k: cip_agent.empowerment_bonus(state, state.sac, p, obs, next_obs, w, k))
    start = float(bonus(state.sac.actor_params, jax.random.PRNGKey(2)))
    assert start < 0.0  # two different random networks: KL > 0, far above the estimate's noise at 2048 samples
    tx = optax.adam(3e-3)

    @jax.jit
    def ascend(params, opt, k):
        grads = jax.grad(lambda p: -bonus(p, k))(params)
        updates, opt = tx.update(grads, opt)
        return optax.apply_updates(params, updates), opt

    params, opt = state.sac.actor_params, tx.init(state.sac.actor_params)
    for i in range(300):
        params, opt = ascend(params, opt, jax.random.PRNGKey(100 + i))
    end = float(bonus(params, jax.random.PRNGKey(3)))
    assert start + 0.5 < end < 0.05, (start, end)
