"""ADS against its baselines on one task, under the same data, budget and seeds.

    python -m experiments.ads.main --config=experiments/ads/configs/ads.py [--methods=ads,ot,gaifo,bco]

Methods: `ads` (OT reward, scheduled discount), `ot` (OT reward, fixed discount 0.99:
the paper's main baseline), `gaifo` (a discriminator on (s, s'), fixed discount),
`ddpg_env` (the same DDPG learner on the task's own reward: an oracle, not imitation), each
one launcher run (`experiments.launch.run`: vmapped seeds, checkpoints, resumes) in a child
process that `experiments.launch.watchdog` restarts if XLA:CPU wedges, and `bco`
(BCO(0) from `algos.bco`: an inverse model learnt on the embodiment dataset labels
the demonstrations; it uses no interaction). PointPush's demonstrations and random
embodiment data come from its scripted expert and are recorded if missing.

Writes, under `runs/ads_<task>/`: one run directory per method, `results.json`,
`table.md`, `curves.png` (evaluation success and return against environment steps) and
`schedule.png` (ADS's progress and discount over training, seed 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import envs
from algos.common import evaluation
from algos import bco
from envs import datasets, push, sequences
from experiments.launch import compare, record

DEFAULT_CONFIG = str(Path(__file__).parent / "configs" / "ads.py")
METHODS = {
    "ads": dict(reward="ot", discount_schedule="ads"),
    "ot": dict(reward="ot", discount_schedule="fixed"),
    "gaifo": dict(reward="gaifo", discount_schedule="fixed"),
    "ddpg_env": dict(reward="env", discount_schedule="fixed"),  # oracle: the task's reward, no imitation
}


def ensure_data(c: ml_collections.ConfigDict) -> Path:
    """The demonstrations file (recorded from the scripted expert where there is one); returns the embodiment file."""
    demos = Path(c.agent.demos)
    embodiment = demos.parent / "embodiment_random.npz"
    if c.task in envs.list_tasks()["metaworld"]:
        return ensure_metaworld_data(c, demos, embodiment)
    if not demos.exists() or not embodiment.exists():
        if c.task not in record.SCRIPTED:
            raise FileNotFoundError(f"{demos} or {embodiment} is missing; record them with experiments.launch.record")
        record.record_all(f"scripted:{c.task}", str(demos.parent), max(10, c.agent.num_demos), "random", 100)
    return embodiment


def ensure_metaworld_data(c: ml_collections.ConfigDict, demos: Path, embodiment: Path) -> Path:
    """metaworld's scripted policy's demonstrations (`envs.metaworld.experts`, the authors' protocol) and
    random embodiment episodes, recorded where missing."""
    from envs.metaworld import experts

    if not demos.exists():
        data = experts.record_demonstrations(c.task, max(10, c.agent.num_demos), c.env.action_repeat,
                                             c.env.episode_length)
        datasets.save(data, demos)
    if not embodiment.exists():
        env, spec = envs.make(c.task, action_repeat=c.env.action_repeat, episode_length=c.env.episode_length,
                              reset_mode="none")
        data = datasets.record(env, envs.random_policy(spec), jax.random.PRNGKey(1), 100, "embodiment",
                               policy_name="uniformly random")
        datasets.save(data, embodiment)
    return embodiment


def expert_success(c: ml_collections.ConfigDict, demos: datasets.Dataset) -> float:
    """The demonstrations' success under the evaluation's rule (nan where the task has no success flag)."""
    if c.task in push.VARIANTS:
        return float(np.mean(push.success(demos.obs[: c.agent.num_demos, -1])))
    steps = demos.metadata.get("success_steps")
    if steps is None or c.agent.success_steps == 0:
        return float("nan")
    return float(np.mean(np.asarray(steps[: c.agent.num_demos]) >= c.agent.success_steps))


def run_method(name: str, root: Path, config_args: list[str], c: ml_collections.ConfigDict) -> pd.DataFrame:
    return compare.run_method(name, root, config_args, {f"agent.{k}": v for k, v in METHODS[name].items()}, c)


def run_bco(c: ml_collections.ConfigDict, embodiment_path: Path, bco_config: ml_collections.ConfigDict) -> dict:
    """BCO(0) per seed; evaluated on as many episodes as the RL methods' final evaluation."""
    demos = jax.tree.map(lambda x: x[: c.agent.num_demos], datasets.load(c.agent.demos, kind="demonstrations"))
    env, spec = envs.make(c.task, **{**c.env.to_dict(), "num_envs": None, "reset_mode": "none"})
    low, high, action_dim = float(spec.action_low), float(spec.action_high), spec.action_size
    embodiment = sequences.from_dataset(datasets.load(embodiment_path, kind="embodiment"))
    demo_seq = sequences.observations_only(demos, action_dim)
    episodes = max(c.eval_episodes, 10)

    def one_seed(key):
        k_train, k_eval = jax.random.split(key)
        _, policy, _ = bco.train_bco(bco_config, k_train, embodiment, demo_seq, low, high)
        ctrl = bco.controller(bco_config, policy, spec.obs_size, action_dim, low, high)
        obs, _, reward, _ = evaluation.rollout_controller(env, ctrl, k_eval, episodes)
        success = push.success(obs[-1]) if c.task in push.VARIANTS else jnp.full((episodes,), jnp.nan)
        return reward.sum(0), success

    keys = jax.random.split(jax.random.PRNGKey(c.seed + 7), c.num_seeds)
    returns, success = jax.jit(jax.vmap(one_seed))(keys)
    return {"return": np.asarray(returns).mean(1).tolist(), "success": np.asarray(success).mean(1).tolist()}


def report(c, root: Path, frames: dict[str, pd.DataFrame], bco_result: dict | None, expert: dict) -> dict:
    has_success = all("eval_success" in f for f in frames.values())
    ys = (["eval_success"] if has_success else []) + ["eval_return"]
    hlines = [("expert", {y: expert[y.removeprefix("eval_")] for y in ys}, dict(color="k", ls="--", lw=0.8))]
    if bco_result is not None:
        hlines.insert(0, ("bco (no interaction)", {y: float(np.mean(bco_result[y.removeprefix("eval_")])) for y in ys},
                          dict(color="C3", ls=":")))
    compare.plot_curves(frames, ys, root / "curves.png", f"{c.task}: {c.num_seeds} seeds, mean ± std "
                        "(deterministic evaluations)", hlines)

    if "ads" in frames:
        seed0 = frames["ads"][frames["ads"].member == 0]
        fig = Figure(figsize=(5.2, 3.4))
        ax = fig.subplots()
        ax.plot(seed0.env_steps, seed0.progress, color="C0", label="progress p (demonstration steps)")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("progress p", color="C0")
        ax2 = ax.twinx()
        ax2.plot(seed0.env_steps, seed0.discount, color="C1", label="discount")
        ax2.set_ylabel("discount alpha^(1/p)", color="C1")
        ax.set_title(f"ADS on {c.task}, seed 0", fontsize=9)
        fig.tight_layout()
        fig.savefig(root / "schedule.png", dpi=120)

    results = {"task": c.task, "num_seeds": c.num_seeds, "env_steps": int(c.agent.total_env_steps), "expert": expert,
               "methods": {}}
    per_method, rows = compare.summarise(frames, ys)
    results["methods"].update(per_method)
    lines = [f"{c.task}, {c.num_seeds} seeds, {c.agent.total_env_steps:,} environment steps; the last evaluation "
             f"({c.env.num_envs} deterministic episodes per seed) and the mean over the last quarter of training", "",
             *rows]
    if bco_result is not None:
        results["methods"]["bco"] = bco_result
        cells = []
        for y in ys:
            v = np.asarray(bco_result[y.removeprefix("eval_")])
            cells += [f"{v.mean():.2f} ± {v.std():.2f}", "(no training curve)"]
        lines.append("| bco | " + " | ".join(cells) + " |")
    lines.append("| expert (demonstrations) | " + " | ".join(f"{expert[y.removeprefix('eval_')]:.2f} | " for y in ys) + "|")
    (root / "results.json").write_text(json.dumps(results, indent=2))
    (root / "table.md").write_text("\n".join(lines) + "\n")
    return results


def main_run(c: ml_collections.ConfigDict, methods: list[str], config_args: list[str]) -> dict:
    """`config_args`: the `--config...` arguments `c` came from, passed on to each method's run."""
    unknown = [m for m in methods if m not in (*METHODS, "bco")]
    if unknown or not methods:
        raise ValueError(f"unknown methods {unknown}; choose from {[*METHODS, 'bco']}")
    embodiment = ensure_data(c)
    root = Path(c.workdir or f"runs/ads_{c.task}")
    root.mkdir(parents=True, exist_ok=True)
    frames = {m: run_method(m, root, config_args, c) for m in methods if m in METHODS}
    bco_config = bco.default_config()
    bco_config.stack, bco_config.idm_updates, bco_config.policy_updates = 1, 5_000, 5_000
    bco_result = run_bco(c, embodiment, bco_config) if "bco" in methods else None
    demos = datasets.load(c.agent.demos, kind="demonstrations")
    expert = {"return": float(np.mean(demos.metadata["returns"][: c.agent.num_demos])),
              "success": expert_success(c, demos)}
    results = report(c, root, frames, bco_result, expert)
    print((root / "table.md").read_text())
    return results


CONFIGS = Path(__file__).parent / "configs"
RESULTS = Path(__file__).parent / "results"
SAC_CONFIG = Path(__file__).parents[1] / "backbones" / "configs" / "sac.py"
# The report's rows: task -> (config file, the prefix of its files in results/, methods)
TASKS = {
    "PointPushAround": (CONFIGS / "ads_around.py", "around_", ["ads", "ot", "gaifo", "bco"]),
    "PointPush": (CONFIGS / "ads.py", "", ["ads", "ot", "gaifo", "bco"]),
    "PendulumSwingup": (CONFIGS / "ads_pendulum.py", "pendulum_", ["ads", "ot", "gaifo", "bco"]),
    "mw/lever-pull": (CONFIGS / "ads_metaworld.py", "mw_lever_pull_", ["ads", "ot"]),
    "mw/basketball": (CONFIGS / "ads_basketball.py", "mw_basketball_", ["ads", "ot"]),
}


def reproduce(tasks: list[str], extra: list[str]) -> None:
    """Every task's methods (finished runs are read, not rerun), its table and plots, into results/."""
    from experiments.launch import reproduce as reproduce_lib

    results = reproduce_lib.results_dir(RESULTS, extra)
    overrides_extra = reproduce_lib.parse_overrides(extra)
    for task in reproduce_lib.check_tasks(tasks, TASKS):
        path, prefix, methods = TASKS[task]
        overrides = {"workdir": f"runs/ads_{task.replace('/', '-')}", **overrides_extra}
        c = reproduce_lib.load_config(path, overrides)
        # a SAC expert's demonstrations (AIME's PendulumSwingup expert); Meta-World's come from its scripted
        # policies and scripted tasks' from theirs, recorded by main_run where missing
        if task not in record.SCRIPTED and task not in envs.list_tasks()["metaworld"]:
            expert = reproduce_lib.ensure_expert(SAC_CONFIG, {"task": task, "env.action_repeat": c.env.action_repeat,
                                                              "num_seeds": 1}, f"experts/{task}")
            reproduce_lib.ensure_recorded(str(expert), Path(c.agent.demos).parent, demos=100, embodiment="random",
                                          embodiment_episodes=200)
        main_run(c, methods, compare.config_args(path, overrides))
        root = Path(c.workdir)
        reproduce_lib.publish({root / f: results / f"{prefix}{f}" for f in
                               ("table.md", "results.json", "curves.png", "schedule.png")})


def main() -> None:
    compare.main(DEFAULT_CONFIG, ["ads", "ot", "gaifo", "bco"], main_run, reproduce, list(TASKS))


if __name__ == "__main__":
    main()
