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
    """Plot `y` against environment steps: every seed's line, and per group of `by` the mean with the
    seeds' range shaded.

    Iterations where no episode ended (NaN) are skipped; a run in which none ended gets a plot that says so.
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
        evaluated = summary.get("eval_return_mean") is not None
        title = (f"{config['algo'].upper()} {config['task']} (AR {config['env']['action_repeat']})\n"
                 + (f"eval {summary['eval_return_mean']:.0f} ± {summary['eval_return_std']:.0f}" if evaluated
                    else "not evaluated"))
        _draw(ax, pd.read_parquet(run_dir / "metrics.parquet"), title, y)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return Path(path)


def _draw(ax, metrics: pd.DataFrame, title: str, y: str, by: Sequence[str] = ()) -> None:
    """Thin per-seed lines (so a collapse shows), then the mean and the seeds' range of each group."""
    from experiments.launch import results

    metrics = metrics.assign(run=metrics.get("run", "."), member=metrics.get("member", metrics.get("seed", 0)))
    for _, seed_rows in metrics.dropna(subset=[y]).groupby(["run", "member"]):
        ax.plot(seed_rows["env_steps"], seed_rows[y], lw=0.7, alpha=0.5, color="0.55")
    results.plot_curves(metrics, y=y, by=list(by), ax=ax, title=title)
    ax.set_xlabel("environment steps (agent steps)")


if __name__ == "__main__":  # python -m experiments.launch.plotting OUT.png RUN_DIR [RUN_DIR ...]
    run_grid(sys.argv[2:], sys.argv[1])
