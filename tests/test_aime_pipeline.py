"""The AIME pipeline end to end on PointReach: every phase, the outputs, a resumed world
model equal bit for bit to an unbroken one, and clear refusals of mismatched data."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import envs
from envs import datasets
from envs.rollout import random_policy
from envs.toy import point_reach_expert
from experiments.aime import main as aime
from experiments.aime_v2 import main as aime_v2
from experiments.aime.configs import aime_cpu
from experiments.aime_v2.configs import aime_v2_cpu
from experiments.launch.validation import ConfigError


expert = point_reach_expert()


@pytest.fixture(scope="module")
def point_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("aime_data")
    env, spec = envs.make("PointReach")
    datasets.save(datasets.record(env, expert, jax.random.PRNGKey(0), 16, "demonstrations"), root / "demos.npz")
    datasets.save(datasets.record(env, random_policy(spec), jax.random.PRNGKey(1), 64, "embodiment"),
                  root / "embodiment_random.npz")
    return root


def tiny_config(root, workdir, wm_updates=500):
    c = aime_cpu.get_config()
    c.demos, c.embodiment, c.workdir = str(root / "demos.npz"), str(root / "embodiment_random.npz"), str(workdir)
    m = c.world_model.model
    m.deter = m.hidden = m.encoder_hidden = m.decoder_hidden = 32
    m.stoch = 4
    c.world_model.num_updates, c.imitation.num_updates = wm_updates, 750
    c.world_model.seq_len = c.imitation.seq_len = 20
    c.world_model.batch_size = c.imitation.batch_size = 16
    c.imitation.num_demos, c.imitation.hidden_sizes = 16, (64, 64)
    # the paper's action prior: with this tiny world model (500 updates) the released objective's policy
    # finds actions that exploit the model and runs from the goal (returns -29 to -39 when measured)
    c.imitation.action_prior = "uniform"
    c.bco.idm_updates = c.bco.policy_updates = 500
    c.chunk_updates, c.eval_episodes = 250, 8
    return c


@pytest.fixture(scope="module")
def aime_run(point_data, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("aime_run") / "run"
    return workdir, aime.main_run(tiny_config(point_data, workdir), "all")


def test_pipeline_runs_every_phase_and_aime_imitates(aime_run):
    workdir, summary = aime_run
    for name in ("results.json", "table.md", "results.png", "world_model.png", "config.json"):
        assert (workdir / name).exists(), name
    assert json.loads((workdir / "results.json").read_text()) == summary
    returns = {k: np.mean(v) for k, v in summary["return_per_seed"].items()}
    assert len(summary["return_per_seed"]["aime"]) == 3
    # zero-shot from observations alone: above the random policy on every seed, far above it on average
    assert min(summary["return_per_seed"]["aime"]) > 1.5 * returns["random"], summary["return_per_seed"]
    assert returns["aime"] > 3 * returns["random"], summary["return_per_seed"]
    assert returns["bc_oracle"] > 0.9 * summary["expert_return"]
    # BCO(0) (stack 1, the reference's mdp setup): its inverse model learns PointReach's dynamics from random play,
    # so its labels are near the expert's actions and it imitates nearly as well as BC with the true actions
    assert returns["bco"] > 0.8 * returns["bc_oracle"], summary["return_per_seed"]
    # the held-out open-loop error grows with the horizon
    err = summary["heldout_open_loop_mse"]
    assert err[-1] > err[0]


def test_world_model_resumes_bit_for_bit(point_data, tmp_path):
    unbroken = aime.phase_model(aime.Setup(tiny_config(point_data, tmp_path / "a", wm_updates=500)))
    aime.phase_model(aime.Setup(tiny_config(point_data, tmp_path / "b", wm_updates=250)))      # "killed" after 250
    resumed = aime.phase_model(aime.Setup(tiny_config(point_data, tmp_path / "b", wm_updates=500)))
    assert resumed.timings["resumed_from"] == 250 and len(resumed.metrics) == 3 * 500
    for x, y in zip(jax.tree.leaves(unbroken.carry), jax.tree.leaves(resumed.carry)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_a_changed_config_is_refused_not_resumed(aime_run, point_data):
    """A rerun on the run's directory with another learning rate, or another model width, is refused with
    the keys that differ; the checkpoints are left as they are (not treated as damaged)."""
    workdir, _ = aime_run
    steps = sorted(p.name for p in (workdir / "world_model").iterdir())
    for key, value in (("world_model.lr", 0.03), ("world_model.model.deter", 64)):
        c = tiny_config(point_data, workdir)
        node, *path = key.split(".")
        target = c[node]
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        with pytest.raises(ConfigError, match=rf"differs at \['{key}'\]"):
            aime.main_run(c, "all")
    assert sorted(p.name for p in (workdir / "world_model").iterdir()) == steps
    assert not (workdir.parent / "corrupt_checkpoints").exists() and not (workdir / "corrupt_checkpoints").exists()


def test_refuses_mismatched_or_short_data(point_data, tmp_path):
    c = tiny_config(point_data, tmp_path / "bad")
    c.imitation.num_demos = 17
    with pytest.raises(ValueError, match="holds 16 demonstrations"):
        aime.Setup(c)
    env, spec = envs.make("PointReach", dim=3)
    datasets.save(datasets.record(env, random_policy(spec), jax.random.PRNGKey(1), 4, "embodiment"),
                  tmp_path / "other.npz")
    c = tiny_config(point_data, tmp_path / "bad")
    c.embodiment = str(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="disagree on obs_shape"):
        aime.Setup(c)
    env, spec = envs.make("PointReachTerminal")
    datasets.save(datasets.record(env, random_policy(spec), jax.random.PRNGKey(1), 4, "embodiment"),
                  tmp_path / "other_body.npz")
    c.embodiment = str(tmp_path / "other_body.npz")
    with pytest.raises(ValueError, match="are of different bodies"):
        aime.Setup(c)
    c.embodiment = str(point_data / "demos.npz")
    with pytest.raises(datasets.DatasetError, match="expected 'embodiment'"):
        aime.Setup(c)


def test_aime_v2_runs_its_variants_from_the_aime_run_and_resumes(aime_run, tmp_path):
    workdir, summary = aime_run
    c = aime_v2_cpu.get_config()
    c.aime_run, c.workdir, c.variants = str(workdir), str(tmp_path / "v2"), "full,plain"
    a = c.agent
    a.num_iterations, a.num_envs, a.updates_per_episode, a.eval_every, a.eval_episodes = 6, 2, 20, 3, 4
    a.batch_size = a.imitation.batch_size = 8
    a.seq_len = a.imitation.seq_len = 10
    a.imagine_starts, a.likelihood_updates, a.reward_hidden_sizes = 16, 250, (32, 32)
    # AIME's run used the paper's action prior; with the reference's weak AIME-v2 entropy term (1e-4) this tiny
    # world model is exploited online and every seed falls below zero-shot (measured), so keep AIME's prior here
    a.imitation.action_prior, a.imitation.action_prior_scale = "uniform", 1.0
    results = aime_v2.main_run(c)
    for name in ("curves.png", "table.md", "full/eval.json", "plain/eval.json"):
        assert (tmp_path / "v2" / name).exists(), name
    full, plain = (np.asarray(r["eval_return"]) for r in results)
    assert full.shape == plain.shape == (3, 3)  # seeds x (zero-shot + 2 iterations)
    assert results[0]["env_steps"] == [0, 300, 600]
    # before any interaction both variants are the same zero-shot AIME policy
    np.testing.assert_array_equal(full[:, 0], plain[:, 0])
    # online interaction improves on zero-shot AIME (measured: 13.9 -> 20.7 mean over seeds)
    assert full[:, -1].mean() > 1.25 * full[:, 0].mean(), full
    assert not np.array_equal(full[:, 1:], plain[:, 1:])
    # a rerun finds every stage finished and gives back the same results
    again = aime_v2.main_run(c)
    for r1, r2 in zip(results, again):
        assert r1 == r2
