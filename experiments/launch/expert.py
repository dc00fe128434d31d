"""Experts: train one on a named task and save it; load it back as a policy.

    python -m experiments.launch.expert --config=experiments/backbones/configs/ppo.py --config.task=CartpoleBalance \\
        --out=experts/CartpoleBalance

trains `config.num_seeds` seeds (one vmapped program), keeps the seed with the best
deterministic evaluation return, and writes to `--out`:

    config.json     the experiment config (algo, task, environment, agent)
    agent/          the agent state (orbax checkpoint)
    summary.json    the training summary and the chosen seed's evaluation return

`load(path)` rebuilds the agent state and returns an `Expert` whose `policy()` is
an `(obs, key) -> action` function for `envs.rollout` and `envs.datasets.record`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import jax
import ml_collections
import orbax.checkpoint as ocp
from absl import app, flags, logging

import envs
from envs.core import Environment
from envs.rollout import PolicyFn
from experiments.launch import cli, loop
from experiments.launch import run as run_lib
from experiments.launch.algorithms import ALGOS



class Expert(NamedTuple):
    algo: str
    task: str
    config: ml_collections.ConfigDict
    agent: Any

    def policy(self, deterministic: bool = True) -> PolicyFn:
        act = ALGOS[self.algo].act
        return lambda obs, key: act(self.agent, obs, key, deterministic=deterministic)

    def make_env(self, **overrides) -> tuple[Environment, envs.EnvSpec]:
        """The expert's task with its training wrappers, unbatched, without auto-reset by default."""
        kwargs = {**self.config.env.to_dict(), "num_envs": None, "reset_mode": "none", **overrides}
        return envs.make(self.task, **kwargs)


def _agent_template(config: ml_collections.ConfigDict):
    env, spec = envs.make(config.task, **{**config.env.to_dict(), "num_envs": None})
    return ALGOS[config.algo].init(jax.random.PRNGKey(0), spec, config.agent)


def save(path: str | os.PathLike, config: ml_collections.ConfigDict, agent, summary: dict) -> Path:
    """Write an expert directory (see the module docstring); replaces `path`."""
    path = Path(path).absolute()
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "config.json").write_text(config.to_json_best_effort(indent=2))
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(tmp / "agent", agent)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return path


def load(path: str | os.PathLike) -> Expert:
    """Read an expert directory written by `save` (or this module's command)."""
    path = Path(path).absolute()
    if not (path / "config.json").exists() or not (path / "agent").exists():
        raise FileNotFoundError(f"{path} is not an expert directory (needs config.json and agent/)")
    config = ml_collections.ConfigDict(json.loads((path / "config.json").read_text()))
    if config.algo not in ALGOS:
        raise ValueError(f"{path}: unknown algo {config.algo!r}")
    template = _agent_template(config)
    with ocp.StandardCheckpointer() as ckpt:
        agent = ckpt.restore(path / "agent", template)
    return Expert(algo=config.algo, task=config.task, config=config, agent=agent)


def train_expert(config: ml_collections.ConfigDict, out: str | os.PathLike, progress: bool = True) -> Path:
    """Train with `experiments.launch.run`, keep the best seed and save it to `out`."""
    result = run_lib.run(config, progress=progress)
    best = int(max(range(result.summary["num_members"]), key=lambda i: result.summary["eval_return_per_member"][i]))
    agent = jax.tree.map(lambda x: x[best], result.carry.agent)
    summary = {**result.summary, "expert_seed_index": best,
               "expert_eval_return": result.summary["eval_return_per_member"][best], "run_dir": str(result.workdir)}
    path = save(out, config, agent, summary)
    print(f"expert (seed index {best}, eval return {summary['expert_eval_return']:.1f}) saved to {path}")
    return path


def main() -> None:
    config = cli.define_config()
    out = flags.DEFINE_string("out", None, "Directory to write the expert to (default experts/<task>; replaced).")

    def _main(argv: list[str]) -> None:
        del argv
        logging.set_verbosity(logging.WARNING)
        try:
            train_expert(config.value, out.value or f"experts/{config.value.task}")
        except (ValueError, FileNotFoundError, loop.NonFiniteError) as e:  # ConfigError too
            raise SystemExit(f"error: {e}") from None

    app.run(_main)


if __name__ == "__main__":
    main()
