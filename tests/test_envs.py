"""The environment contract: shapes, determinism, episode semantics, wrappers, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs import normalization, wrappers
from envs.toy import PointReach


def test_spec_shapes_and_dtypes(cartpole, cartpole_step):
    env, spec = cartpole
    reset, step = cartpole_step
    assert spec.obs_shape == (5,) and spec.action_shape == (1,)
    assert (spec.action_low, spec.action_high) == (-1.0, 1.0)
    assert spec.episode_length == 12 and spec.control_dt == pytest.approx(0.01)
    state = reset(jax.random.PRNGKey(0))
    state = step(state, jnp.zeros(spec.action_shape))
    assert state.obs.shape == spec.obs_shape and state.obs.dtype == jnp.float32
    for leaf in (state.reward, state.done, state.truncated):
        assert leaf.shape == () and leaf.dtype == jnp.float32
    assert set(state.metrics) >= {"episode_return", "episode_length", "episode_done"}


def test_same_key_same_trajectory_other_key_differs(cartpole):
    env, spec = cartpole
    policy = envs.random_policy(spec)
    a = envs.rollout(env, policy, jax.random.PRNGKey(3), 30)
    b = envs.rollout(env, policy, jax.random.PRNGKey(3), 30)
    c = envs.rollout(env, policy, jax.random.PRNGKey(4), 30)
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert not np.allclose(a.obs, c.obs)


def test_auto_reset_starts_new_episode_and_flags_truncation(cartpole):
    env, spec = cartpole  # episode_length=12, reset_mode="full"
    traj = envs.rollout(env, envs.random_policy(spec), jax.random.PRNGKey(0), 30)
    done = np.asarray(traj.done)
    np.testing.assert_array_equal(np.nonzero(done)[0], [11, 23])
    np.testing.assert_array_equal(traj.truncated, traj.done)  # cartpole never terminates
    assert float(traj.terminated.sum()) == 0.0
    # at the boundary, next_obs is the ended episode's last observation and the next
    # step starts from a fresh state, not a continuation of it
    for t in (11, 23):
        assert not np.allclose(traj.next_obs[t], traj.obs[t + 1])
    for t in range(29):
        if t not in (11, 23):
            np.testing.assert_array_equal(traj.next_obs[t], traj.obs[t + 1])
    # episode statistics: the finished episode's return is the sum of its rewards
    np.testing.assert_allclose(traj.metrics["episode_return"][11], traj.reward[:12].sum(), rtol=1e-5)
    np.testing.assert_allclose(traj.metrics["episode_return"][23], traj.reward[12:24].sum(), rtol=1e-5)
    assert float(traj.metrics["episode_length"][23]) == 12.0


def test_full_reset_draws_new_initial_states_cached_repeats_the_first():
    full, spec = envs.make("PointReach", episode_length=5, reset_mode="full")
    cached, _ = envs.make("PointReach", episode_length=5, reset_mode="cached")
    policy = envs.zeros_policy(spec)
    key = jax.random.PRNGKey(1)
    starts = [0, 5, 10]
    tf = envs.rollout(full, policy, key, 15)
    tc = envs.rollout(cached, policy, key, 15)
    np.testing.assert_array_equal(tc.obs[starts[1]], tc.obs[0])
    np.testing.assert_array_equal(tc.obs[starts[2]], tc.obs[0])
    assert not np.allclose(tf.obs[starts[1]], tf.obs[0])
    assert not np.allclose(tf.obs[starts[2]], tf.obs[starts[1]])


def test_termination_is_not_truncation():
    env, spec = envs.make("PointReachTerminal", episode_length=100)
    outward = lambda obs, key: jnp.ones(spec.action_shape)  # noqa: E731
    traj = envs.rollout(env, outward, jax.random.PRNGKey(0), 40)
    first = int(np.argmax(traj.done))
    # |pos| grows by 0.1*sqrt(2) per step from near 0: leaves the 1.5 disc at step ~11
    assert 8 <= first <= 13
    assert float(traj.truncated[first]) == 0.0 and float(traj.terminated[first]) == 1.0
    # a termination on the last allowed step is still a termination
    env2, _ = envs.make("PointReachTerminal", episode_length=first + 1)
    traj2 = envs.rollout(env2, outward, jax.random.PRNGKey(0), first + 1)
    assert float(traj2.done[first]) == 1.0 and float(traj2.truncated[first]) == 0.0
    # and a plain time-out on PointReach is a truncation
    env3, _ = envs.make("PointReach", episode_length=7)
    traj3 = envs.rollout(env3, outward, jax.random.PRNGKey(0), 7)
    assert float(traj3.truncated[6]) == 1.0 and float(traj3.terminated[6]) == 0.0


def test_action_repeat_sums_rewards_of_the_base_steps(cartpole_step):
    base, spec = envs.make("CartpoleBalance", action_repeat=3, episode_length=1000, reset_mode="none")
    raw, _ = envs.make("CartpoleBalance", action_repeat=1, episode_length=1000, reset_mode="none")
    assert spec.control_dt == pytest.approx(0.03) and spec.max_episode_steps == 334
    key = jax.random.PRNGKey(2)
    s_rep, s_raw = jax.jit(base.reset)(key), jax.jit(raw.reset)(key)
    actions = jax.random.uniform(jax.random.PRNGKey(5), (4, 1), minval=-1, maxval=1)
    step_rep, step_raw = jax.jit(base.step), jax.jit(raw.step)
    for a in actions:
        s_rep = step_rep(s_rep, a)
        total = 0.0
        for _ in range(3):
            s_raw = step_raw(s_raw, a)
            total += float(s_raw.reward)
        np.testing.assert_allclose(float(s_rep.reward), total, rtol=1e-5)
        np.testing.assert_allclose(s_rep.obs, s_raw.obs, rtol=1e-5, atol=1e-6)
    assert int(s_rep.info["steps"]) == 12


def test_action_repeat_stops_accumulating_after_termination():
    env = wrappers.ActionRepeat(PointReach(terminate_radius=0.25, step_size=0.1), 4)
    state = env.reset(jax.random.PRNGKey(0))
    state = state.replace(inner=state.inner.replace(pos=jnp.array([0.2, 0.0])))
    state = state.replace(obs=env.env._obs(state.inner))
    nxt = env.step(state, jnp.array([1.0, 0.0]))
    # first sub-step leaves the 0.25 disc: the episode ends there, at x = 0.3
    assert float(nxt.done) == 1.0
    np.testing.assert_allclose(nxt.inner.pos, [0.3, 0.0], atol=1e-6)
    single = PointReach(terminate_radius=0.25).step(state, jnp.array([1.0, 0.0]))
    np.testing.assert_allclose(float(nxt.reward), float(single.reward), rtol=1e-6)


def test_running_statistics_match_numpy():
    rng = np.random.default_rng(0)
    stream = [rng.normal(3.0, 2.0, size=(n, 4)).astype(np.float32) for n in (1, 7, 64, 3, 128)]
    stats = normalization.init((4,))
    for batch in stream:
        stats = normalization.update(stats, batch)
    allx = np.concatenate(stream)
    assert float(stats.count) == len(allx)
    np.testing.assert_allclose(stats.mean, allx.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.var, allx.var(0), rtol=1e-4)
    z = normalization.normalize(stats, allx, clip=None)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1.0, rtol=1e-4)
    np.testing.assert_allclose(normalization.denormalize(stats, z), allx, rtol=1e-5, atol=1e-5)
    # a constant feature gives zeros, not NaN
    const = normalization.update(normalization.init((2,)), np.ones((5, 2), np.float32))
    assert np.all(np.isfinite(normalization.normalize(const, np.ones((3, 2)))))


def test_normalize_wrapper_pools_batched_stream():
    env, spec = envs.make("PointReach", num_envs=8, normalize_obs=True, episode_length=6)
    policy = envs.random_policy(spec)
    state = env.reset(jax.random.PRNGKey(0))
    raws = [np.asarray(state.info["raw_obs"])]
    step = jax.jit(env.step)
    for k in jax.random.split(jax.random.PRNGKey(1), 10):
        state = step(state, policy(state.obs, k))
        raws.append(np.asarray(state.info["raw_obs"]))
    allx = np.concatenate(raws)
    stats = state.info["obs_stats"]
    assert float(stats.count) == allx.shape[0]
    np.testing.assert_allclose(stats.mean, allx.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stats.var, allx.var(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(state.obs, normalization.normalize(stats, raws[-1]), rtol=1e-5, atol=1e-6)


def test_rollout_under_jit_and_vmap_matches_python_loop(cartpole, cartpole_step):
    env, spec = cartpole
    reset, step = cartpole_step
    policy = envs.random_policy(spec)
    keys = jax.random.split(jax.random.PRNGKey(7), 3)
    batched = jax.jit(jax.vmap(lambda k: envs.rollout(env, policy, k, 15)))(keys)
    for i, key in enumerate(keys):
        reset_key, run_key = jax.random.split(key)
        state = reset(reset_key)
        for t, k in enumerate(jax.random.split(run_key, 15)):
            action = policy(state.obs, k)
            np.testing.assert_allclose(batched.obs[i, t], state.obs, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(batched.action[i, t], action, rtol=1e-6)
            state = step(state, action)
            np.testing.assert_allclose(batched.reward[i, t], state.reward, rtol=1e-5, atol=1e-6)
            assert float(batched.done[i, t]) == float(state.done)


def test_vmap_wrapper_matches_per_env_steps():
    single, spec = envs.make("PointReach")
    batched, bspec = envs.make("PointReach", num_envs=4)
    assert bspec.num_envs == 4 and bspec.obs_shape == spec.obs_shape
    state = batched.reset(jax.random.PRNGKey(0))
    assert state.obs.shape == (4, *spec.obs_shape)
    actions = jnp.linspace(-1, 1, 8).reshape(4, 2)
    nxt = batched.step(state, actions)
    for i in range(4):
        s_i = jax.tree.map(lambda x: x[i], state)
        np.testing.assert_allclose(nxt.obs[i], single.step(s_i, actions[i]).obs, rtol=1e-6)


def test_unknown_task_lists_known_names():
    with pytest.raises(ValueError, match="unknown task 'CheetaRun'") as err:
        envs.make("CheetaRun")
    msg = str(err.value)
    assert "Did you mean CheetahRun" in msg
    for name in ("WalkerWalk", "halfcheetah", "PointReach"):
        assert name in msg


def test_wrong_action_shape_is_refused(cartpole, cartpole_step):
    env, spec = cartpole
    reset, _ = cartpole_step
    state = reset(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"action has shape \(2,\), expected \(1,\)"):
        env.step(state, jnp.zeros(2))
    batched, _ = envs.make("PointReach", num_envs=3)
    with pytest.raises(ValueError, match=r"expected \(3, 2\)"):
        batched.step(batched.reset(jax.random.PRNGKey(0)), jnp.zeros((2, 2)))
    with pytest.raises(TypeError, match="floating"):
        env.step(state, jnp.zeros(1, jnp.int32))


def test_unknown_override_is_refused_with_valid_keys():
    with pytest.raises(ValueError, match=r"does not take override\(s\) \['frobnicate'\]") as err:
        envs.make("CartpoleBalance", frobnicate=3)
    assert "ctrl_dt" in str(err.value) and "episode_length" in str(err.value)
    with pytest.raises(ValueError, match="does not take"):
        envs.make("hopper", frobnicate=3)
    with pytest.raises(ValueError, match="impl='jax'"):
        envs.make("CartpoleBalance", impl="warp")
    with pytest.raises(ValueError, match="reset_mode"):
        envs.make("PointReach", reset_mode="sometimes")


def test_playground_override_reaches_the_task():
    _, spec = envs.make("CartpoleBalance", ctrl_dt=0.02, sim_dt=0.01)
    assert spec.control_dt == pytest.approx(0.02)


@pytest.mark.parametrize("mode", ["full", "cached"])
def test_batched_auto_reset_restarts_only_finished_envs(mode):
    env, spec = envs.make("PointReachTerminal", num_envs=4, episode_length=100, reset_mode=mode)
    state = env.reset(jax.random.PRNGKey(0))
    first_obs = state.obs
    push = jnp.array([[1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])  # envs 0 and 2 head out
    step = jax.jit(env.step)
    for _ in range(30):
        prev = state
        state = step(state, push)
        if float(state.done.sum()) > 0:
            break
    np.testing.assert_array_equal(state.done, [1, 0, 1, 0])
    assert float(state.truncated.sum()) == 0.0
    # finished envs restarted near the origin; the final observation is the one outside
    assert np.all(np.linalg.norm(state.obs[jnp.array([0, 2]), :2], axis=-1) < 0.2)
    assert np.all(np.linalg.norm(state.info["final_obs"][jnp.array([0, 2]), :2], axis=-1) > 1.5)
    # the others simply went on
    np.testing.assert_array_equal(state.obs[jnp.array([1, 3])], prev.obs[jnp.array([1, 3])])
    assert np.all(np.asarray(state.metrics["episode_done"]) == np.asarray(state.done))
    if mode == "cached":
        np.testing.assert_array_equal(state.obs[jnp.array([0, 2])], first_obs[jnp.array([0, 2])])
    else:
        assert not np.allclose(state.obs[jnp.array([0, 2])], first_obs[jnp.array([0, 2])])


def test_auto_reset_under_named_member_vmap_is_a_branch_with_the_same_results():
    env, spec = envs.make("PointReachTerminal", num_envs=2, episode_length=40, reset_mode="full")
    # member 0's environments head out and terminate; member 1's stand still and only time out
    pushes = jnp.array([[[1.0, 1.0], [1.0, -1.0]], [[0.0, 0.0], [0.0, 0.0]]])

    def rollout(key, push):
        def step(state, _):
            state = env.step(state, push)
            return state, (state.obs, state.done, state.truncated, state.info["final_obs"])
        return jax.lax.scan(step, env.reset(key), None, length=60)[1]

    keys = jax.random.split(jax.random.PRNGKey(3), 2)
    named = jax.vmap(rollout, axis_name=envs.core.MEMBER_AXIS)
    unnamed = jax.vmap(rollout)
    for a, b in zip(jax.jit(named)(keys, pushes), jax.jit(unnamed)(keys, pushes)):
        np.testing.assert_array_equal(a, b)
    _, done, truncated, _ = jax.jit(named)(keys, pushes)
    assert float(done[0].sum()) > 0 and float(truncated[0].sum()) == 0  # member 0 terminates
    assert float(truncated[1].sum()) > 0  # member 1 times out at other steps
    # the reset stays a branch only where the members share the predicate
    assert "cond" in str(jax.make_jaxpr(named)(keys, pushes))
    assert "cond" not in str(jax.make_jaxpr(unnamed)(keys, pushes))


def test_tasks_of_one_dm_control_domain_share_a_body():
    assert envs.body("WalkerRun") == envs.body("WalkerWalk") == envs.body("WalkerStand") == "Walker"
    assert envs.body("CheetahRun") != envs.body("WalkerWalk")
    assert envs.body("ReacherHard") == envs.body("ReacherEasy")
    assert envs.body("PointPush") == "PointPush" and envs.body("PointReach") != envs.body("PointReachTerminal")
