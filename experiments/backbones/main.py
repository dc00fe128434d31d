"""The backbones' report: PPO and SAC on the tasks of `REPORT.md`, each row one launcher run.

    python -m experiments.backbones.main reproduce [--tasks=ppo_cartpole,sac_cartpole,...] [--override=KEY=VALUE]
    python -m experiments.backbones.main --config=experiments/backbones/configs/sac.py ...   # one run, as launch.run

Each row trains 3 seeds as one vmapped program (finished runs are read, not retrained) and
the command writes `results/table.md` (final deterministic evaluation per seed) and
`results/runs.png` (every row's learning curves, every seed drawn).
"""

from __future__ import annotations

import json
from pathlib import Path

from experiments.launch import cli, loop, plotting, validation
from experiments.launch import reproduce as reproduce_lib
from experiments.launch import run as run_lib

CONFIGS = Path(__file__).parent / "configs"
RESULTS = Path(__file__).parent / "results"
THREE = {"num_seeds": 3}
# The rows of the report whose settings are config files here: name -> (config, overrides)
ROWS = {
    "ppo_cartpole": (CONFIGS / "ppo.py", THREE),
    "sac_cartpole": (CONFIGS / "sac.py", THREE),
    "sac_pendulum_ar4": (CONFIGS / "sac.py", {**THREE, "task": "PendulumSwingup", "env.action_repeat": 4}),
    "sac_cheetah": (CONFIGS / "sac.py", {**THREE, "task": "CheetahRun"}),
    "ppo_cartpole_swingup": (CONFIGS / "ppo_swingup.py", THREE),
    "ppo_reacher_easy": (CONFIGS / "ppo_swingup.py", {**THREE, "task": "ReacherEasy", "agent.total_env_steps": 3_000_000}),
    "ppo_point_mass": (CONFIGS / "ppo_swingup.py", {**THREE, "task": "PointMass", "agent.total_env_steps": 3_000_000}),
}


def reproduce(rows: list[str], extra: list[str]) -> list[dict]:
    results = reproduce_lib.results_dir(RESULTS, extra)
    summaries, lines = [], ["| row | algo | task | env steps | final eval (mean ± std) | per seed |", "|---|---|---|---:|---:|---|"]
    workdirs = []
    for name in reproduce_lib.check_tasks(rows, ROWS):
        path, overrides = ROWS[name]
        config = reproduce_lib.load_config(path, {**overrides, "workdir": f"runs/backbones_{name}"}, extra)
        workdir = Path(config.workdir)
        summary = (json.loads((workdir / "summary.json").read_text()) if run_lib.is_finished(config, workdir)
                   else run_lib.run(config).summary)
        summaries.append(summary)
        workdirs.append(workdir)
        per_seed = ", ".join(f"{x:.0f}" for x in summary["eval_return_per_member"] if x is not None)
        lines.append(f"| {name} | {summary['algo']} | {summary['task']} | {summary['env_steps']:,} | "
                     f"{summary['eval_return_mean']:.1f} ± {summary['eval_return_std']:.1f} | {per_seed} |")
    results.mkdir(parents=True, exist_ok=True)
    (results / "table.md").write_text("\n".join(lines) + "\n")
    plotting.run_grid(workdirs, results / "runs.png")
    print("\n".join(lines))
    return summaries


def main() -> None:
    reproduce_lib.command(cli.DEFAULT_CONFIG, run_lib.run, reproduce, list(ROWS),
                          (validation.ConfigError, loop.NonFiniteError, ValueError))


if __name__ == "__main__":
    main()
