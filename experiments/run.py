"""Train and evaluate one agent on one task from a config file.

    python -m experiments.run --config=experiments/configs/sac.py --config.num_seeds=3

`config.num_seeds` seeds train as one vmapped program. Writes a run directory with
the resolved config (config.json), per-seed, per-iteration metrics
(metrics.parquet), the learning curve (learning_curve.png) and a summary
(summary.json: final deterministic evaluation return per seed, timings).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import NamedTuple

import jax
import ml_collections
import numpy as np
from absl import app, logging
from ml_collections import config_flags

import envs
from algos import ddpg, evaluation, ppo, sac
from experiments import loop, plotting

ALGOS = {"ppo": ppo, "sac": sac, "ddpg": ddpg}
_DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "configs", "ppo.py")


def _workdir(config: ml_collections.ConfigDict) -> Path:
    if config.workdir:
        return Path(config.workdir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.algo}_{config.task}_seed{config.seed}_{stamp}"


class RunResult(NamedTuple):
    workdir: Path
    carry: object  # the final training carry, leaves [num_seeds, ...]
    summary: dict


def run(config: ml_collections.ConfigDict, progress: bool = True) -> RunResult:
    """Train, evaluate and write the run directory."""
    if config.algo not in ALGOS:
        raise ValueError(f"unknown algo {config.algo!r}; choose one of {sorted(ALGOS)}")
    algo = ALGOS[config.algo]
    env_kwargs = config.env.to_dict()
    env, spec = envs.make(config.task, **env_kwargs)
    eval_env, _ = envs.make(config.task, **{**env_kwargs, "num_envs": None, "reset_mode": "none"})
    learner = algo.make_learner(config.agent, env)

    workdir = _workdir(config)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))

    key = jax.random.PRNGKey(config.seed)
    k_train, k_eval = jax.random.split(key)
    train_keys = jax.random.split(k_train, config.num_seeds)
    carry, metrics, timings = loop.run_chunks(
        learner, train_keys, algo.num_iterations(config.agent, spec.num_envs), config.chunk_iterations,
        progress=progress,
    )
    metrics.to_parquet(workdir / "metrics.parquet")
    plotting.learning_curve(metrics, workdir / "learning_curve.png", title=f"{config.algo.upper()} on {config.task}")

    def eval_one(agent, k):
        policy = lambda obs, kk: algo.act(agent, obs, kk, deterministic=True)  # noqa: E731
        return evaluation.evaluate(eval_env, policy, k, config.eval_episodes)

    eval_keys = jax.random.split(k_eval, config.num_seeds)
    returns = np.asarray(jax.jit(jax.vmap(eval_one))(carry.agent, eval_keys))  # [seeds, episodes]
    env_steps = int(metrics["env_steps"].max())
    per_seed = returns.mean(axis=1)
    summary = {
        "task": config.task,
        "algo": config.algo,
        "seed": config.seed,
        "num_seeds": config.num_seeds,
        "env_steps": env_steps,
        "eval_return_mean": float(per_seed.mean()),
        "eval_return_std": float(per_seed.std()),
        "eval_return_per_seed": per_seed.tolist(),
        "compile_s": timings["compile_s"],
        "train_s": timings["train_s"],
        "env_steps_per_s": (env_steps - learner.prefill_env_steps) * config.num_seeds / timings["train_s"],
        "backend": jax.default_backend(),
    }
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"run directory: {workdir}")
    return RunResult(workdir=workdir, carry=carry, summary=summary)


def main() -> None:
    """The command line; flags are defined here, not at import, so modules can share names."""
    config = config_flags.DEFINE_config_file("config", _DEFAULT_CONFIG, "Experiment config file.", lock_config=True)

    def _main(argv: list[str]) -> None:
        del argv
        logging.set_verbosity(logging.WARNING)
        run(config.value)

    app.run(_main)


if __name__ == "__main__":
    main()
