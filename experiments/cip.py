"""CIP against SAC, the released code's behaviour and the ablations, on one task, same seeds and budget.

    python -m experiments.cip --config=experiments/configs/cip.py \\
        [--methods=cip,sac,released,no_augmentation,no_empowerment,no_weights,cip_reward_last] [--config.task=WalkerWalk]

Each method is the same config with overrides (`METHODS`), one launcher run
(`experiments.run`: vmapped seeds, checkpoints, resumes) in a child process that
`experiments.watchdog` restarts if XLA:CPU wedges. Rerunning the command resumes
unfinished runs and restores finished ones.

Writes, under `runs/cip_<task>/`: one run directory per method, `results.json`,
`table.md`, `curves.png` (training episode return against environment steps, mean ±
std over seeds) and `structure.png` (what discovery kept over training, CIP's seeds).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ml_collections
import numpy as np
import pandas as pd
from absl import app, flags, logging
from matplotlib.figure import Figure

from experiments import cli, compare

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
}


def final_evaluation(root: Path, name: str) -> list[float]:
    """Per-seed mean return of the run's final deterministic evaluation."""
    return pd.read_parquet(root / name / "eval.parquet").sort_values("member").eval_return.tolist()


def plot_structure(frame: pd.DataFrame, path: Path, task: str) -> None:
    """The state dimensions discovery kept as causes of the reward, and the largest action weight."""
    fig = Figure(figsize=(9, 3.2))
    axes = fig.subplots(1, 2)
    for member, rows in frame.groupby("member"):
        axes[0].plot(rows.env_steps, rows.causal_state_dims, label=f"seed {member}")
        axes[1].plot(rows.env_steps, rows.max_action_weight, label=f"seed {member}")
    axes[0].set_ylabel("state dims kept (drive the reward)")
    axes[1].set_ylabel("largest action weight w_a")
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.legend(fontsize=8)
    fig.suptitle(f"CIP's discovered structure over training on {task}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report(c: ml_collections.ConfigDict, root: Path, frames: dict[str, pd.DataFrame]) -> dict:
    compare.plot_curves(frames, ["episode_return"], root / "curves.png",
                        f"{c.task}: {c.num_seeds} seeds, mean ± std; training episodes (stochastic policy), "
                        f"{c.env.num_envs} envs", smooth=3)
    if "cip" in frames:
        plot_structure(frames["cip"], root / "structure.png", c.task)
    per_method, rows = compare.summarise(frames, ["episode_return"])
    rows[0] = rows[0].replace(" |", " | final eval (per seed) |", 1)
    rows[1] += "---:|"
    results = {"task": c.task, "num_seeds": c.num_seeds, "env_steps": int(c.agent.total_env_steps), "methods": {}}
    for i, name in enumerate(frames, start=2):
        evals = final_evaluation(root, name)
        results["methods"][name] = {**per_method[name], "final_eval": evals}
        head, rest = rows[i].split(" | ", 1)
        rows[i] = f"{head} | {np.mean(evals):.1f} ± {np.std(evals):.1f} ({', '.join(f'{e:.0f}' for e in evals)}) | {rest}"
    lines = [f"{c.task}, {c.num_seeds} seeds, {c.agent.total_env_steps:,} environment steps "
             f"({c.agent.learning_starts:,} random); final evaluation: {c.eval_episodes} deterministic episodes "
             "per seed; episode return: training episodes, last and mean over the last quarter", "", *rows]
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


def main() -> None:
    config = cli.define_config(DEFAULT_CONFIG)
    methods = flags.DEFINE_list("methods", list(METHODS), "Methods to run.")

    def _main(argv: list[str]) -> None:
        del argv
        logging.set_verbosity(logging.WARNING)
        config_args = [a for a in sys.argv[1:] if a.startswith("--config")]
        if not any(a.startswith("--config=") for a in config_args):
            config_args.insert(0, f"--config={DEFAULT_CONFIG}")
        main_run(config.value, methods.value, config_args)

    app.run(_main)


if __name__ == "__main__":
    main()
