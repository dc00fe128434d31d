"""Plots of run metrics (matplotlib, headless)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def learning_curve(metrics: pd.DataFrame, path: str | Path, title: str = "", y: str = "episode_return") -> Path:
    """Plot `y` against environment steps: one thin line per seed and their mean with a min-max band.

    Iterations where no episode ended (NaN) are skipped; the mean is taken over the
    seeds that have a value at each step.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    _draw(ax, metrics, title, y)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def run_grid(run_dirs: Sequence[str | Path], path: str | Path, ncols: int = 3, y: str = "episode_return") -> Path:
    """One panel per run directory (its metrics.parquet), titled from its config and summary."""
    n = len(run_dirs)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, min(ncols, n), figsize=(4.2 * min(ncols, n), 3.2 * nrows), squeeze=False)
    for ax, run_dir in zip(axes.flat, run_dirs):
        run_dir = Path(run_dir)
        config = json.loads((run_dir / "config.json").read_text())
        summary = json.loads((run_dir / "summary.json").read_text())
        title = (f"{config['algo'].upper()} {config['task']} (AR {config['env']['action_repeat']})\n"
                 f"eval {summary['eval_return_mean']:.0f} ± {summary['eval_return_std']:.0f}")
        _draw(ax, pd.read_parquet(run_dir / "metrics.parquet"), title, y)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _draw(ax, metrics: pd.DataFrame, title: str, y: str) -> None:
    data = metrics[["seed", "env_steps", y]].dropna() if "seed" in metrics else metrics[["env_steps", y]].dropna()
    if "seed" in data and data["seed"].nunique() > 1:
        for _, group in data.groupby("seed"):
            ax.plot(group["env_steps"], group[y], lw=0.7, alpha=0.4, color="tab:blue")
        stats = data.groupby("env_steps")[y].agg(["mean", "min", "max"])
        ax.fill_between(stats.index, stats["min"], stats["max"], alpha=0.15, color="tab:blue")
        ax.plot(stats.index, stats["mean"], lw=2.0, color="tab:blue", label=f"mean of {data['seed'].nunique()} seeds")
        ax.legend(loc="best")
    else:
        ax.plot(data["env_steps"], data[y], marker=".", lw=1.5)
    ax.set_xlabel("environment steps (agent steps)")
    ax.set_ylabel(y.replace("_", " "))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)


if __name__ == "__main__":  # python -m experiments.plotting OUT.png RUN_DIR [RUN_DIR ...]
    run_grid(sys.argv[2:], sys.argv[1])
