"""Plots of run metrics (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def learning_curve(metrics: pd.DataFrame, path: str | Path, title: str = "", y: str = "episode_return") -> Path:
    """Plot `y` against environment steps: one thin line per seed and their mean with a min-max band.

    Iterations where no episode ended (NaN) are skipped; the mean is taken over the
    seeds that have a value at each step.
    """
    data = metrics[["seed", "env_steps", y]].dropna() if "seed" in metrics else metrics[["env_steps", y]].dropna()
    fig, ax = plt.subplots(figsize=(6, 4))
    if "seed" in data and data["seed"].nunique() > 1:
        for _, group in data.groupby("seed"):
            ax.plot(group["env_steps"], group[y], lw=0.7, alpha=0.4, color="tab:blue")
        stats = data.groupby("env_steps")[y].agg(["mean", "min", "max"])
        ax.fill_between(stats.index, stats["min"], stats["max"], alpha=0.15, color="tab:blue")
        ax.plot(stats.index, stats["mean"], lw=2.0, color="tab:blue", label=f"mean of {data['seed'].nunique()} seeds")
        ax.legend(loc="best")
    else:
        ax.plot(data["env_steps"], data[y], marker=".", lw=1.5)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(y.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
