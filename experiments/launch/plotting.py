"""Plots of run metrics written to files (matplotlib `Figure`s, no pyplot state or backend)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd
from matplotlib.figure import Figure  # figures saved to files never touch pyplot or its backend


def learning_curve(metrics: pd.DataFrame, path: str | Path, title: str = "", y: str = "episode_return",
                   by: Sequence[str] = ()) -> Path:
    """Plot `y` against environment steps: the mean over seeds with a 95% band, one colour per group of `by`.

    Iterations where no episode ended (NaN) are skipped.
    """
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    _draw(ax, metrics, title, y, by)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return Path(path)


def run_grid(run_dirs: Sequence[str | Path], path: str | Path, ncols: int = 3, y: str = "episode_return") -> Path:
    """One panel per run directory (its metrics.parquet), titled from its config and summary."""
    n = len(run_dirs)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(4.2 * min(ncols, n), 3.2 * nrows))
    axes = fig.subplots(nrows, min(ncols, n), squeeze=False)
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
    return Path(path)


def _draw(ax, metrics: pd.DataFrame, title: str, y: str, by: Sequence[str] = ()) -> None:
    """Thin per-seed lines when there is one group, then the mean and band of each group."""
    from experiments.launch import results

    metrics = metrics.assign(run=metrics.get("run", "."), member=metrics.get("member", metrics.get("seed", 0)))
    if not by:
        for _, seed_rows in metrics.dropna(subset=[y]).groupby("member"):
            ax.plot(seed_rows["env_steps"], seed_rows[y], lw=0.7, alpha=0.4, color="tab:blue")
    results.plot_curves(metrics, y=y, by=list(by), ax=ax, title=title)
    ax.set_xlabel("environment steps (agent steps)")


if __name__ == "__main__":  # python -m experiments.launch.plotting OUT.png RUN_DIR [RUN_DIR ...]
    run_grid(sys.argv[2:], sys.argv[1])
