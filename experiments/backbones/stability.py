"""Does a run keep what it learns? Per seed: when its training return first reached a level,
the largest fall from its best return after that, and its final deterministic evaluation.

    python -m experiments.backbones.stability RUN_DIR [--level=950] [--max_fall=0.2] [--min_eval=900]

prints one row per seed and whether every seed holds (final evaluation >= `min_eval`, and no
fall of more than `max_fall` of the running best once `level` was reached). Issue 31's check of
the main job uses the defaults.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.launch import results


def largest_fall(returns: np.ndarray, level: float) -> tuple[int | None, float]:
    """(index of the first return >= level or None, the largest (best_so_far - r) / best_so_far after it).

    `returns` [T] is one seed's training return per iteration, NaN where no episode ended
    (those are skipped). A seed that never reaches `level` has no fall: (None, nan).
    """
    r = np.asarray(returns, np.float64)
    reached = np.flatnonzero(np.nan_to_num(r, nan=-np.inf) >= level)
    if reached.size == 0:
        return None, float("nan")
    after = r[reached[0]:]
    after = after[~np.isnan(after)]
    best = np.maximum.accumulate(after)
    return int(reached[0]), float(np.max((best - after) / np.abs(best)))


def seed_table(run_dir: str | Path, level: float = 950.0, y: str = "episode_return") -> pd.DataFrame:
    """One row per member of the run at `run_dir`: seed, reached_at (env steps), largest_fall,
    final training return (the mean of the last 10 iterations with an ended episode), eval_return, and
    the member's gridded values (`agent.<name>` columns), if any."""
    metrics = results.load(run_dir)
    gridded = [c for c in metrics.columns if c.startswith("agent.") and metrics[c].nunique() > 1]
    try:
        evals = results.load_eval(run_dir).set_index("member")["eval_return"]
    except FileNotFoundError:  # still training: no evaluation yet
        evals = pd.Series(dtype=float)
    rows = []
    for member, group in metrics.sort_values("iteration").groupby("member"):
        at, fall = largest_fall(group[y].to_numpy(), level)
        ended = group[y].dropna()
        rows.append({"member": int(member), "seed": int(group["seed"].iloc[0]),
                     **{c: group[c].iloc[0] for c in gridded},
                     "reached_at": None if at is None else int(group["env_steps"].iloc[at]),
                     "largest_fall": fall, "final_train_return": float(ended.tail(10).mean()),
                     "eval_return": float(evals.get(member, np.nan))})
    return pd.DataFrame(rows)


def holds(table: pd.DataFrame, min_eval: float = 900.0, max_fall: float = 0.2) -> pd.Series:
    """Per seed: it evaluates >= `min_eval` at the end, and once its training return reached the level it
    never fell by more than `max_fall` (a seed that never reached it has no fall; the table shows that)."""
    return (table["largest_fall"].fillna(0.0) <= max_fall) & (table["eval_return"] >= min_eval)


def markdown(table: pd.DataFrame, level: float, min_eval: float, max_fall: float) -> str:
    ok = holds(table, min_eval, max_fall)
    gridded = [c for c in table.columns if c.startswith("agent.")]
    lines = [f"| {''.join(c + ' | ' for c in gridded)}seed | first reached {level:.0f} at (env steps) | largest fall after it | final training return | "
             f"final eval | holds |", "|" + "---:|" * (len(gridded) + 5) + ":-:|"]
    for (_, row), good in zip(table.iterrows(), ok):
        at = "never" if pd.isna(row["reached_at"]) else f"{int(row['reached_at']):,}"
        fall = "-" if pd.isna(row["largest_fall"]) else f"{100 * row['largest_fall']:.0f}%"
        values = "".join(f"{row[c]:g} | " for c in gridded)
        lines.append(f"| {values}{int(row['seed'])} | {at} | {fall} | {row['final_train_return']:.0f} | "
                     f"{row['eval_return']:.0f} | {'yes' if good else '**no**'} |")
    for c in gridded:
        for value, group in ok.groupby(table[c]):
            lines.append(f"\n{c} = {value:g}: {int(group.sum())} of {len(group)} seeds hold.")
    lines.append(f"\n{int(ok.sum())} of {len(table)} seeds hold (final eval >= {min_eval:.0f}, "
                 f"no fall of more than {100 * max_fall:.0f}% after first reaching {level:.0f}).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--level", type=float, default=950.0)
    parser.add_argument("--max_fall", type=float, default=0.2)
    parser.add_argument("--min_eval", type=float, default=900.0)
    args = parser.parse_args(argv)
    table = seed_table(args.run_dir, args.level)
    print(markdown(table, args.level, args.min_eval, args.max_fall))
    return 0 if holds(table, args.min_eval, args.max_fall).all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
