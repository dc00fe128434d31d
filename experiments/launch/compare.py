"""Methods side by side on one task: each one launcher run in a watched child, then curves and a table.

The paper-specific drivers (`experiments.ads.main`, `experiments.cip.main`) name their methods as
config overrides of one base config, run each with `run_method` (same seeds, budget and
data; resumes from checkpoints; restarted by `experiments.launch.watchdog` if XLA:CPU wedges),
and report with `plot_curves` and `summarise`.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import ml_collections
import numpy as np
import pandas as pd
from absl import app, flags, logging
from matplotlib.figure import Figure

from experiments.launch import cli, run, sweep, validation, watchdog


def run_method(name: str, root: Path, config_args: Sequence[str], overrides: Mapping[str, Any],
               config: ml_collections.ConfigDict | None = None) -> pd.DataFrame:
    """`python -m experiments.launch.run <config_args> --config.<k>=<v>...` in `root/name`; its metrics, with `method`.

    `config`: the config `config_args` give; when `root/name` already holds its finished run (with the
    overrides), that run is read instead of started again (a rerun would only restore and re-evaluate it).
    """
    workdir = root / name
    if config is not None:
        resolved = copy.deepcopy(config)
        for key, value in {**overrides, "workdir": str(workdir)}.items():
            sweep.set_value(resolved, key, value)
        if run.is_finished(resolved, workdir):
            return pd.read_parquet(workdir / "metrics.parquet").assign(method=name)
    args = ["-m", "experiments.launch.run", *config_args, *(f"--config.{k}={v}" for k, v in overrides.items()),
            f"--config.workdir={workdir}"]
    code = watchdog.run_watched(args)
    if code != 0:
        raise RuntimeError(f"the {name} run failed (exit code {code}); rerun to resume it")
    return pd.read_parquet(workdir / "metrics.parquet").assign(method=name)


def curve(ax, frame: pd.DataFrame, y: str, label: str, color: str) -> None:
    """Mean ± std over members of `y` against environment steps (rows where `y` is NaN left out)."""
    table = frame.pivot_table(index="env_steps", columns="member", values=y).sort_index()
    mean, std = table.mean(axis=1), table.std(axis=1, ddof=0)
    ax.plot(table.index, mean, color=color, label=label)
    ax.fill_between(table.index, mean - std, mean + std, color=color, alpha=0.15)


def plot_curves(frames: Mapping[str, pd.DataFrame], ys: Sequence[str], path: Path, title: str,
                hlines: Sequence[tuple[str, Mapping[str, float], Mapping[str, Any]]] = ()) -> None:
    """One panel per metric in `ys`, one band per method; `hlines`: (label, {metric: value}, line style)."""
    fig = Figure(figsize=(5.2 * len(ys), 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(ys)))
    for ax, y in zip(axes, ys):
        for i, (name, frame) in enumerate(frames.items()):
            curve(ax, frame, y, name, f"C{i}")
        for label, values, style in hlines:
            if y in values:
                ax.axhline(values[y], label=label, **style)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(y.replace("_", " "))
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def summarise(frames: Mapping[str, pd.DataFrame], ys: Sequence[str]) -> tuple[dict[str, dict], list[str]]:
    """Per method and metric: the per-member value at the last row that has one, and the per-member mean over
    the last quarter of training. Returns that as a dict and as markdown table rows (header first)."""
    names = [y.removeprefix("eval_").replace("_", " ") for y in ys]
    lines = ["| method | " + " | ".join(f"{n} (last) | {n} (last quarter)" for n in names) + " |",
             "|---|" + "---:|" * (2 * len(ys))]
    results = {}
    for name, frame in frames.items():
        entry, cells = {}, []
        for y in ys:
            rows = frame.dropna(subset=[y])
            last = rows[rows.iteration == rows.iteration.max()].sort_values("member")[y].to_numpy()
            late = rows[rows.iteration > 0.75 * frame.iteration.max()].groupby("member")[y].mean().to_numpy()
            entry[y] = {"last": last.tolist(), "last_quarter": late.tolist()}
            cells += [f"{last.mean():.2f} ± {last.std():.2f}", f"{late.mean():.2f} ± {late.std():.2f}"]
        results[name] = entry
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return results, lines


def config_args(path: str | Path, overrides: Mapping[str, Any]) -> list[str]:
    """The command-line arguments of a config file with overrides, for `run_method`'s children."""
    return [f"--config={path}", *(f"--config.{k}={v}" for k, v in overrides.items())]


def main(default_config: str, default_methods: Sequence[str],
         main_run: Callable[[ml_collections.ConfigDict, list[str], list[str]], Any],
         reproduce: Callable[[list[str], list[str]], Any] | None = None, tasks: Sequence[str] = ()) -> None:
    """A driver's command line: `--config=...` (overrides passed on to every method's run) and `--methods=...`;
    with `reproduce` given, also `python -m ... reproduce --tasks=... [--override=KEY=VALUE ...]`."""
    from experiments.launch import reproduce as reproduce_lib

    config = cli.define_config(default_config)
    methods = flags.DEFINE_list("methods", list(default_methods), "Methods to run.")
    task_flag, override_flag = reproduce_lib.define_flags(tasks) if reproduce else (None, None)

    def _main(argv: list[str]) -> None:
        logging.set_verbosity(logging.WARNING)
        args = [f"--config={config.path}", *(a for a in sys.argv[1:] if a.startswith("--config."))]
        try:
            if reproduce is not None and reproduce_lib.is_reproduce(argv):
                reproduce(task_flag.value, override_flag.value)
            else:
                main_run(config.value, methods.value, args)
        except (validation.ConfigError, ValueError, FileNotFoundError) as e:
            raise SystemExit(f"error: {e}") from None

    app.run(_main)
