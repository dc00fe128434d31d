"""Dynamical linear bandits: the environment's closed forms, DynLin-UCB against independent references."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algos.bandits import classic, core, linear
from envs import dlb
from experiments.benchmarks import dynlin_numpy

SYNTHETIC = dict(A=np.diag([0.2, 0, 0.1]), B=np.diag([0.45, 0, 0.1]), C=np.diag([1, 0, 0.1]), D=np.diag([0, 0.5, 0.1]))


def _exact(instance, actions):
    with jax.enable_x64(True):
        return np.asarray(dlb.expected_regret(instance, jnp.asarray(actions), jnp.asarray(actions)))


@pytest.mark.parametrize("seed", range(4))
def test_optimum_matches_brute_force_over_the_arms(seed):
    """Play each arm for 4000 rounds from x0 with the exact mean dynamics: the best long-run
    average must be the closed-form u* = argmax <h, u>, with value J*."""
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(1, 4)), int(rng.integers(2, 4))
    instance = dlb.random_instance(seed, n, d, rho=0.8, symmetric=bool(seed % 2))
    arms = rng.uniform(-1, 1, size=(5, d))
    with jax.enable_x64(True):
        averages = [float(np.mean(np.asarray(dlb.expected_rewards(instance, jnp.tile(a, (4000, 1))))[-500:]))
                    for a in arms]
        best = dlb.optimum(instance, arms)
    assert int(best.arm) == int(np.argmax(averages))
    assert float(best.value) == pytest.approx(max(averages), abs=1e-9)


def test_regret_of_the_optimal_constant_policy_is_only_the_transient():
    """Regret of u* from x0 != x_ss sums to omega^T (I - A)^{-1} (x_ss - x0): no linear growth."""
    instance = dlb.random_instance(7, 3, 2, rho=0.9)
    instance = instance.replace(x0=np.array([1.0, -2.0, 0.5]))
    arms = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    with jax.enable_x64(True):
        u_star = np.asarray(dlb.optimum(instance, arms).action)
        regret = {T: float(np.sum(np.asarray(dlb.expected_regret(instance, arms, jnp.tile(u_star, (T, 1))))))
                  for T in (1000, 10_000)}
    A, B, omega = (np.asarray(v) for v in (instance.A, instance.B, instance.omega))
    x_ss = np.linalg.solve(np.eye(3) - A, B @ u_star)
    closed_form = omega @ np.linalg.solve(np.eye(3) - A, x_ss - np.asarray(instance.x0))
    assert regret[1000] == pytest.approx(closed_form, rel=1e-9)
    assert regret[10_000] == pytest.approx(closed_form, rel=1e-9)
    assert abs(closed_form) > 0.1  # the transient is there, and bounded


def test_bad_instances_and_actions_are_refused():
    with pytest.raises(dlb.DLBError, match="spectral radius is 1.1 >= 1"):
        dlb.make_instance(np.diag([1.1, 0.2]), np.ones((2, 1)), np.ones(1), np.ones(2))
    with pytest.raises(dlb.DLBError, match=r"B must be \[n, d\] = \[2, d\]"):
        dlb.make_instance(np.eye(2) * 0.5, np.ones((3, 1)), np.ones(1), np.ones(2))
    with pytest.raises(dlb.DLBError, match=r"theta must be \[d\] = \[1\]"):
        dlb.make_instance(np.eye(2) * 0.5, np.ones((2, 1)), np.ones(2), np.ones(2))
    instance = dlb.from_state_space(**SYNTHETIC, noise_std=0.01)
    env = dlb.DynamicalLinearBandit(instance, dlb.budget_arms())
    state = env.reset(jax.random.PRNGKey(0))
    env.step(state, jnp.array([1.0, 0.5, 0.0]))  # an arm: fine
    with pytest.raises(dlb.DLBError, match="not in the action set"):
        env.step(state, jnp.array([0.5, 0.5, 0.5]))


def test_random_instances_have_the_chosen_spectral_radius():
    for seed, symmetric in ((0, True), (1, False)):
        instance = dlb.random_instance(seed, 4, 2, rho=0.95, symmetric=symmetric)
        assert dlb.spectral_radius(instance.A) == pytest.approx(0.95, rel=1e-9)
    assert np.linalg.norm(dlb.random_instance(2, 4, 2, rho=0.95).A, 2) == pytest.approx(0.95, rel=1e-9)


def test_the_paper_action_set_and_markov_parameter():
    arms = dlb.budget_arms(3, 1.5, 1.0, 0.0)
    assert sorted(map(tuple, arms)) == sorted({(1.0, 0.5, 0.0), (1.0, 0.0, 0.5), (0.5, 1.0, 0.0), (0.0, 1.0, 0.5),
                                               (0.5, 0.0, 1.0), (0.0, 0.5, 1.0)})
    instance = dlb.from_state_space(**SYNTHETIC, noise_std=0.01)
    # D + C (I - A)^{-1} B summed over outputs: 0.45 / 0.8, 0.5, 0.1 + 0.01 / 0.9
    np.testing.assert_allclose(np.asarray(dlb.markov_parameter(instance)), [0.5625, 0.5, 0.1 + 0.01 / 0.9], rtol=1e-6)


def test_dynlin_ucb_matches_the_numpy_reference_on_the_same_noise():
    instance = dlb.from_state_space(**SYNTHETIC, noise_std=0.01)
    arms = dlb.budget_arms()
    horizon = 3000
    params = linear.params(instance, arms, horizon, lam=1.0)
    env_key, agent_key = jax.random.PRNGKey(3), jax.random.PRNGKey(4)
    pulled, _ = core.trajectory(linear.AGENT, params, instance, arms, env_key, agent_key, horizon)
    eps, eta = dlb.noise_sequence(instance, env_key, horizon)
    reference = dynlin_numpy.dynlin_ucb(instance, params, eps[None], eta[None], pulled[:1])[0]
    np.testing.assert_array_equal(pulled, reference)
    changes = np.flatnonzero(np.diff(pulled)) + 1
    assert set(changes) <= set(params.block_ends + 1)  # arms change only after a block ends
    assert len(set(pulled)) > 1


def test_without_dynamics_dynlin_ucb_is_a_ucb_on_theta():
    """A = 0, B = 0: y = <theta, u> + noise, rho = 0, one-round blocks: DynLin-UCB is a
    ridge-regression UCB on theta, choice for choice, and it finds argmax <theta, u>."""
    theta = np.array([0.3, -0.2, 0.5])
    instance = dlb.make_instance(np.zeros((2, 2)), np.zeros((2, 3)), theta, np.array([1.0, -1.0]),
                                 state_noise_std=0.1, reward_noise_std=0.1)
    arms = np.eye(3)
    horizon = 2000
    params = linear.params(instance, arms, horizon, lam=1.0)
    assert np.array_equal(params.block_ends, np.arange(horizon))
    pulled, rewards = core.trajectory(linear.AGENT, params, instance, arms, jax.random.PRNGKey(0),
                                      jax.random.PRNGKey(1), horizon)
    V, b = np.eye(3), np.zeros(3)
    for t in range(1, horizon):  # replay: the UCB on the regression of the rewards seen so far
        u = arms[pulled[t - 1]]
        V, b = V + np.outer(u, u), b + u * rewards[t - 1]
        V_inv = np.linalg.inv(V)
        beta = float(linear.radius(params, t))
        scores = arms @ (V_inv @ b) + beta * np.sqrt(np.einsum("kd,de,ke->k", arms, V_inv, arms))
        assert pulled[t] == np.argmax(scores), t
    np.testing.assert_allclose(np.asarray(dlb.markov_parameter(instance)), theta)
    assert np.mean(pulled[-500:] == 2) > 0.5


def test_discounted_regression_matches_the_direct_recursion():
    """D-LinUCB's gamma^{-t}-scaled Gram matrices give the same estimate and width as
    V <- g V + u u^T + (1 - g) lam_t I with lam_t = g^{-t} lam, at a g where g^t is representable."""
    instance = dlb.from_state_space(**SYNTHETIC, noise_std=0.01)
    arms = dlb.budget_arms()
    gamma, lam = 0.97, 2.0
    p = linear.params(instance, arms, 200, lam=lam, radius="dlinucb", blocks=False, gamma=gamma, discounted=True)
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        s = linear.init(p, jax.random.PRNGKey(0))
        V, V2, b = lam * np.eye(3), lam * np.eye(3), np.zeros(3)
        for t in range(60):
            arm, y = int(rng.integers(6)), float(rng.normal())
            u = arms[arm]
            s = linear.update(p, s, t, jnp.asarray(arm), jnp.asarray(y))
            lam_t = gamma ** (-t) * lam
            V = gamma * V + np.outer(u, u) + (1 - gamma) * lam_t * np.eye(3)
            V2 = gamma**2 * V2 + np.outer(u, u) + (1 - gamma**2) * lam_t * np.eye(3)
            b = gamma * b + u * y
        np.testing.assert_allclose(np.asarray(s.h), np.linalg.solve(V, b), rtol=1e-8)
        V_inv = np.linalg.inv(V)
        width = np.einsum("kd,de,ke->k", arms, V_inv @ V2 @ V_inv, arms)
        ours = np.asarray(linear.ucb_scores(p, s, 60)) - arms @ np.asarray(s.h)
        np.testing.assert_allclose(ours / float(linear.radius(p, 60)), np.sqrt(width), rtol=1e-8)


@pytest.fixture(scope="module")
def slow_dynamics():
    """Arm 0 pays at once (theta), arm 1 builds a slow state (rho = 0.9) worth 10x more:
    h = (1, 10). Regressing each round's reward on its action misses the state's memory."""
    instance = dlb.make_instance(np.array([[0.9]]), np.array([[0.0, 1.0]]), theta=np.array([1.0, 0.0]),
                                 omega=np.array([1.0]), state_noise_std=0.1, reward_noise_std=0.1)
    return instance, np.eye(2)


def test_dynlin_ucb_beats_linucb_under_strong_slow_dynamics(slow_dynamics):
    instance, arms = slow_dynamics
    horizon, runs = 20_000, 16
    env_keys = jax.random.split(jax.random.PRNGKey(0), runs)
    agent_keys = jax.random.split(jax.random.PRNGKey(1), runs)
    final = {}
    for name, p in (("dynlin", linear.params(instance, arms, horizon, lam=np.log(horizon))),
                    ("linucb", linear.params(instance, arms, horizon, lam=1.0, radius="linucb", blocks=False))):
        r = core.run_many(linear.AGENT, p, instance, arms, env_keys, agent_keys, horizon, 20)
        final[name] = core.cumulative(r.regret)[:, -1]
    diff = final["linucb"] - final["dynlin"]  # paired: same noise per run
    assert diff.mean() > 5 * diff.std(ddof=1) / np.sqrt(runs), (final["dynlin"].mean(), final["linucb"].mean())
    assert final["dynlin"].mean() < 0.7 * final["linucb"].mean()


def test_vmapped_runs_equal_the_unvmapped_run(slow_dynamics):
    instance, arms = slow_dynamics
    p = linear.params(instance, arms, 2000, lam=1.0)
    env_keys = jax.random.split(jax.random.PRNGKey(5), 3)
    agent_keys = jax.random.split(jax.random.PRNGKey(6), 3)
    batched = core.run_many(linear.AGENT, p, instance, arms, env_keys, agent_keys, 2000, 10, chunks=2)
    with jax.enable_x64(True):
        single = jax.jit(lambda: core.run(linear.AGENT, p, instance, jnp.asarray(arms, float), env_keys[1],
                                          agent_keys[1], 2000, 10))()
    np.testing.assert_array_equal(batched.regret[1], np.asarray(single.regret))
    np.testing.assert_array_equal(batched.arm_counts[1], np.asarray(single.arm_counts))


def test_oracle_and_exp3_sanity(slow_dynamics):
    instance, arms = slow_dynamics
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    oracle = core.run_many(classic.FIXED, classic.oracle_params(instance, arms), instance, arms, keys, keys, 1000, 10)
    assert (oracle.arm_counts[:, 1] == 1000).all()
    assert np.abs(core.cumulative(oracle.steady_regret)).max() == 0.0
    exp3 = core.run_many(classic.EXP3, classic.exp3_params(instance, arms, 1000, batched=True), instance, arms,
                         keys, keys, 1000, 10)
    assert exp3.arm_counts.sum(axis=1).tolist() == [1000] * 4


def test_ar2_sweeps_the_arms_first_then_plays_them_all(slow_dynamics):
    instance = dlb.from_state_space(**SYNTHETIC, noise_std=0.01)
    arms = dlb.budget_arms()
    pulled, _ = core.trajectory(classic.AR2, classic.ar2_params(instance, arms), instance, arms,
                                jax.random.PRNGKey(0), jax.random.PRNGKey(1), 400)
    assert pulled[:6].tolist() == [5, 4, 3, 2, 1, 0]  # the official code's sweep order
    assert len(set(pulled[6:].tolist())) > 1


def test_the_paper_experiment_command_writes_curves_and_table(tmp_path):
    from experiments.dlb import main as bandits
    from experiments.dlb.configs import realdata as dlb_realdata

    config = dlb_realdata.get_config()
    config.horizon, config.segments, config.chunks, config.trials = 2000, 20, 2, 3
    config.slope_horizons = (500, 1000, 2000)
    config.workdir = str(tmp_path)
    summary = bandits.run(config, progress=False)
    import pandas as pd

    frame = pd.read_parquet(tmp_path / "regret.parquet")
    methods = config.methods.split(",")
    assert sorted(frame["method"].unique()) == sorted(methods)
    assert len(frame) == len(methods) * 3 * 20
    final = frame[frame["round"] == 2000].groupby("method")["regret"].mean()
    instance, arms = bandits.setup(config)
    A, B, omega = (np.asarray(v) for v in (instance.A, instance.B, instance.omega))
    x_ss = np.linalg.solve(np.eye(3) - A, B @ np.asarray(dlb.optimum(instance, arms).action))
    transient = omega @ np.linalg.solve(np.eye(3) - A, x_ss)  # from x0 = 0
    assert final["clairvoyant"] == pytest.approx(transient, rel=1e-6)  # the oracle pays only the transient
    assert final["random"] > 20 * abs(transient)
    for name in ("regret.png", "slope.png", "table.md"):
        assert (tmp_path / name).stat().st_size > 500
    assert set(summary["slope"]) == {"dynlin_ucb_1", "dynlin_ucb_logT"}
    np.testing.assert_allclose(summary["optimal_value"], float(dlb.optimum(*bandits.setup(config)).value))
    expert = bandits.expert_allocation(config)
    assert expert.sum() == pytest.approx(config.daily_budget) and (expert <= config.campaign_cap + 1e-12).all()


def test_instances_with_different_rho_vmap_as_one_program():
    """Two instances (rho 0.5 and 0.9: different block schedules, padded) batched in one
    program give the same regret as each run on its own."""
    horizon = 3000
    instances = [dlb.random_instance(s, 2, 2, rho=r) for s, r in ((0, 0.5), (1, 0.9))]
    arms = np.eye(2)
    longest = max(len(core.block_ends(dlb.spectral_radius(i.A), horizon)) for i in instances)
    params = [linear.params(i, arms, horizon, pad_to=longest) for i in instances]
    keys = jax.random.split(jax.random.PRNGKey(2), 2)
    batched = core.run_many(linear.AGENT, jax.tree.map(lambda *x: np.stack(x), *params), dlb.stack(instances), arms,
                            keys, keys, horizon, 10, params_batched=True, instance_batched=True)
    for i in range(2):
        alone = core.run_many(linear.AGENT, params[i], instances[i], arms, keys[i:i + 1], keys[i:i + 1], horizon, 10)
        np.testing.assert_allclose(batched.regret[i], alone.regret[0], rtol=1e-12)
        np.testing.assert_array_equal(batched.arm_counts[i], alone.arm_counts[0])


def test_regret_of_a_run_on_an_instance_solved_by_hand():
    """x' = 0.5 x + 0.4 u_1, y = x + 0.3 u_2: h = (0.4 / (1 - 0.5), 0.3) = (0.8, 0.3), so u* = e1, J* = 0.8.
    From x0 = 0, holding e2 costs exactly 0.5 a round; holding e1 costs 0.8 * 0.5^t at round t,
    1.6 (1 - 0.5^T) in all; the steady-state measure is 0.5 T and 0."""
    instance = dlb.make_instance(np.array([[0.5]]), np.array([[0.4, 0.0]]), theta=np.array([0.0, 0.3]),
                                 omega=np.array([1.0]), state_noise_std=0.1, reward_noise_std=0.1)
    arms = np.eye(2)
    horizon = 200
    assert classic.oracle_params(instance, arms).arm == 0
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    for arm, regret, steady in ((1, 0.5 * horizon, 0.5 * horizon), (0, 1.6 * (1 - 0.5**horizon), 0.0)):
        r = core.run_many(classic.FIXED, classic.FixedParams(arms=arms, arm=arm), instance, arms, keys, keys,
                          horizon, 10)
        np.testing.assert_allclose(core.cumulative(r.regret)[:, -1], regret, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(core.cumulative(r.steady_regret)[:, -1], steady, rtol=1e-12, atol=1e-12)
        assert (r.arm_counts[:, arm] == horizon).all()


def test_radius_scale_one_is_the_papers_radius_and_other_scales_multiply_it(slow_dynamics):
    instance, arms = slow_dynamics
    horizon = 2000
    paper = linear.params(instance, arms, horizon)
    with jax.enable_x64(True):
        state = linear.init(paper, jax.random.PRNGKey(0))
        u = jnp.asarray(arms[1], float)
        state = state.replace(W_inv=jnp.linalg.inv(state.W + jnp.outer(u, u)), h=jnp.asarray([0.3, -0.2]))
        t = jnp.asarray(57)
        width = np.sqrt(np.einsum("kd,de,ke->k", arms, np.asarray(state.W_inv), arms))
        by_hand = np.asarray(arms) @ np.asarray(state.h) + float(linear.radius(paper, t)) * width
        np.testing.assert_array_equal(np.asarray(linear.ucb_scores(paper, state, t)),
                                      np.asarray(linear.ucb_scores(paper.replace(radius_scale=1.0), state, t)))
        np.testing.assert_allclose(np.asarray(linear.ucb_scores(paper, state, t)), by_hand, rtol=1e-12)
        half = linear.params(instance, arms, horizon, radius_scale=0.5)
        np.testing.assert_allclose(np.asarray(linear.ucb_scores(half, state, t)) - np.asarray(arms) @ np.asarray(state.h),
                                   0.5 * (by_hand - np.asarray(arms) @ np.asarray(state.h)), rtol=1e-12)
    with pytest.raises(ValueError, match="radius_scale must be > 0"):
        linear.params(instance, arms, horizon, radius_scale=0.0)


FROZEN = Path(__file__).parent / "data" / "dlb_frozen_3000.npz"


def test_every_method_gives_the_regrets_it_gave_before_the_speed_changes():
    """`tests/data/dlb_frozen_3000.npz` holds every method's per-segment regrets, steady-state regrets and
    arm counts on both paper instances (T = 3000, 3 trials, the drivers' keys), computed by the code as it
    stood on 2026-12-03 before the speed changes (commit 75105af). The current code must give them bit for bit."""
    from experiments.dlb import main as dlb_main
    from experiments.launch import reproduce as reproduce_lib

    frozen = np.load(FROZEN)
    checked = 0
    for cfg_name, names in (("synthetic", sorted(dlb_main.METHODS)), ("realdata", ["dynlin_ucb_1", "expert"])):
        c = reproduce_lib.load_config(dlb_main.CONFIGS / f"{cfg_name}.py",
                                      {"horizon": 3000, "trials": 3, "segments": 10, "chunks": 1}, [])
        instance, arms = dlb_main.setup(c)
        for name in names:
            if f"{cfg_name}/{name}/regret" not in frozen:
                continue
            r = dlb_main.run_method(name, c, instance, arms)
            for field in ("regret", "steady_regret", "arm_counts"):
                np.testing.assert_array_equal(getattr(r, field), frozen[f"{cfg_name}/{name}/{field}"],
                                              err_msg=f"{cfg_name} {name} {field}")
            checked += 1
    assert checked == 14  # the 12 methods on the synthetic instance (the expert needs the real-data one), 2 there


def test_jobs_run_together_give_each_the_regrets_it_gets_alone():
    """`reproduce` runs the jobs (method, experiment) that share an agent program as one (instances and
    params batched; DynLin-UCB's block schedules of rho = 0.2 and 0.67 padded, lambda = 1 beside log T).
    Each job must still get the frozen regrets bit for bit; mismatched configs are not shareable."""
    from experiments.dlb import main as dlb_main
    from experiments.launch import reproduce as reproduce_lib

    frozen = np.load(FROZEN)
    short = {"horizon": 3000, "trials": 3, "segments": 10, "chunks": 1}
    configs = [reproduce_lib.load_config(dlb_main.CONFIGS / f"{n}.py", short, []) for n in ("synthetic", "realdata")]
    assert dlb_main.shareable(configs)
    assert not dlb_main.shareable([configs[0], _with(configs[1], horizon=6000)])
    instances = [dlb_main.setup(c)[0] for c in configs]
    jobs = [(name, c, inst) for name in ("dynlin_ucb_1", "dynlin_ucb_logT", "exp3")
            for c, inst in zip(configs, instances)]
    results, seconds = dlb_main.run_jobs(jobs, dlb_main.setup(configs[0])[1])
    assert len(results) == 6 and seconds[0] == seconds[3]  # the four DynLin-UCB jobs ran as one program
    for (name, c, _), r in zip(jobs, results):
        for field in ("regret", "steady_regret", "arm_counts"):
            np.testing.assert_array_equal(getattr(r, field), frozen[f"{c.experiment}/{name}/{field}"],
                                          err_msg=f"{c.experiment} {name} {field}")


def test_a_second_run_of_the_same_shapes_compiles_nothing():
    """`run_many` keeps its compiled steps: another instance, other keys or lambda of the same shapes reuse
    them (each call used to compile afresh, a second or more of every reproduce job)."""
    arms = dlb.budget_arms()
    first, second = (dlb.random_instance(s, 2, 3, rho=0.3, noise_std=0.1) for s in (0, 1))
    keys = jax.random.split(jax.random.PRNGKey(5), 2)
    steps = (core._start_many, core._advance_many, core._advance_holds_many)
    for how in ("rounds", "holds"):
        core.run_many(linear.AGENT, linear.params(first, arms, 200), first, arms, keys, keys, 200, 4, simulate=how)
    sizes = [f._cache_size() for f in steps]
    for how in ("rounds", "holds"):  # rho alike: the same block schedule, hence the same shapes
        core.run_many(linear.AGENT, linear.params(second, arms, 200, lam=2.0), second, arms, keys[::-1], keys,
                      200, 4, simulate=how)
    assert [f._cache_size() for f in steps] == sizes


def test_rho_map_runs_each_instance_as_it_would_run_alone(tmp_path):
    """The map batches instances of different rho (padded block schedules) in one program: instance 0 of
    rho = 0.8 must get the regret it gets alone, and the table and figure must be written."""
    from experiments.dlb import rho_map
    from experiments.dlb.configs import rho_map as rho_map_config

    c = rho_map_config.get_config()
    c.rhos, c.instances, c.horizon, c.segments, c.chunks = (0.3, 0.8), 2, 400, 10, 1
    c.methods, c.radius_scales, c.workdir = "dynlin_ucb_1", (0.5,), str(tmp_path)
    c.simulate = "rounds"  # the same random numbers batched and alone (holds draw theirs by batch's groups)
    frame = rho_map.run(c, progress=False)
    assert len(frame) == 2 * 4 and set(frame["method"]) == {"dynlin_ucb_1", "dynlin_ucb_1_x0.5"}
    found, _, arms = rho_map.instances(c)
    alone = linear.params(found[2], arms, c.horizon, budget=c.daily_budget)
    keys = jax.random.split(jax.random.PRNGKey(c.seed), 4)
    agent_keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(c.seed), 1), 4)
    r = core.run_many(linear.AGENT, alone, found[2], arms, keys[2:3], agent_keys[2:3], c.horizon, c.segments)
    row = frame[(frame.method == "dynlin_ucb_1") & (frame.rho == 0.8) & (frame.instance == 0)]
    np.testing.assert_allclose(row["regret_T"].to_numpy(), core.cumulative(r.regret)[:, -1], rtol=1e-12)
    assert (tmp_path / "rho_map.png").stat().st_size > 1000 and "ρ = 0.8" in (tmp_path / "rho_map.md").read_text()
    np.testing.assert_allclose(rho_map.growth(np.array([100.0, 10.0]), np.array([10.0, 10.0])), [1.0, 0.0])
    with pytest.raises(ValueError, match="every rho must be in"):
        rho_map.instances(_with(c, rhos=(0.5, 1.0)))


def _with(c, **overrides):
    c = c.copy_and_resolve_references()
    c.update(overrides)
    return c


def test_hold_schedule_ends_holds_at_decisions_and_segment_ends():
    """Decisions after rounds 0, 1, 2, 9 (and 50, past the horizon); T = 12 in 2 segments of 6: holds of
    1, 1, 1, 3 rounds in segment 0 and 4, 2 in segment 1; groups of 2 (the median 3 holds rounded down to
    a power of two); chunk 1 gets an all-padding group so that both chunks have 2 groups."""
    s = core.hold_schedule(np.array([0, 1, 2, 9, 50]), 12, 2, chunks=2)
    np.testing.assert_array_equal(s.lengths, [[[1, 1], [1, 3]], [[4, 2], [0, 0]]])
    np.testing.assert_array_equal(s.segment, [[0, 0], [0, 0]])
    one = core.hold_schedule(np.array([0, 1, 2, 9]), 12, 2, group=4)
    np.testing.assert_array_equal(one.lengths, [[[1, 1, 1, 3], [4, 2, 0, 0]]])
    np.testing.assert_array_equal(one.segment, [[0, 1]])
    with pytest.raises(ValueError, match="must divide into segments"):
        core.hold_schedule(np.array([3]), 12, 5)


def test_a_hold_is_its_rounds_in_distribution():
    """Two holds (e0 for rounds 0-4 from x0 != 0, then e1 for rounds 5-7), simulated whole by `dlb.hold`
    and round by round by the environment over 20,000 noise keys each: the rewards the agent reads
    (rounds 4 and 7) must agree in mean, std and correlation, and the holds' sums of expected rewards
    must equal the per-round sums exactly."""
    instance = dlb.make_instance(np.array([[0.9, 0.1], [0.0, 0.5]]), np.array([[0.2, 1.0], [1.0, -0.3]]),
                                 theta=np.array([0.3, -0.2]), omega=np.array([1.0, 1.0]), x0=np.array([1.0, -0.5]),
                                 state_noise_std=0.3, reward_noise_std=0.05)  # the state's noise dominates
    arms = np.eye(2)
    holds = ((0, 5, 0), (5, 3, 1))  # (first round, rounds, arm)
    draws = 20_000
    with jax.enable_x64(True):
        env = dlb.DynamicalLinearBandit(instance, arms)
        tables = dlb.held_transitions(instance, 8)

        def by_rounds(key):
            plan = jnp.asarray([0] * 5 + [1] * 3)

            def step(s, arm):
                s = env.step(s, jnp.asarray(arms, float)[arm])
                return s, (s.reward, s.metrics["expected_reward"])

            return jax.lax.scan(step, env.reset(key), plan)[1]

        def by_holds(key):
            state, out = dlb.held_reset(instance, key), []
            for first, rounds, arm in holds:
                noise = dlb.held_noise(instance, state, jnp.asarray(first), 1)[0]
                state, reward, expected = dlb.hold(instance, tables, state, jnp.asarray(arms[arm], float),
                                                   jnp.asarray(first), jnp.asarray(rounds), noise)
                out.append((reward, expected))
            return jnp.stack([o[0] for o in out]), jnp.stack([o[1] for o in out])

        keys = jax.random.split(jax.random.PRNGKey(0), draws)
        rewards, expected = jax.jit(jax.vmap(by_rounds))(keys)
        held_rewards, held_expected = jax.jit(jax.vmap(by_holds))(jax.random.split(jax.random.PRNGKey(1), draws))
    rounds_rewards = np.asarray(rewards)[:, [4, 7]]
    held_rewards = np.asarray(held_rewards)
    np.testing.assert_allclose(np.asarray(held_expected[0]),
                               [np.asarray(expected[0, :5]).sum(), np.asarray(expected[0, 5:]).sum()], rtol=1e-12)
    se = np.sqrt(rounds_rewards.var(0) / draws + held_rewards.var(0) / draws)
    assert (np.abs(rounds_rewards.mean(0) - held_rewards.mean(0)) < 4 * se).all()
    np.testing.assert_allclose(held_rewards.std(0), rounds_rewards.std(0), rtol=0.03)
    corr = lambda r: np.corrcoef(r.T)[0, 1]  # noqa: E731  the two rewards share the state's noise
    assert abs(corr(rounds_rewards)) > 0.1
    assert abs(corr(held_rewards) - corr(rounds_rewards)) < 0.04


def test_holds_give_the_rounds_regrets_without_noise():
    """On a noise-free instance DynLin-UCB is deterministic, so simulating by holds (in 2 chunks) must give
    the per-round simulation's regrets and arm counts."""
    instance = dlb.random_instance(1, 3, 3, 0.8, noise_std=0.0)
    arms = dlb.budget_arms()
    horizon = 2000
    p = linear.params(instance, arms, horizon, lam=1.0, sigma=0.01)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    by_rounds = core.run_many(linear.AGENT, p, instance, arms, keys, keys, horizon, 10)
    by_holds = core.run_many(linear.AGENT, p, instance, arms, keys, keys, horizon, 10, simulate="holds", chunks=2)
    np.testing.assert_allclose(by_holds.regret, by_rounds.regret, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(by_holds.steady_regret, by_rounds.steady_regret, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(by_holds.arm_counts, by_rounds.arm_counts)
    assert len(set(np.argmax(by_rounds.arm_counts, 1))) >= 1 and (by_rounds.arm_counts > 0).sum() > 3


def test_holds_give_the_rounds_regret_distribution(slow_dynamics):
    """With noise the two simulations use other random numbers: DynLin-UCB's final regrets over 400 runs
    must come from the same distribution (two-sample KS, fixed keys) with means within 4 standard errors."""
    from scipy import stats

    instance, arms = slow_dynamics
    horizon, runs = 2000, 400
    p = linear.params(instance, arms, horizon, lam=1.0)
    keys = jax.random.split(jax.random.PRNGKey(7), runs)
    final = {simulate: core.cumulative(core.run_many(linear.AGENT, p, instance, arms, keys, keys, horizon, 10,
                                                     simulate=simulate).regret)[:, -1]
             for simulate in ("rounds", "holds")}
    # the regrets take few values (the block's arms), summed in another order by each: round off the last bits
    a, b = np.round(final["rounds"], 6), np.round(final["holds"], 6)
    assert a.std() > 1.0  # the regrets do vary from run to run
    assert stats.ks_2samp(a, b).pvalue > 1e-3, (a.mean(), b.mean())
    assert abs(a.mean() - b.mean()) < 4 * np.sqrt(a.var() / runs + b.var() / runs)
    with pytest.raises(ValueError, match="has no decision_rounds"):
        core.run_many(classic.EXP3, classic.exp3_params(instance, arms, horizon, batched=True), instance, arms,
                      keys[:2], keys[:2], horizon, 10, simulate="holds")
    with pytest.raises(ValueError, match="simulate must be 'rounds' or 'holds'"):
        core.run_many(linear.AGENT, p, instance, arms, keys[:2], keys[:2], horizon, 10, simulate="blocks")


def test_batched_holds_of_different_rho_give_each_instance_its_rounds_regrets_without_noise():
    """Noise-free instances of rho 0.5 and 0.9 (block schedules of different lengths, padded, one group size)
    simulated by holds in one program give the regrets each gets alone round by round; and the driver
    simulates by holds only the agents that hold their arm."""
    from experiments.dlb import main as dlb_main

    horizon = 1000
    instances = [dlb.random_instance(s, 2, 2, rho=r, noise_std=0.0) for s, r in ((0, 0.5), (1, 0.9))]
    arms = np.eye(2)
    longest = max(len(core.block_ends(dlb.spectral_radius(i.A), horizon)) for i in instances)
    params = [linear.params(i, arms, horizon, sigma=0.01, pad_to=longest) for i in instances]
    stacked = jax.tree.map(lambda *x: np.stack(x), *params)
    keys = jax.random.split(jax.random.PRNGKey(2), 2)
    batched = core.run_many(linear.AGENT, stacked, dlb.stack(instances), arms, keys, keys, horizon, 10,
                            params_batched=True, instance_batched=True, simulate="holds")
    for i in range(2):
        alone = core.run_many(linear.AGENT, params[i], instances[i], arms, keys[i:i + 1], keys[i:i + 1], horizon, 10)
        np.testing.assert_allclose(batched.regret[i], alone.regret[0], rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(batched.arm_counts[i], alone.arm_counts[0])
    linucb = linear.params(instances[0], arms, horizon, radius="linucb", blocks=False)
    assert dlb_main.simulation("holds", linear.AGENT, stacked, horizon) == "holds"
    assert dlb_main.simulation("holds", linear.AGENT, linucb, horizon) == "rounds"  # one-round blocks
    assert dlb_main.simulation("holds", classic.EXP3, None, horizon) == "rounds"
    assert dlb_main.simulation("rounds", linear.AGENT, params[0], horizon) == "rounds"
    with pytest.raises(ValueError, match="config.simulate must be"):
        dlb_main.simulation("hold", linear.AGENT, params[0], horizon)
