"""Train and evaluate one agent on one task from a config file; rerun the command to resume.

    python -m experiments.launch.run --config=experiments/backbones/configs/sac.py --config.num_seeds=3

The run's members (every combination of `config.grid` x `config.num_seeds` seeds)
train as one vmapped program, sharded over the local devices. The run directory holds

    config.json          the resolved config
    metrics.parquet      one row per member and iteration: member, seed, the member's
                         gridded hyperparameters (agent.<name>), iteration, env_steps, metrics
                         (rewritten at each checkpoint, so a running run can be read)
    eval.parquet         one row per member: its deterministic evaluation return
    checkpoints/         orbax checkpoints of the whole carry (see experiments.launch.checkpoints)
    learning_curve.png   the curves, mean and band over seeds
    summary.json         evaluation returns and timings

Running the same command again resumes from the newest good checkpoint and ends
bit-identical to an unbroken run; a finished run is restored and re-evaluated, not
retrained. A run directory that holds a different config is refused.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd
from absl import app, logging

from algos.common import evaluation
from experiments.launch import loggers as loggers_lib
from experiments.launch import cli, loop, plotting, results, validation
from experiments.launch.algorithms import ALGOS
from experiments.launch.checkpoints import CheckpointMismatch, CheckpointStore
from experiments.launch.config import base_config


class RunResult(NamedTuple):
    workdir: Path
    carry: object  # the final training carry, leaves [members, ...]
    summary: dict
    members: pd.DataFrame  # member, seed, agent.<gridded hyperparameter>...


def default_workdir(config: ml_collections.ConfigDict) -> Path:
    return Path(config.workdir) if config.workdir else Path("runs") / f"{config.algo}_{config.task}_seed{config.seed}"


def member_table(config: ml_collections.ConfigDict) -> pd.DataFrame:
    """One row per member: every combination of the grid's values, times each seed index."""
    names = sorted(config.grid.keys())
    rows = [
        {"member": 0, "seed": seed, **{f"agent.{n}": float(v) for n, v in zip(names, combo)}}
        for combo in itertools.product(*(config.grid[n] for n in names))
        for seed in range(config.num_seeds)
    ]
    table = pd.DataFrame(rows)
    table["member"] = np.arange(len(table))
    return table


def member_sharding(num_members: int, num_devices: int = 0) -> jax.sharding.Sharding | None:
    """Shard the member axis over the most local devices (up to `num_devices`, 0: all) that divide it."""
    devices = jax.local_devices()
    n = min(num_devices or len(devices), len(devices), num_members)
    while num_members % n:
        n -= 1
    if n == 1:
        return None
    mesh = jax.sharding.Mesh(np.array(devices[:n]), ("members",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("members"))


# Settings that change how a run is operated, not what it computes: a rerun may change them.
# `workdir` is where the run is, not what it is: a moved or copied run directory resumes.
OPERATIONAL = ("checkpoint_interval_s", "keep_checkpoints", "num_devices", "eval_episodes", "log.", "workdir")


def read_config_json(workdir: Path) -> dict | None:
    """The config stored in `workdir/config.json`; None if there is none. A damaged file is refused by name."""
    path = workdir / "config.json"
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise validation.ConfigError(
            f"{path} is not valid JSON ({e}); the run directory's config is damaged. Restore the file, or "
            "move the directory aside and rerun to start afresh") from None
    if not isinstance(stored, dict):
        raise validation.ConfigError(f"{path} holds {type(stored).__name__}, not a config")
    return stored


def config_differences(config: ml_collections.ConfigDict, workdir: Path,
                       operational: tuple[str, ...] = OPERATIONAL) -> list[str] | None:
    """The settings (not `operational` ones) where `config` differs from the run in `workdir`; None if none is there."""
    stored = read_config_json(workdir)
    if stored is None:
        return None
    flat_saved = results.flatten_config(stored, skip_grid=False)
    flat_new = results.flatten_config(json.loads(config.to_json_best_effort()), skip_grid=False)
    return sorted(k for k in flat_saved.keys() | flat_new.keys()
                  if flat_saved.get(k) != flat_new.get(k) and not k.startswith(operational))


def is_finished(config: ml_collections.ConfigDict, workdir: Path) -> bool:
    """Whether `workdir` holds this config's run, trained and evaluated to the end."""
    return (workdir / "summary.json").exists() and config_differences(config, workdir) == []


def claim_workdir(config: ml_collections.ConfigDict, workdir: Path, operational: tuple[str, ...] = OPERATIONAL) -> None:
    """Write config.json, or check that the run already there has the same config.

    Only `operational` settings may differ (config.json is then rewritten with the new
    ones). A different device count still resumes, though XLA may then round the
    sharded members' arithmetic differently (see docs/launcher.md).
    """
    differ = config_differences(config, workdir, operational)
    if differ:
        raise validation.ConfigError(
            f"{workdir} holds a run with a different config (differs at {differ}). Rerun with its "
            "config to resume it, or choose another directory with --config.workdir=..."
        )
    resolved = json.loads(config.to_json_best_effort())
    path = workdir / "config.json"
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(resolved, indent=2))
    tmp.replace(path)


def member_keys(config: ml_collections.ConfigDict, members: pd.DataFrame, put=jnp.asarray):
    """(training keys [M], evaluation keys [M]) of the run's members: a seed's members share its keys."""
    k_train, k_eval = jax.random.split(jax.random.PRNGKey(config.seed))
    seeds = members["seed"].to_numpy()
    return (put(jax.random.split(k_train, config.num_seeds)[seeds]),
            put(jax.random.split(k_eval, config.num_seeds)[seeds]))


def member_hparams(config: ml_collections.ConfigDict, members: pd.DataFrame, put=jnp.asarray) -> dict | None:
    """{name: [M]} of the gridded hyperparameters; None without a grid."""
    return {n: put(members[f"agent.{n}"].to_numpy(np.float32)) for n in sorted(config.grid.keys())} or None


def run(config: ml_collections.ConfigDict, progress: bool = True, built: validation.Built | None = None) -> RunResult:
    """Validate, train (resuming if the run directory has checkpoints), evaluate, write the run directory.

    `built`: what `validation.check(config)` returned, if the caller already checked.
    """
    built = built or validation.check(config)
    algo, learner = built.algo, built.learner
    workdir = default_workdir(config)
    claim_workdir(config, workdir)

    members = member_table(config)
    sharding = member_sharding(len(members), config.num_devices)
    put = (lambda x: jax.device_put(x, sharding)) if sharding is not None else jnp.asarray  # noqa: E731
    keys, eval_keys = member_keys(config, members, put)
    hparams = member_hparams(config, members, put)

    def write_metrics(rows: pd.DataFrame) -> pd.DataFrame:
        rows = members.merge(rows, on="member")
        tmp = workdir / "metrics.parquet.tmp"
        rows.to_parquet(tmp)
        tmp.replace(workdir / "metrics.parquet")  # atomic: a reader never sees half a file
        return rows

    store = CheckpointStore(workdir / "checkpoints", keep=config.keep_checkpoints)
    chunk_loggers = loggers_lib.make_loggers(config, workdir)
    try:
        result = loop.run_chunks(
            learner, (keys, hparams), built.num_iterations, config.chunk_iterations,
            store=store, checkpoint_interval_s=config.checkpoint_interval_s, sharding=sharding,
            on_chunk=(lambda it, rows: [lg.write(it, rows) for lg in chunk_loggers]) if chunk_loggers else None,
            on_checkpoint=write_metrics, progress=progress,
        )
    finally:
        store.close()
        for lg in chunk_loggers:
            lg.close()
    carry, timings = result.carry, result.timings
    metrics = write_metrics(result.metrics)
    members["failed_at_iteration"] = [result.failed.get(m, np.nan) for m in members["member"]]
    hp_cols = [c for c in members.columns if c.startswith("agent.")]
    episodes_ended = int(metrics["episode_return"].notna().sum()) if "episode_return" in metrics else 0
    plotting.learning_curve(metrics, workdir / "learning_curve.png",
                            title=f"{config.algo.upper()} on {config.task}", by=hp_cols)

    def eval_one(agent, k):
        policy = lambda obs, kk: algo.act(agent, obs, kk, deterministic=True)  # noqa: E731
        return evaluation.evaluate(built.eval_env, policy, k, config.eval_episodes)

    per_member = np.full(len(members), np.nan)  # eval_episodes = 0: not evaluated
    if config.eval_episodes:
        per_member = np.asarray(jax.jit(jax.vmap(eval_one))(carry.agent, eval_keys)).mean(axis=1)  # [members]
    members.assign(eval_return=per_member).to_parquet(workdir / "eval.parquet")
    env_steps = int(metrics["env_steps"].max())
    trained_iterations = int(metrics["iteration"].max() - timings["resumed_from"])
    trained_steps = trained_iterations * learner.env_steps_per_iteration * len(members)
    summary = {
        "task": config.task,
        "algo": config.algo,
        "seed": config.seed,
        "num_seeds": config.num_seeds,
        "num_members": len(members),
        "env_steps": env_steps,
        "eval_return_mean": float(np.nanmean(per_member)) if np.isfinite(per_member).any() else None,
        "eval_return_std": float(np.nanstd(per_member)) if np.isfinite(per_member).any() else None,
        "eval_return_per_member": [None if np.isnan(x) else float(x) for x in per_member],
        "training_episodes_ended": episodes_ended,
        "failed_members": {str(m): int(it) for m, it in result.failed.items()},
        **timings,
        "env_steps_per_s": float(trained_steps / timings["train_s"]) if trained_steps else None,
        "backend": jax.default_backend(),
        "devices": 1 if sharding is None else len(sharding.device_set),
    }
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    if progress:
        print(json.dumps(summary, indent=2))
        if not episodes_ended:
            print("note: no training episode ended within the budget, so the learning curve is empty; "
                  "raise config.agent.total_env_steps or lower config.env.episode_length")
        for m, it in result.failed.items():
            print(f"note: member {m} was frozen at iteration {it} after a non-finite metric (its row in "
                  "eval.parquet has failed_at_iteration set); the other members trained to the end")
        print(f"run directory: {workdir}")
    return RunResult(workdir=workdir, carry=carry, summary=summary, members=members)


class LoadedRun(NamedTuple):
    config: ml_collections.ConfigDict
    env: object  # the training environment (batched as in training)
    learner: object  # algos.common.loop.Learner
    carry: object  # the newest good checkpoint's carry, leaves [members, ...]
    iteration: int


def load_run(workdir: str | Path) -> LoadedRun:
    """The newest checkpointed carry of a run directory, with the objects that made it (for
    analysis in notebooks and scripts: e.g. `algo.act(loaded.carry.agent, ...)` under vmap)."""
    workdir = Path(workdir)
    stored = read_config_json(workdir)
    if stored is None:
        raise FileNotFoundError(f"{workdir} is not a run directory (no config.json)")
    config = base_config(stored["algo"], ALGOS[stored["algo"]].default_config())
    config.update(stored)  # settings added since the run keep their defaults, which keep the old behaviour
    built = validation.check(config)
    members = member_table(config)
    keys, _ = member_keys(config, members)
    store = CheckpointStore(workdir / "checkpoints", keep=config.keep_checkpoints)
    try:
        restored = store.restore_latest(loop.abstract_carry(built.learner, (keys, member_hparams(config, members))))
    finally:
        store.close()
    if restored is None:
        raise FileNotFoundError(f"{workdir} has no checkpoint that restores")
    return LoadedRun(config, built.env, built.learner, restored.carry, restored.iteration)


def main() -> None:
    """The command line; flags are defined here, not at import, so modules can share names."""
    config = cli.define_config()

    def _main(argv: list[str]) -> None:
        del argv
        logging.set_verbosity(logging.WARNING)
        try:
            run(config.value)
        except (validation.ConfigError, loop.NonFiniteError, CheckpointMismatch) as e:
            raise SystemExit(f"error: {e}") from None

    app.run(_main)


if __name__ == "__main__":
    main()
