"""CIP against SAC over every task run so far, in one table and one plot.

    python -m experiments.cip.summary [--results experiments/cip/results] [--out experiments/cip/results/summary]

Reads every `*_results.json` that `experiments.cip.main` wrote (a task's methods may be spread
over several files: later comparisons reuse the earlier runs) and, per task, divides each
method's per-seed numbers by SAC's mean on that task, so 1 is level with SAC:

- the training return averaged over the run (the area under the learning curve, what
  sample efficiency means at a fixed budget);
- the final deterministic evaluation.

Writes `<out>.md` (absolute numbers and ratios) and `<out>.png` (the ratios, a bar per
method's mean and a dot per seed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

# What each bar shows, and the METHODS of `experiments.cip.main` that can fill it (the first present).
# "CIP (all parts)" is DirectLiNGAM on the DM Control tasks but the reward-last discovery on Brax's
# (`cip_reward_last`: not the paper's discovery; the table's `run` column names which); on the DM
# Control tasks discovery found no parent, so nothing was swapped there and `cip` already is CIP
# without swaps.
ROLES = {
    "CIP (all parts)": ("cip", "cip_reward_last"),
    "CIP without the bonus": ("reward_last_no_empowerment",),
    "CIP without swaps": ("reward_last_no_augmentation",),
    "CIP without swaps or bonus": ("reward_last_no_augmentation_no_empowerment",),
    "SAC + empowerment bonus": ("reward_last_no_augmentation_no_weights",),
}
TASK_ORDER = ("CheetahRun", "WalkerWalk", "ReacherHard", "HopperHop", "halfcheetah", "hopper", "walker2d")
METRICS = {"training_mean": "training return over the run (area)", "final_eval": "final deterministic evaluation"}


def load(results_dir: Path) -> dict[str, dict]:
    """{task: {"env_steps", "num_seeds", "methods": {method: {"final_eval": [...], "training_mean": [...]}}}}.

    A method found in two files must carry the same numbers in both (it is one run read twice);
    otherwise the files disagree about what was run, and this raises rather than pick one.
    """
    tasks: dict[str, dict] = {}
    for path in sorted(results_dir.glob("*_results.json")):
        data = json.loads(path.read_text())
        if "methods" not in data or "task" not in data:
            continue  # another tool's file
        task = tasks.setdefault(data["task"], {"env_steps": data["env_steps"], "num_seeds": data["num_seeds"],
                                               "methods": {}, "files": {}})
        if (data["env_steps"], data["num_seeds"]) != (task["env_steps"], task["num_seeds"]):
            raise ValueError(f"{path}: {data['task']} at {data['env_steps']} steps and {data['num_seeds']} seeds, "
                             f"but another file has {task['env_steps']} and {task['num_seeds']}")
        for name, entry in data["methods"].items():
            numbers = {k: entry[k] for k in METRICS}
            if name in task["methods"] and task["methods"][name] != numbers:
                raise ValueError(f"{data['task']}/{name}: {path} and {task['files'][name]} hold different runs")
            task["methods"][name] = numbers
            task["files"].setdefault(name, path)
    return tasks


def ratios(task: dict, method: str, metric: str) -> np.ndarray:
    """Per-seed `metric` of `method` divided by SAC's mean on the task (NaN if SAC's mean is not positive)."""
    sac = np.mean(task["methods"]["sac"][metric])
    values = np.asarray(task["methods"][method][metric], float)
    return values / sac if sac > 0 else np.full_like(values, np.nan)


def rows(tasks: dict[str, dict]) -> list[tuple[str, str, str]]:
    """(task, role, method) for every task with a SAC run and every role that task has a run for."""
    ordered = sorted(tasks, key=lambda t: (TASK_ORDER.index(t) if t in TASK_ORDER else len(TASK_ORDER), t))
    out = []
    for task in ordered:
        methods = tasks[task]["methods"]
        if "sac" not in methods:
            continue
        out.append((task, "SAC", "sac"))
        for role, candidates in ROLES.items():
            found = next((m for m in candidates if m in methods), None)
            if found:
                out.append((task, role, found))
    return out


def table(tasks: dict[str, dict]) -> list[str]:
    lines = ["| task | steps | method | run | final eval | x SAC | training return, mean over the run | x SAC |",
             "|---|---:|---|---|---:|---:|---:|---:|"]
    for task, role, method in rows(tasks):
        t = tasks[task]
        cells = []
        for metric in ("final_eval", "training_mean"):
            v = np.asarray(t["methods"][method][metric])
            cells += [f"{v.mean():.1f} ± {v.std():.1f}", f"{np.mean(ratios(t, method, metric)):.2f}"]
        lines.append(f"| {task} | {t['env_steps'] // 1000}k | {role} | `{method}` | " + " | ".join(cells) + " |")
    return lines


def plot(tasks: dict[str, dict], path: Path) -> None:
    selected = rows(tasks)
    names = list(dict.fromkeys(task for task, _, _ in selected))
    roles = ["SAC", *ROLES]
    width = 0.8 / len(roles)
    fig = Figure(figsize=(13, 4.5))
    axes = fig.subplots(1, 2)
    for ax, (metric, label) in zip(axes, METRICS.items()):
        labelled = set()
        for task, role, method in selected:
            r = ratios(tasks[task], method, metric)
            j = roles.index(role)
            x = names.index(task) - 0.4 + (j + 0.5) * width
            ax.bar(x, np.mean(r), width, color=f"C{j}", label=None if role in labelled else role)
            labelled.add(role)
            ax.scatter(np.full(r.shape, x), r, s=8, color="k", zorder=3)
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
        ax.set_ylabel(f"{label} / SAC's mean")
    axes[0].legend(fontsize=7)
    steps = sorted({tasks[t]["env_steps"] for t in names})
    fig.suptitle(f"CIP and its parts against SAC: {', '.join(f'{s:,}' for s in steps)} environment steps, "
                 "bars the mean over seeds, dots the seeds (1 = SAC's mean)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("experiments/cip/results"))
    parser.add_argument("--out", type=Path, default=Path("experiments/cip/results/summary"))
    args = parser.parse_args()
    tasks = load(args.results)
    if not rows(tasks):
        raise SystemExit(f"no task with a SAC run in {args.results}/*_results.json")
    lines = table(tasks)
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    plot(tasks, args.out.with_suffix(".png"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
