"""Plots of run metrics (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def learning_curve(metrics: pd.DataFrame, path: str | Path, title: str = "", y: str = "episode_return") -> Path:
    """Plot `y` against environment steps, skipping iterations where no episode ended."""
    data = metrics[["env_steps", y]].dropna()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(data["env_steps"], data[y], marker=".", lw=1.5)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(y.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
