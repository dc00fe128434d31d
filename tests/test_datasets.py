"""Dataset format: record, save, load; clear errors on bad files; experts and the record command."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import envs
from envs import datasets


@pytest.fixture(scope="module")
def terminal_data():
    env, spec = envs.make("PointReachTerminal", episode_length=40, reset_mode="none")
    # pushing outwards at full speed leaves the radius-1.5 disc after ~15 steps: episodes terminate
    push = lambda obs, k: np.ones(obs.shape[:-1] + spec.action_shape, np.float32)  # noqa: E731
    return datasets.record(env, push, jax.random.PRNGKey(0), 5, "demonstrations", policy_name="push")


def test_record_cuts_terminated_episodes_and_pads(terminal_data):
    d = terminal_data
    assert d.obs.shape == (5, 41, 4) and d.actions.shape == (5, 40, 2) and d.rewards.shape == (5, 40)
    lengths = np.asarray(d.lengths)
    assert np.all((lengths > 5) & (lengths < 40)), lengths
    for e, n in enumerate(lengths):
        pos = d.obs[e, :, :2]
        assert np.linalg.norm(pos[n]) > 1.5 >= np.linalg.norm(pos[n - 1])  # the terminal successor is kept
        np.testing.assert_array_equal(d.obs[e, n:], np.broadcast_to(d.obs[e, n], d.obs[e, n:].shape))  # padding
        assert np.all(d.actions[e, n:] == 0) and np.all(d.rewards[e, n:] == 0)
    np.testing.assert_allclose(d.metadata["returns"], d.rewards.sum(1), rtol=1e-5)
    np.testing.assert_array_equal(d.mask().sum(1), lengths)


def test_save_load_round_trip_hides_oracle_actions(terminal_data, tmp_path):
    path = datasets.save(terminal_data, tmp_path / "demos")
    assert path.name == "demos.npz"
    d = datasets.load(path)
    assert d.actions is None and d.rewards is None
    np.testing.assert_array_equal(d.obs, terminal_data.obs)
    o = datasets.load(path, oracle=True, kind="demonstrations")
    np.testing.assert_array_equal(o.actions, terminal_data.actions)
    with pytest.raises(datasets.DatasetError, match="expected 'embodiment'"):
        datasets.load(path, kind="embodiment")


def _rewrite(path, out, mutate):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    mutate(arrays)
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: a.pop("metadata"), "no 'metadata' record"),
        (lambda a: a.__setitem__("obs", a["obs"][:, :-1]), "array 'obs' has shape"),
        (lambda a: a.pop("oracle/actions"), "missing array 'oracle/actions'"),
        (lambda a: a["obs"].__setitem__((0, 3, 1), np.nan), "NaN"),
        (lambda a: a.__setitem__("metadata", np.frombuffer(b"{not json", np.uint8)), "not valid JSON"),
        (lambda a: a.__setitem__("metadata", np.frombuffer(
            json.dumps({**json.loads(a["metadata"].tobytes()), "format_version": 9}).encode(), np.uint8)),
         "format_version 9"),
    ],
    ids=["no-metadata", "bad-shape", "missing-array", "nan", "bad-json", "version"],
)
def test_load_names_the_problem(terminal_data, tmp_path, mutate, message):
    good = datasets.save(terminal_data, tmp_path / "good.npz")
    bad = _rewrite(good, tmp_path / "bad.npz", mutate)
    with pytest.raises(datasets.DatasetError, match=message):
        datasets.load(bad)


def test_load_refuses_missing_and_corrupt_files(tmp_path):
    with pytest.raises(datasets.DatasetError, match="no such dataset file"):
        datasets.load(tmp_path / "absent.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(datasets.DatasetError, match="not a readable .npz"):
        datasets.load(corrupt)


def test_expert_save_load_and_record_command(tmp_path):
    """A tiny PPO expert through the expert and record commands' functions, end to end."""
    from experiments.launch import expert as expert_lib
    from experiments.launch import record
    from experiments.backbones.configs import ppo as ppo_config

    config = ppo_config.get_config()
    config.task = "PointReach"
    config.env.episode_length = 25
    config.env.num_envs = 16
    config.agent.rollout_length = 25
    config.agent.total_env_steps = 16 * 25 * 60
    config.agent.learning_rate = 3e-3
    config.agent.hidden_sizes = (32, 32)
    config.num_seeds = 2
    config.eval_episodes = 16
    config.workdir = str(tmp_path / "run")
    path = expert_lib.train_expert(config, tmp_path / "expert", progress=False)

    expert = expert_lib.load(path)
    summary = json.loads((path / "summary.json").read_text())
    # the run directory it came from plots as a grid panel (two seeds, one panel)
    from experiments.launch import plotting

    grid = plotting.run_grid([summary["run_dir"]], tmp_path / "grid.png")
    assert grid.stat().st_size > 10_000
    assert summary["expert_eval_return"] == max(summary["eval_return_per_member"])
    written = record.record_all(str(path), str(tmp_path / "data"), demos=8, embodiment="mixed",
                                embodiment_episodes=12)
    demos = datasets.load(written["demos"], oracle=True)
    emb = datasets.load(written["embodiment"], kind="embodiment")
    assert demos.obs.shape == (8, 26, 4) and emb.actions.shape == (12, 25, 2)
    # the loaded expert is the trained one: its demonstrations score like its evaluation, far above random
    env, spec = expert.make_env()
    random_return = float(np.mean(datasets.record(env, envs.random_policy(spec), jax.random.PRNGKey(3), 64,
                                                  "embodiment").metadata["returns"]))
    assert np.mean(demos.metadata["returns"]) > max(15.0, random_return + 8.0)
    assert abs(np.mean(demos.metadata["returns"]) - summary["expert_eval_return"]) < 3.0
    # mixed play spans near-expert to near-random behaviour
    assert random_return < np.mean(emb.metadata["returns"]) < np.mean(demos.metadata["returns"])
