"""The run store's public API: tidy DataFrames of runs and sweeps, curves and tables over seeds.

    from experiments.launch import results
    df = results.load("runs/my_sweep")            # one row per run, member and iteration
    results.plot_curves(df, by=["agent.learning_rate"])
    results.table(df, "episode_return", at_step=50_000, by=["agent.learning_rate"])
    results.load_eval("runs/my_sweep")             # one row per run and member: eval_return

`load` accepts a run directory (one with `config.json` and `metrics.parquet`) or any
directory above run directories (a sweep); runs that have not written metrics yet,
or failed, are skipped with their paths listed in `df.attrs["skipped"]`.
Columns: `run` (the run directory relative to `path`), every config value flattened
as `section.key` (tuples as strings), `member`, `seed`, then `iteration`,
`env_steps` and the metrics. A member's gridded hyperparameters overwrite the
config's value in their `agent.<name>` column, so that column always holds the
value that member trained with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats


def flatten_config(config: dict, prefix: str = "", skip_grid: bool = True) -> dict:
    """{"section.key": value} of a config dict; sequences as strings (hashable table cells).

    `skip_grid`: leave out `grid` (in a run's tables the gridded values are per-member columns).
    """
    out = {}
    for k, v in config.items():
        if isinstance(v, dict):
            if k == "grid" and skip_grid:
                continue
            out.update(flatten_config(v, f"{prefix}{k}.", skip_grid))
        else:
            out[f"{prefix}{k}"] = str(tuple(v)) if isinstance(v, (list, tuple)) else v
    return out


def run_dirs(path: str | Path) -> list[Path]:
    """Every run directory at or below `path` (it has a config.json), sorted."""
    path = Path(path)
    return sorted(p.parent for p in path.rglob("config.json") if "checkpoints" not in p.parts)


def _load_table(path: str | Path, table: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory of runs")
    frames, skipped = [], []
    for run in run_dirs(path):
        file = run / table
        if not file.exists():
            skipped.append(str(run))
            continue
        rows = pd.read_parquet(file)
        config = flatten_config(json.loads((run / "config.json").read_text()))
        config = {k: v for k, v in config.items() if k not in rows.columns}
        frame = pd.concat([pd.DataFrame([config] * len(rows), index=rows.index), rows], axis=1)
        frame.insert(0, "run", str(run.relative_to(path)) if run != path else ".")
        frames.append(frame)
    if not frames:
        raise FileNotFoundError(f"no run under {path} has a {table} (runs without one: {skipped})")
    df = pd.concat(frames, ignore_index=True)
    df.attrs["skipped"] = skipped
    return df


def load(path: str | Path) -> pd.DataFrame:
    """One tidy frame of every run's metrics at or below `path` (see the module docstring)."""
    return _load_table(path, "metrics.parquet")


def load_eval(path: str | Path) -> pd.DataFrame:
    """One row per run and member: config columns, member, seed, eval_return."""
    return _load_table(path, "eval.parquet")


def varying_columns(df: pd.DataFrame) -> list[str]:
    """Config columns whose value differs between rows (what a sweep varied), seeds excluded."""
    skip = {"run", "member", "seed", "iteration", "env_steps", "workdir"}
    config_cols = [c for c in df.columns if "." in c or c in ("algo", "task", "num_seeds")]
    return [c for c in config_cols if c not in skip and df[c].astype(str).nunique() > 1]


def _ci(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Mean and a Student-t confidence interval over seeds (degenerate for one seed)."""
    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * np.std(values, ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def aggregate(df: pd.DataFrame, y: str = "episode_return", x: str = "env_steps",
              by: Sequence[str] | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Mean of `y` over seeds at each `x`, per group of `by` (default: `varying_columns`).

    Returns columns `*by, x, mean, lo, hi, min, max, n` (lo/hi: a `confidence` Student-t
    interval; min/max: the seeds' range; n: the seeds that have a value there). NaN values of
    `y` (no episode ended) are skipped.
    """
    by = list(varying_columns(df) if by is None else by)
    data = df.dropna(subset=[y])
    rows = []
    for key, group in data.groupby(by + [x], sort=True):
        key = key if isinstance(key, tuple) else (key,)
        values = group[y].to_numpy()
        mean, lo, hi = _ci(values, confidence)
        rows.append((*key, mean, lo, hi, float(values.min()), float(values.max()), len(group)))
    return pd.DataFrame(rows, columns=by + [x, "mean", "lo", "hi", "min", "max", "n"])


def table(df: pd.DataFrame, y: str = "episode_return", at_step: int | None = None,
          by: Sequence[str] | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Per group of `by`: mean and confidence interval over seeds of each seed's last `y` at or before `at_step`.

    `at_step=None` takes each seed's last value. Seeds are the (run, member) pairs.
    """
    by = list(varying_columns(df) if by is None else by)
    data = df.dropna(subset=[y])
    if at_step is not None:
        data = data[data["env_steps"] <= at_step]
    last = data.sort_values("env_steps").groupby(["run", "member"], sort=False).tail(1)
    rows = []
    for key, group in (last.groupby(by, sort=True) if by else [((), last)]):
        key = key if isinstance(key, tuple) else (key,)
        mean, lo, hi = _ci(group[y].to_numpy(), confidence)
        rows.append((*key, mean, lo, hi, len(group), int(group["env_steps"].min())))
    return pd.DataFrame(rows, columns=by + [f"{y}_mean", "ci_lo", "ci_hi", "seeds", "at_env_steps"])


def plot_curves(df: pd.DataFrame, y: str = "episode_return", x: str = "env_steps",
                by: Sequence[str] | None = None, ax=None, confidence: float = 0.95, title: str = "",
                band: str = "range"):
    """Mean over seeds with a band, one colour per group of `by`; returns the axes.

    `band`: "range" (default) shades from the lowest to the highest seed, so the band never
    claims a value no seed reached and a collapsing seed shows; "ci" shades a `confidence`
    Student-t interval of the mean. With no value of `y` at all (no episode ended), the axes
    say so instead of drawing.
    """
    import matplotlib.pyplot as plt

    if band not in ("range", "ci"):
        raise ValueError(f"band must be 'range' or 'ci', got {band!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    by = list(varying_columns(df) if by is None else by)
    agg = aggregate(df, y, x, by, confidence)
    groups = agg.groupby(by, sort=True) if by and len(agg) else [((), agg)]
    for key, group in groups:
        if not len(group):
            ax.text(0.5, 0.5, f"no {y.replace('_', ' ')} recorded (no episode ended)", ha="center", va="center",
                    transform=ax.transAxes, fontsize=9)
            continue
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{b.split('.')[-1]}={k}" for b, k in zip(by, key)) or None
        n = int(group["n"].max())
        line, = ax.plot(group[x], group["mean"], lw=2.0, label=f"{label} (n={n})" if label else f"mean of {n} seeds")
        lo, hi = (group["min"], group["max"]) if band == "range" else (group["lo"], group["hi"])
        ax.fill_between(group[x], lo, hi, alpha=0.2, color=line.get_color(), lw=0)
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    shade = "range over seeds" if band == "range" else f"{confidence:.0%} CI"
    ax.set_title(title or f"{y.replace('_', ' ')}: mean and {shade}", fontsize=9)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    return ax
