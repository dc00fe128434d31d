"""The experiment system: config refusals, checkpoints and resume, NaN stop, sharding, sweeps, results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from conftest import REPO, kill_mid_run_then_finish
from algos.common import loop as algo_loop
from experiments.launch import checkpoints, loop, results, sweep, validation
from experiments.launch import run as run_lib
from experiments.backbones.configs import ppo_pointreach

CONFIG_FILE = os.path.join(REPO, "experiments", "backbones", "configs", "ppo_pointreach.py")


def tiny(workdir, **overrides):
    config = ppo_pointreach.get_config()
    config.workdir = str(workdir)
    for key, value in overrides.items():
        node = config
        *path, leaf = key.split(".")
        for part in path:
            node = node[part]
        node[leaf] = value
    return config


def _final_fingerprint(workdir) -> int:
    step = _final_iteration(workdir)
    return json.loads((workdir / "checkpoints" / str(step) / "meta" / "metadata").read_text())["fingerprint"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An unbroken run of the tiny config (12 iterations, a checkpoint every 2)."""
    workdir = tmp_path_factory.mktemp("reference")
    result = run_lib.run(tiny(workdir), progress=False)
    return result, pd.read_parquet(workdir / "metrics.parquet")


# ---------------------------------------------------------------------------------- configs


@pytest.mark.parametrize("change, message", [
    (lambda c: setattr(c, "algo", "sacc"), "unknown algo 'sacc'. Did you mean 'sac'? Valid algos: ['ads', 'cip', 'ddpg', 'ppo', 'sac']"),
    (lambda c: setattr(c, "task", "PointRech"), "unknown task 'PointRech'. Did you mean 'PointReach'"),
    (lambda c: c.agent.__setitem__("learning_rat", 1e-3), "unknown key 'agent.learning_rat' for algo 'ppo'. Did you mean 'learning_rate'?"),
    (lambda c: c.__setitem__("chunk_size", 3), "unknown key '.chunk_size'"),
    (lambda c: c.env.__setitem__("episode_lenght", 3), "does not take override(s) ['episode_lenght']"),
    (lambda c: c.grid.__setitem__("hidden_sizes", [1, 2]), "grid key 'hidden_sizes' is not a numeric hyperparameter"),
    (lambda c: c.agent.__setitem__("num_minibatches", 7), "not divisible by num_minibatches = 7"),
    (lambda c: c.__setitem__("num_seeds", 0), "config.num_seeds = 0 is outside its valid range [1, inf)"),
    # a budget, a rollout, an episode or a repeat of zero: refused, not trained for 400 steps or taken as the default
    (lambda c: c.agent.__setitem__("total_env_steps", 0), "config.agent.total_env_steps = 0 is outside its valid range [1, inf)"),
    (lambda c: c.agent.__setitem__("total_env_steps", -5), "config.agent.total_env_steps = -5 is outside"),
    (lambda c: c.agent.__setitem__("rollout_length", 0), "config.agent.rollout_length = 0 is outside its valid range [1, inf)"),
    (lambda c: c.env.__setitem__("episode_length", 0), "config.env.episode_length = 0 is outside its valid range [1, inf)"),
    (lambda c: c.env.__setitem__("action_repeat", 0), "config.env.action_repeat = 0 is outside its valid range [1, inf)"),
    # a negative learning rate would train gradient ascent; NaN would only show once training starts
    (lambda c: c.agent.__setitem__("learning_rate", -1e-3), "config.agent.learning_rate = -0.001 is outside its valid range (0, inf)"),
    (lambda c: c.agent.__setitem__("learning_rate", float("nan")), "config.agent.learning_rate = nan is outside its valid range (0, inf)"),
    (lambda c: c.agent.__setitem__("gamma", 1.5), "config.agent.gamma = 1.5 is outside its valid range [0, 1]"),
    (lambda c: c.grid.__setitem__("learning_rate", [1e-3, -1.0]), "grid.learning_rate has values [-1.0] outside the valid range (0, inf)"),
])
def test_config_refusals_name_the_valid_choices(tmp_path, change, message):
    config = tiny(tmp_path)
    config.unlock()
    change(config)
    with pytest.raises(validation.ConfigError) as info:
        run_lib.run(config, progress=False)
    assert message in str(info.value).replace("unknown key 'chunk_size'", "unknown key '.chunk_size'")
    assert not (tmp_path / "config.json").exists()  # refused before the run directory was claimed


def test_command_line_refuses_unknown_keys_and_wrong_types():
    def cli(*args):
        proc = subprocess.run([sys.executable, "-m", "experiments.launch.run", f"--config={CONFIG_FILE}", *args],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0
        return proc.stderr

    err = cli("--config.agent.lr=1e-3")
    assert "unknown config key 'agent.lr': agent has no 'lr'" in err and "'learning_rate'" in err
    assert "Traceback" not in err
    assert "could not convert string to float: 'fast'" in cli("--config.agent.learning_rate=fast")


def test_command_line_overrides_apply_before_or_after_the_config_file(tmp_path):
    """absl used to refuse `--config.x=...` before `--config=FILE`; the override must reach the config either way."""
    workdir = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "experiments.launch.run", "--config.agent.total_env_steps=0",
                           f"--config={CONFIG_FILE}", f"--config.workdir={workdir}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "error: config.agent.total_env_steps = 0 is outside its valid range [1, inf)" in proc.stderr
    assert "Traceback" not in proc.stderr and not workdir.exists()


def test_a_damaged_config_json_is_refused_by_name(reference, tmp_path):
    workdir = tmp_path / "damaged"
    workdir.mkdir()
    (workdir / "config.json").write_text('{"algo": "ppo", "task": ')  # a write cut short
    with pytest.raises(validation.ConfigError, match=r"config.json is not valid JSON .*damaged"):
        run_lib.run(tiny(workdir), progress=False)


def test_a_moved_run_directory_resumes(reference, tmp_path):
    """`workdir` is where a run is, not what it computes: a copy elsewhere is the same run."""
    result, metrics = reference
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(result.workdir, moved)
    again = run_lib.run(tiny(moved), progress=False)
    assert again.summary["resumed_from"] == 12  # restored and re-evaluated, not retrained
    pd.testing.assert_frame_equal(pd.read_parquet(moved / "metrics.parquet"), metrics)


def test_a_run_in_which_no_episode_ends_finishes_with_its_plot_and_summary(tmp_path, capsys):
    config = tiny(tmp_path / "run", **{"env.episode_length": 100_000, "eval_episodes": 1})
    result = run_lib.run(config, progress=True)
    assert result.summary["training_episodes_ended"] == 0
    assert (result.workdir / "learning_curve.png").stat().st_size > 5_000
    assert "no training episode ended within the budget" in capsys.readouterr().out


def test_one_diverging_member_is_frozen_and_the_others_finish(tmp_path):
    """A grid over learning rates where 1e30 sends member 1's metrics to NaN at once."""
    config = tiny(tmp_path / "grid")
    config.grid.learning_rate = [1e-3, 1e30]
    result = run_lib.run(config, progress=False)
    assert result.summary["failed_members"] == {"1": 1}
    metrics = pd.read_parquet(result.workdir / "metrics.parquet")
    healthy, frozen = (metrics[metrics.member == m] for m in (0, 1))
    assert len(healthy) == len(frozen) == 12 and healthy.policy_loss.notna().all() and frozen.policy_loss.isna().all()
    assert (frozen.member_frozen == 1).all() and (healthy.member_frozen == 0).all()
    table = pd.read_parquet(result.workdir / "eval.parquet")
    assert table.failed_at_iteration.tolist()[1] == 1 and np.isnan(table.failed_at_iteration.tolist()[0])
    assert np.isfinite(table.eval_return).all()  # the frozen member kept its last good (initial) state
    # its parameters are those of a fresh initialisation, the healthy member's have moved
    fresh = jax.jit(jax.vmap(result_learner_init(config)))(*run_lib.member_keys(config, result.members)[:1],
                                                          {"learning_rate": jnp.asarray([1e-3, 1e30], jnp.float32)})
    for f, a in zip(jax.tree.leaves(fresh.agent.params), jax.tree.leaves(result.carry.agent.params)):
        np.testing.assert_array_equal(np.asarray(f)[1], np.asarray(a)[1])


def result_learner_init(config):
    return validation.check(config).learner.init


def test_a_run_directory_with_another_config_is_refused(reference, tmp_path):
    result, _ = reference
    with pytest.raises(validation.ConfigError, match=r"differs at \['agent.learning_rate'\]"):
        run_lib.run(tiny(result.workdir, **{"agent.learning_rate": 1e-2}), progress=False)


# ------------------------------------------------------------------------------ checkpoints


def test_a_checkpoint_of_other_shapes_is_a_mismatch_not_corruption(tmp_path):
    store = checkpoints.CheckpointStore(tmp_path / "ckpt")
    store.save(2, {"w": jnp.ones((2, 64))}, {"loss": np.ones((2, 2))})
    with pytest.raises(checkpoints.CheckpointMismatch, match=r"leaf 00000: stored \(2, 64\), this run \(2, 128\)"):
        store.restore_latest(jax.eval_shape(lambda: {"w": jnp.ones((2, 128))}))
    assert store.steps() == [2] and not (tmp_path / "corrupt_checkpoints").exists()  # nothing moved
    store.close()


def test_checkpoint_store_round_trip_and_corrupt_fallback(tmp_path, capfd):
    store = checkpoints.CheckpointStore(tmp_path / "ckpt", keep=3)
    carry = lambda i: {"w": jnp.arange(6.0).reshape(2, 3) * i, "key": jax.random.split(jax.random.PRNGKey(i), 2),  # noqa: E731
                       "empty": jnp.zeros((2, 0)), "flag": jnp.array([True, False])}
    for i in (1, 2, 3, 4):
        store.save(10 * i, carry(i), {"loss": np.full((2, i), float(i))})
    assert store.steps() == [20, 30, 40]
    abstract = jax.eval_shape(lambda: carry(0))
    restored = store.restore_latest(abstract)
    assert restored.iteration == 40
    assert checkpoints.fingerprint(jax.device_get(restored.carry)) == checkpoints.fingerprint(jax.device_get(carry(4)))
    np.testing.assert_array_equal(restored.history["loss"], np.full((2, 4), 4.0))

    # flip bytes in the newest step's array data; make the next one unreadable
    data_files = [p for p in (tmp_path / "ckpt" / "40" / "carry").rglob("*") if p.is_file() and p.stat().st_size > 64]
    for path in data_files:
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
    shutil.rmtree(tmp_path / "ckpt" / "30" / "carry")
    with pytest.warns(RuntimeWarning, match="corrupt") as caught:
        restored = store.restore_latest(abstract)
    assert len(caught) == 2
    assert restored.iteration == 20
    assert checkpoints.fingerprint(jax.device_get(restored.carry)) == checkpoints.fingerprint(jax.device_get(carry(2)))
    assert sorted(p.name.split("_")[0] for p in (tmp_path / "corrupt_checkpoints").iterdir()) == ["30", "40"]
    assert store.steps() == [20]
    store.save(50, carry(5), {"loss": np.full((2, 5), 5.0)})  # the store keeps working after setting steps aside
    assert store.steps() == [20, 50]
    store.close()
    assert "Event loop is closed" not in capfd.readouterr().err  # no scare of tracebacks after a fallback


class _Interrupted(Exception):
    pass


def test_resume_after_interruption_is_bit_identical(reference, tmp_path, monkeypatch):
    """Killed between chunks after iteration 8, newest checkpoint then corrupted: resumes from 6."""
    result, metrics = reference
    workdir = tmp_path / "run"

    class KilledAfter8(checkpoints.CheckpointStore):
        def save(self, iteration, carry, history):
            super().save(iteration, carry, history)
            if iteration == 8:
                raise _Interrupted

    monkeypatch.setattr(run_lib, "CheckpointStore", KilledAfter8)
    with pytest.raises(_Interrupted):
        run_lib.run(tiny(workdir), progress=False)
    monkeypatch.undo()
    assert not (workdir / "summary.json").exists()
    assert sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()) == [4, 6, 8]
    shutil.rmtree(workdir / "checkpoints" / "8" / "history")  # a damaged newest checkpoint
    (workdir / "checkpoints" / "10.orbax-checkpoint-tmp-1").mkdir()  # a save the kill cut short

    with pytest.warns(RuntimeWarning, match="corrupt"):
        resumed = run_lib.run(tiny(workdir), progress=False)
    assert resumed.summary["resumed_from"] == 6
    pd.testing.assert_frame_equal(pd.read_parquet(workdir / "metrics.parquet"), metrics)
    for a, b in zip(jax.tree.leaves(resumed.carry), jax.tree.leaves(result.carry)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed.summary["eval_return_per_member"] == result.summary["eval_return_per_member"]


def test_resume_after_sigkill_is_bit_identical(tmp_path):
    """A real process killed by SIGKILL mid-run; the same command then finishes it."""
    overrides = ["--config.agent.total_env_steps=60000", "--config.chunk_iterations=4", "--config.eval_episodes=0"]
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    command = [sys.executable, "-m", "experiments.launch.run", f"--config={CONFIG_FILE}", *overrides]
    proc = subprocess.run([*command, f"--config.workdir={reference_dir}"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]

    summary = kill_mid_run_then_finish(command, killed_dir)
    assert 0 < summary["resumed_from"] < 75  # 75 iterations in all
    pd.testing.assert_frame_equal(pd.read_parquet(killed_dir / "metrics.parquet"),
                                  pd.read_parquet(reference_dir / "metrics.parquet"))
    assert _final_fingerprint(killed_dir) == _final_fingerprint(reference_dir)


def test_a_finished_run_is_restored_not_retrained(reference):
    """Also with operational settings changed (checkpoint interval, evaluation episodes)."""
    result, metrics = reference
    again = run_lib.run(tiny(result.workdir, **{"checkpoint_interval_s": 30.0, "eval_episodes": 3}), progress=False)
    assert again.summary["resumed_from"] == 12 and again.summary["env_steps_per_s"] is None
    assert json.loads((result.workdir / "config.json").read_text())["eval_episodes"] == 3
    pd.testing.assert_frame_equal(pd.read_parquet(result.workdir / "metrics.parquet"), metrics)


# -------------------------------------------------------------------------------- NaN stop


def test_non_finite_metric_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    """A learner whose loss turns NaN at iteration 7: the run stops there, checkpoints 2..6 stay."""

    def step(carry):
        count = carry["count"] + 1
        loss = jnp.where(count >= 7, jnp.nan, 1.0 / count)
        return {"count": count}, {"loss": loss, "episode_return": jnp.nan}

    learner = algo_loop.Learner(init=lambda key, hp: {"count": jnp.zeros((), jnp.int32)}, step=step,
                                env_steps_per_iteration=10)
    store = checkpoints.CheckpointStore(tmp_path / "ckpt", keep=10)
    with pytest.raises(loop.NonFiniteError) as info:
        loop.run_chunks(learner, (jax.random.split(jax.random.PRNGKey(0), 3), None), 12, 2, store=store,
                        checkpoint_interval_s=0.0, progress=False)
    assert str(info.value).startswith("metric 'loss' is nan at iteration 7 (env step 70) of member 0 "
                                      "(every member has failed)")
    assert "the last good checkpoint is iteration 6" in str(info.value)
    assert store.steps() == [2, 4, 6]
    restored = store.restore_latest(jax.eval_shape(jax.vmap(learner.init), jax.random.split(jax.random.PRNGKey(0), 3), None))
    np.testing.assert_array_equal(restored.carry["count"], [6, 6, 6])


# ---------------------------------------------------------------------------------- sweeps


def test_sharded_members_equal_the_unsharded_run(tmp_path):
    """4 members (2 learning rates x 2 seeds) over 4 forced host devices, against 1 device."""
    script = textwrap.dedent(f"""
        import jax, numpy as np, pandas as pd
        import experiments
        from experiments.launch import run as run_lib
        from experiments.backbones.configs import ppo_pointreach
        assert len(jax.devices()) == 4, jax.devices()
        out = {{}}
        for devices in (0, 1):
            c = ppo_pointreach.get_config()
            c.num_seeds = 2
            c.grid.learning_rate = [1e-3, 3e-3]
            c.num_devices = devices
            c.workdir = r"{tmp_path}/devices" + str(devices)
            out[devices] = run_lib.run(c, progress=False)
        assert out[0].summary["devices"] == 4 and out[1].summary["devices"] == 1
        assert len(out[0].carry.agent.params["params"]["actor"]["Dense_0"]["kernel"].sharding.device_set) == 4
        a = pd.read_parquet(out[0].workdir / "metrics.parquet")
        b = pd.read_parquet(out[1].workdir / "metrics.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-5, atol=1e-6)
        # float32 rounding: XLA:CPU blocks a batch of 4 members and 4 batches of one differently
        for x, y in zip(jax.tree.leaves(out[0].carry.agent), jax.tree.leaves(out[1].carry.agent)):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-5)
        print("exact" if a.equals(b) else "close", "SHARDED-OK")
    """)
    env = {**os.environ, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0 and "SHARDED-OK" in proc.stdout, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    """2 learning rates (vmapped) x 2 seeds, x 2 structural values of init_log_std, one of which
    (1e6: an infinite action std) turns the losses NaN: submitit's local executor runs 2 jobs."""
    sweep_dir = tmp_path_factory.mktemp("sweep")
    grid = sweep.parse_grid(["agent.learning_rate=[1e-3,3e-3]", "agent.init_log_std=[-0.5,1e6]"])
    config = ppo_pointreach.get_config()
    records = sweep.sweep(config, grid, seeds=2, sweep_dir=sweep_dir, launcher="local",
                          executor_params={"timeout_min": 10})
    return sweep_dir, records


def test_submitit_local_sweep_keeps_the_good_jobs(local_sweep):
    sweep_dir, records = local_sweep
    assert [r["status"] for r in records] == ["done", "failed"]
    assert "NonFiniteError" in records[1]["error"] and "is nan at iteration 1" in records[1]["error"]
    assert json.loads((sweep_dir / "sweep.json").read_text())[0]["status"] == "done"
    done = sweep_dir / "000_init_log_std--0.5"
    assert (done / "metrics.parquet").exists() and (done / "learning_curve.png").exists()
    assert records[0]["summary"]["num_members"] == 4


def test_results_load_schema_and_table(local_sweep):
    sweep_dir, _ = local_sweep
    df = results.load(sweep_dir)
    assert df.attrs["skipped"] == [str(sweep_dir / "001_init_log_std-1000000.0")]
    assert len(df) == 4 * 12  # members x iterations of the one finished program
    for column in ("run", "algo", "task", "agent.learning_rate", "agent.hidden_sizes", "member", "seed",
                   "iteration", "env_steps", "episode_return", "policy_loss"):
        assert column in df.columns, column
    assert df.groupby("member")["agent.learning_rate"].first().tolist() == [1e-3, 1e-3, 3e-3, 3e-3]
    assert df["seed"].tolist()[:13] == [0] * 12 + [1]
    assert df["agent.hidden_sizes"].iloc[0] == "(16, 16)"
    assert results.varying_columns(df) == ["agent.learning_rate"]

    table = results.table(df, "episode_return")
    assert table["agent.learning_rate"].tolist() == [1e-3, 3e-3] and table["seeds"].tolist() == [2, 2]
    last = df.sort_values("iteration").groupby("member")["episode_return"].last()
    for lr, members in ((1e-3, [0, 1]), (3e-3, [2, 3])):
        values = last[members].to_numpy()
        row = table[table["agent.learning_rate"] == lr].iloc[0]
        half = 12.706 * values.std(ddof=1) / np.sqrt(2)  # Student t, 1 degree of freedom, 95%
        assert row["episode_return_mean"] == pytest.approx(values.mean())
        assert row["ci_hi"] - row["episode_return_mean"] == pytest.approx(half, rel=1e-3)
    evals = results.load_eval(sweep_dir)
    assert len(evals) == 4 and evals["eval_return"].notna().all()


def test_tensorboard_logging_is_a_switch(tmp_path):
    from tensorboardX.event_file_writer import EventFileWriter  # noqa: F401  (installed with .[dev])
    from tensorboard_reader import scalars

    result = run_lib.run(tiny(tmp_path / "run", **{"log.tensorboard": True, "agent.total_env_steps": 8 * 25 * 4}),
                         progress=False)
    tags = scalars(result.workdir / "tensorboard")
    metrics = pd.read_parquet(result.workdir / "metrics.parquet")
    assert sorted(tags["policy_loss"]) == [200, 400, 600, 800]
    assert tags["policy_loss"][400] == pytest.approx(metrics.loc[metrics["iteration"] == 2, "policy_loss"].mean())


def test_wandb_logging_goes_offline_through_the_switch(tmp_path, monkeypatch):
    """wandb is optional and not installed for the tests: a recording stand-in checks our calls."""
    import importlib.machinery
    import types

    calls = {"init": [], "log": [], "finish": 0}

    class Run:
        def log(self, values, step):
            calls["log"].append((step, values))

        def finish(self):
            calls["finish"] += 1

    fake = types.ModuleType("wandb")
    fake.__spec__ = importlib.machinery.ModuleSpec("wandb", None)
    fake.init = lambda **kwargs: calls["init"].append(kwargs) or Run()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    result = run_lib.run(tiny(tmp_path / "run", **{"log.wandb": True, "agent.total_env_steps": 8 * 25 * 4}),
                         progress=False)
    (init,) = calls["init"]
    assert init["mode"] == "offline" and init["project"] == "mjxrl" and init["config"]["task"] == "PointReach"
    assert [step for step, _ in calls["log"]] == [200, 400, 600, 800] and calls["finish"] == 1
    metrics = pd.read_parquet(result.workdir / "metrics.parquet")
    assert calls["log"][0][1]["value_loss"] == pytest.approx(metrics.loc[metrics["iteration"] == 1, "value_loss"].mean())


def test_load_run_gives_back_the_final_carry(reference):
    """A finished run directory restores to the carry the run ended with, with the config it ran."""
    result, _ = reference
    loaded = run_lib.load_run(result.workdir)
    assert loaded.config.workdir == str(result.workdir)
    assert loaded.iteration == _final_iteration(result.workdir)
    for a, b in zip(jax.tree.leaves(loaded.carry), jax.tree.leaves(result.carry)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _final_iteration(workdir) -> int:
    store = checkpoints.CheckpointStore(workdir / "checkpoints")
    step = store.steps()[-1]
    store.close()
    return step


def test_every_numeric_field_of_every_config_has_a_declared_range():
    """Validation is one check over declared ranges: a numeric field without one would pass unchecked."""
    from algos import aime_v2, bco
    from algos.aime import imitation
    from algos.common import hparams
    from experiments.aime import main as aime_main
    from experiments.aime.configs import aime as aime_config
    from experiments.aime_v2 import main as aime_v2_main
    from experiments.aime_v2.configs import aime_v2 as aime_v2_config
    from experiments.launch.algorithms import ALGOS

    for name, algo in ALGOS.items():
        assert hparams.range_errors(algo.default_config(), algo.ranges) == [], name
        assert set(algo.hparams) <= set(algo.ranges), name  # every gridded value is range-checked too
    for module in (imitation, bco):
        assert hparams.range_errors(module.default_config(), module.RANGES) == [], module.__name__
    aime_main.check_config(aime_config.get_config())
    aime_v2_main.check_config(aime_v2_config.get_config())
    assert hparams.range_errors(aime_v2.default_config(), aime_v2.agent.RANGES) == []
