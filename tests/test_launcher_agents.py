"""The off-policy agents through the launcher, interrupted and resumed bit for bit: CIP with SAC beside
it in one program (a grid over `parts_on`), and ADS with the OT reward and with GAIfO. On PointReach,
so nothing waits for an MJX compile."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

import envs
from envs import datasets, toy
from experiments.ads.configs import ads as ads_config
from experiments.cip.configs import cip as cip_config
from experiments.launch import checkpoints
from experiments.launch import run as run_lib

HORIZON = 20


class _Interrupted(Exception):
    pass


def interrupted_then_resumed(config, kill_after: int, monkeypatch):
    """Run `config`, stopped right after the checkpoint of iteration `kill_after`, then rerun it to the end."""

    class KilledAfter(checkpoints.CheckpointStore):
        def save(self, iteration, carry, history):
            super().save(iteration, carry, history)
            if iteration == kill_after:
                raise _Interrupted

    monkeypatch.setattr(run_lib, "CheckpointStore", KilledAfter)
    with pytest.raises(_Interrupted):
        run_lib.run(config, progress=False)
    monkeypatch.undo()
    assert not (Path(config.workdir) / "summary.json").exists()
    return run_lib.run(config, progress=False)


def assert_same_run(a: run_lib.RunResult, b: run_lib.RunResult) -> None:
    pd.testing.assert_frame_equal(pd.read_parquet(a.workdir / "metrics.parquet"),
                                  pd.read_parquet(b.workdir / "metrics.parquet"))
    for x, y in zip(jax.tree.leaves(a.carry), jax.tree.leaves(b.carry)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert a.summary["eval_return_per_member"] == b.summary["eval_return_per_member"]


def tiny_cip(workdir):
    c = cip_config.get_config()
    c.task, c.num_seeds, c.workdir = "PointReach", 1, str(workdir)
    c.env.num_envs, c.env.episode_length = 4, HORIZON
    a = c.agent
    a.hidden_sizes, a.inverse_hidden_sizes, a.batch_size = (16, 16), (16, 16), 16
    a.total_env_steps, a.learning_starts, a.replay_capacity = 600, 200, 1000
    a.discovery_every = a.discovery_first = a.discovery_window = 200
    a.empowerment_warmup, a.reset_interval, a.reset_first = 50, 100, 150
    c.grid.parts_on = [0.0, 1.0]  # SAC and CIP as two members of one program
    c.chunk_iterations, c.checkpoint_interval_s, c.eval_episodes = 25, 0.0, 2
    return c


def test_cip_and_sac_in_one_program_resume_bit_for_bit(tmp_path, monkeypatch):
    unbroken = run_lib.run(tiny_cip(tmp_path / "unbroken"), progress=False)
    resumed = interrupted_then_resumed(tiny_cip(tmp_path / "resumed"), 50, monkeypatch)
    assert resumed.summary["resumed_from"] == 50
    assert_same_run(unbroken, resumed)
    metrics = pd.read_parquet(unbroken.workdir / "metrics.parquet")
    last = metrics[metrics.iteration == metrics.iteration.max()].set_index("agent.parts_on")
    assert (last.discoveries == 2).all() and (last.resets >= 1).all()  # CIP's hook acted, at 200 and 400 steps


@pytest.fixture(scope="module")
def point_demos(tmp_path_factory):
    env, _ = envs.make("PointReach", episode_length=HORIZON, reset_mode="none")
    path = tmp_path_factory.mktemp("ads_data") / "demos.npz"
    datasets.save(datasets.record(env, toy.point_reach_expert(), jax.random.PRNGKey(0), 4, "demonstrations"), path)
    return path


TINY_ADS = """
from experiments.ads.configs import ads

def get_config():
    c = ads.get_config()
    c.task, c.num_seeds = "PointReach", 2
    c.env.num_envs, c.env.episode_length = 3, {horizon}
    a = c.agent
    a.demos, a.reward, a.num_demos = r"{demos}", "{reward}", 4
    a.hidden_sizes, a.disc_hidden_sizes, a.feature_dim, a.batch_size, a.disc_batch_size = (32, 32), (32,), 16, 16, 8
    a.total_env_steps, a.learning_starts, a.replay_capacity, a.replay_ratio = 3 * {horizon} * 17, 3 * {horizon}, 1200, 0.1
    c.chunk_iterations, c.checkpoint_interval_s, c.eval_episodes = 2, 0.0, 2
    return c
"""


def ads_config_file(tmp_path, demos, reward: str):
    path = tmp_path / f"ads_{reward}.py"
    path.write_text(textwrap.dedent(TINY_ADS.format(horizon=HORIZON, demos=demos, reward=reward)))
    return path


@pytest.mark.parametrize("reward, columns", [("ot", {"progress", "discount", "eval_return", "imitation_return"}),
                                             ("gaifo", {"disc_loss"})])
def test_ads_resumes_bit_for_bit(tmp_path, point_demos, monkeypatch, reward, columns):
    """ADS with the OT reward and its recogniser, and with GAIfO, stopped after a checkpoint and rerun.
    (A real SIGKILL mid-save is `tests/test_launcher.py`'s; here what must survive is ADS's own state.)"""
    from experiments.launch import cli

    config_file = ads_config_file(tmp_path, point_demos, reward)
    unbroken_config, resumed_config = cli.load(str(config_file)), cli.load(str(config_file))
    unbroken_config.workdir, resumed_config.workdir = str(tmp_path / "unbroken"), str(tmp_path / "resumed")
    unbroken = run_lib.run(unbroken_config, progress=False)
    resumed = interrupted_then_resumed(resumed_config, 8, monkeypatch)
    assert resumed.summary["resumed_from"] == 8
    assert_same_run(unbroken, resumed)
    assert columns <= set(pd.read_parquet(unbroken.workdir / "metrics.parquet").columns)


def test_ads_refuses_demonstrations_of_another_task(tmp_path, point_demos):
    config = ads_config.get_config()
    config.task, config.workdir = "PointReachTerminal", str(tmp_path / "never")
    config.env.episode_length, config.agent.demos = HORIZON, str(point_demos)
    with pytest.raises(run_lib.validation.ConfigError, match="do not belong to this run: task 'PointReach' in the "
                                                              "dataset, 'PointReachTerminal' in the run"):
        run_lib.run(config, progress=False)
    assert not (tmp_path / "never").exists()
