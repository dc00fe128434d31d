"""CIP against SAC, the released code's behaviour and the ablations, on one task, same seeds and budget.

    python -m experiments.cip.main --config=experiments/cip/configs/cip.py \\
        [--methods=cip,sac,released,no_augmentation,no_empowerment,no_weights,cip_reward_last,
         reward_last_no_empowerment,reward_last_no_augmentation,cip_reward_last_augment_0.1,
         cip_lambda_0.001,cip_lambda_0.0001] [--config.task=WalkerWalk]

Each method is the same config with overrides (`METHODS`), one launcher run
(`experiments.launch.run`: vmapped seeds, checkpoints, resumes) in a child process that
`experiments.launch.watchdog` restarts if XLA:CPU wedges. Rerunning the command resumes
unfinished runs and reads finished ones.

Writes, under `runs/cip_<task>/`: one run directory per method, `results.json`,
`table.md`, `curves.png` (training episode return against environment steps, mean ±
std over seeds) and `structure.png` (what discovery kept over training, per method).
"""

from __future__ import annotations

import json
from pathlib import Path

import ml_collections
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from experiments.launch import compare

DEFAULT_CONFIG = str(Path(__file__).parent / "configs" / "cip.py")
METHODS = {
    "cip": {},
    # plain SAC on the same networks and update schedule: no parts, no resets
    "sac": {"agent.parts_on": 0, "agent.reset_interval": 0},
    # the authors' released code: its weights, counterfactuals and inverse model never reach training
    "released": {"agent.behaviour": "released"},
    "no_augmentation": {"agent.augment_fraction": 0},
    "no_empowerment": {"agent.empowerment_scale": 0},
    "no_weights": {"agent.entropy_weighting": 0},
    # CIP with the cheaper discovery: the reward has no children, one adaptive lasso of r on (s, a)
    "cip_reward_last": {"agent.discovery": "reward_last"},
    # its discovery-driven parts alone (augmentation and weights): isolates them from the empowerment bonus
    "reward_last_no_empowerment": {"agent.discovery": "reward_last", "agent.empowerment_scale": 0},
    # where the swaps hurt (discovery keeps one of many dims): without them, and with a tenth of the batch swapped
    "reward_last_no_augmentation": {"agent.discovery": "reward_last", "agent.augment_fraction": 0},
    "cip_reward_last_augment_0.1": {"agent.discovery": "reward_last", "agent.augment_fraction": 0.1},
    # what gives CIP without swaps its gain over SAC on halfcheetah: without the bonus, or without ACE's resets
    # (these first act at 100k updates, so at a 50k-step budget `no_resets` reproduces its parent bit for bit)
    "reward_last_no_augmentation_no_empowerment": {"agent.discovery": "reward_last", "agent.augment_fraction": 0,
                                                   "agent.empowerment_scale": 0},
    "reward_last_no_augmentation_no_resets": {"agent.discovery": "reward_last", "agent.augment_fraction": 0,
                                              "agent.reset_interval": 0},
    # SAC with the empowerment bonus alone (no swaps, no causal weights anywhere)
    "reward_last_no_augmentation_no_weights": {"agent.discovery": "reward_last", "agent.augment_fraction": 0,
                                               "agent.entropy_weighting": 0},
    # the paper asks for a sweep of the empowerment coefficient (lambda = scale x alpha; CIP's 0.01)
    "cip_lambda_0.001": {"agent.empowerment_scale": 0.001},
    "cip_lambda_0.0001": {"agent.empowerment_scale": 0.0001},
}


def final_evaluation(root: Path, name: str) -> list[float]:
    """Per-seed mean return of the run's final deterministic evaluation."""
    return pd.read_parquet(root / name / "eval.parquet").sort_values("member").eval_return.tolist()


def plot_structure(frames: dict[str, pd.DataFrame], path: Path, task: str) -> None:
    """Per method, what discovery kept over training: the state dimensions kept as causes of the reward
    (all of them: none found) and the largest action weight (1: uniform), mean and range over seeds."""
    fig = Figure(figsize=(9, 3.2))
    axes = fig.subplots(1, 2)
    for i, (name, frame) in enumerate(frames.items()):
        for ax, y in zip(axes, ["causal_state_dims", "max_action_weight"]):
            table = frame.pivot_table(index="env_steps", columns="member", values=y).sort_index()
            ax.plot(table.index, table.mean(axis=1), color=f"C{i}", label=name)
            ax.fill_between(table.index, table.min(axis=1), table.max(axis=1), color=f"C{i}", alpha=0.15)
    axes[0].set_ylabel("state dims kept (drive the reward)")
    axes[1].set_ylabel("largest action weight w_a")
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.legend(fontsize=8)
    fig.suptitle(f"Discovered structure over training on {task} (the released control skips discovery)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report(c: ml_collections.ConfigDict, root: Path, frames: dict[str, pd.DataFrame]) -> dict:
    compare.plot_curves(frames, ["episode_return"], root / "curves.png",
                        f"{c.task}: {c.num_seeds} seeds, mean ± std; training episodes (stochastic policy), "
                        f"{c.env.num_envs} envs")
    plot_structure(frames, root / "structure.png", c.task)
    per_method, rows = compare.summarise(frames, ["episode_return"])
    rows[0] = rows[0].replace(" |", " | final eval (per seed) | training episodes, mean (area under the curve) |", 1)
    rows[1] += "---:|---:|"
    results = {"task": c.task, "num_seeds": c.num_seeds, "env_steps": int(c.agent.total_env_steps), "methods": {}}
    for i, (name, frame) in enumerate(frames.items(), start=2):
        evals = final_evaluation(root, name)
        area = frame.dropna(subset=["episode_return"]).groupby("member").episode_return.mean().to_numpy()
        results["methods"][name] = {**per_method[name], "final_eval": evals, "training_mean": area.tolist()}
        head, rest = rows[i].split(" | ", 1)
        rows[i] = (f"{head} | {np.mean(evals):.1f} ± {np.std(evals):.1f} ({', '.join(f'{e:.0f}' for e in evals)}) | "
                   f"{area.mean():.1f} ± {area.std():.1f} | {rest}")
    lines = [f"{c.task}, {c.num_seeds} seeds, {c.agent.total_env_steps:,} environment steps "
             f"({c.agent.learning_starts:,} random); final evaluation: {c.eval_episodes} deterministic episodes "
             "per seed; training episodes: the stochastic policy's returns after the random prefill", "", *rows]
    (root / "results.json").write_text(json.dumps(results, indent=2))
    (root / "table.md").write_text("\n".join(lines) + "\n")
    return results


def main_run(c: ml_collections.ConfigDict, methods: list[str], config_args: list[str]) -> dict:
    """`config_args`: the `--config...` arguments `c` came from, passed on to each method's run."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    root = Path(c.workdir or f"runs/cip_{c.task}")
    root.mkdir(parents=True, exist_ok=True)
    frames = {m: compare.run_method(m, root, config_args, METHODS[m], c) for m in methods}
    results = report(c, root, frames)
    print((root / "table.md").read_text())
    return results


RESULTS = Path(__file__).parent / "results"
# The report's rows: task -> (its name in results/, the methods run on it)
TASKS = {
    "CheetahRun": ("cheetah", ["sac", "cip", "reward_last_no_empowerment", "cip_lambda_0.001", "cip_lambda_0.0001"]),
    "WalkerWalk": ("walker", ["sac", "cip"]),
    "ReacherHard": ("reacher", ["sac", "cip"]),
    "halfcheetah": ("halfcheetah", ["sac", "cip_reward_last", "reward_last_no_empowerment", "reward_last_no_augmentation",
                                    "cip_reward_last_augment_0.1", "reward_last_no_augmentation_no_empowerment",
                                    "reward_last_no_augmentation_no_weights"]),
    "hopper": ("hopper", ["sac", "cip_reward_last", "reward_last_no_empowerment", "reward_last_no_augmentation",
                          "cip_reward_last_augment_0.1", "reward_last_no_augmentation_no_empowerment",
                          "reward_last_no_augmentation_no_weights"]),
    "walker2d": ("walker2d", ["sac", "cip_reward_last", "reward_last_no_empowerment", "reward_last_no_augmentation"]),
}


def reproduce(tasks: list[str], extra: list[str]) -> None:
    """Every task's methods (finished runs are read, not rerun), its table and plots, then the summary."""
    from experiments.cip import summary
    from experiments.launch import reproduce as reproduce_lib

    results = reproduce_lib.results_dir(RESULTS, extra)
    overrides_extra = reproduce_lib.parse_overrides(extra)
    for task in reproduce_lib.check_tasks(tasks, TASKS):
        name, methods = TASKS[task]
        overrides = {"task": task, "workdir": f"runs/cip_{task}", **overrides_extra}
        c = reproduce_lib.load_config(DEFAULT_CONFIG, overrides)
        main_run(c, methods, compare.config_args(DEFAULT_CONFIG, overrides))
        root = Path(c.workdir)
        reproduce_lib.publish({root / f: results / f"{name}_{f}" for f in
                               ("table.md", "results.json", "curves.png", "structure.png")})
    tables = summary.load(results)
    (results / "summary.md").write_text("\n".join(summary.table(tables)) + "\n")
    summary.plot(tables, results / "summary.png")


def main() -> None:
    compare.main(DEFAULT_CONFIG, list(METHODS), main_run, reproduce, list(TASKS))


if __name__ == "__main__":
    main()
