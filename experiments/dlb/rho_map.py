"""Where DynLin-UCB's guarantee costs regret: every method on random stable instances of
several spectral radii rho(A), all instances of all radii as one vmapped program per method.

    python -m experiments.dlb.rho_map [--config.horizon=100000] [--config.instances=10]

DynLin-UCB's radius grows like 1/(1 - rho)^2 (its c2) and its blocks like 1/log(1/rho), so
on slow systems the paper's constants may keep it exploring for the whole horizon. For each
rho in `config.rhos`, `config.instances` random instances (`envs.dlb.random_instance`:
A = Q diag(s) Q^T with ||A||_2 = rho, random B, theta, omega; the paper's budget-allocation
arms) are played once per method with the same noise for every method. Writes to the run
directory `rho_map.parquet` (one row per method and instance: regret at T and at T/10, and
whether the most-played arm is u*), `rho_map.md` (mean ± s.e. per rho), `rho_map.png` and
`summary.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import ml_collections
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from algos.bandits import core, linear
from envs import dlb
from experiments.dlb import main as dlb_main
from experiments.launch import reproduce as reproduce_lib

DEFAULT_CONFIG = str(Path(__file__).parent / "configs" / "rho_map.py")


def instances(c: ml_collections.ConfigDict) -> tuple[list[dlb.DLBInstance], np.ndarray, np.ndarray]:
    """The instances of every rho (seed 1000 * rho's index + i), their rho [I], and the arms [K, d]."""
    if not c.rhos or c.instances < 1:
        raise ValueError(f"need at least one rho and one instance, got rhos={c.rhos}, instances={c.instances}")
    bad = [r for r in c.rhos if not 0 < r < 1]
    if bad:
        raise ValueError(f"every rho must be in (0, 1) for a stable instance with blocks, got {bad}")
    found, rho = [], []
    for j, r in enumerate(c.rhos):
        for i in range(c.instances):
            found.append(dlb.random_instance(1000 * j + i, c.state_dim, c.action_dim, rho=r, noise_std=c.noise_std))
            rho.append(r)
    arms = dlb.budget_arms(c.action_dim, c.daily_budget, c.campaign_cap, c.campaign_floor)
    return found, np.asarray(rho), arms


def variants(c: ml_collections.ConfigDict) -> dict[str, tuple[str, str, float]]:
    """name -> (label, METHODS entry, radius scale): the methods, then DynLin-UCB with each radius scale."""
    out = {}
    for name in (m.strip() for m in c.methods.split(",") if m.strip()):
        if name not in dlb_main.METHODS:
            raise ValueError(f"unknown method {name!r}; choose from {sorted(dlb_main.METHODS)}")
        out[name] = (dlb_main.METHODS[name][0], name, 1.0)
    for scale in c.radius_scales:
        if not scale > 0:
            raise ValueError(f"radius scales must be > 0, got {scale}")
        out[f"dynlin_ucb_1_x{scale:g}"] = (f"DynLin-UCB (λ=1), radius × {scale:g} (not the paper's)",
                                           "dynlin_ucb_1", float(scale))
    return out


def batched_params(method: str, scale: float, found: list[dlb.DLBInstance], arms: np.ndarray,
                   c: ml_collections.ConfigDict):
    """The agent and its params for every instance, stacked [I, ...] (block schedules padded)."""
    built = [dlb_main.METHODS[method][1](inst, arms, c) for inst in found]
    agent, params = built[0][0], [p for _, p in built]
    if isinstance(params[0], linear.LinearParams):
        params = [p.replace(radius_scale=scale) for p in params]
    elif scale != 1.0:
        raise ValueError(f"a radius scale applies to the linear UCB methods only, not {method}")
    return agent, dlb_main.stack_params(params)

def run(c: ml_collections.ConfigDict, progress: bool = True) -> pd.DataFrame:
    found, rho, arms = instances(c)
    names = variants(c)
    if c.horizon % c.segments or c.segments % c.chunks or c.segments % 10:
        raise ValueError(f"horizon {c.horizon} must divide into segments {c.segments} (a multiple of 10), "
                         f"and those into chunks {c.chunks}")
    workdir = Path(c.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(c.to_json_best_effort(indent=2))
    stacked = dlb.stack(found)
    best = np.asarray([int(dlb.optimum(i, arms).arm) for i in found])
    env_keys = jax.random.split(jax.random.PRNGKey(c.seed), len(found))  # the same noise for every method
    bar = tqdm(total=len(names) * len(found) * c.horizon, unit="round", unit_scale=True, disable=not progress,
               dynamic_ncols=True)
    rows = []
    for k, (name, (label, method, scale)) in enumerate(names.items()):
        bar.set_description(name)
        agent, params = batched_params(method, scale, found, arms, c)
        agent_keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(c.seed), 1 + k), len(found))
        r = core.run_many(agent, params, stacked, arms, env_keys, agent_keys, c.horizon, c.segments,
                          params_batched=True, instance_batched=True, chunks=c.chunks,
                          on_chunk=lambda n: bar.update(n * len(found)),
                          simulate=dlb_main.simulation(c.simulate, agent, params, c.horizon))
        cum = core.cumulative(r.regret)
        rows.append(pd.DataFrame({
            "method": name, "label": label, "rho": rho, "instance": np.arange(len(found)) % c.instances,
            "regret_T": cum[:, -1], "regret_T_over_10": cum[:, c.segments // 10 - 1],
            "most_played_is_best": np.argmax(r.arm_counts, axis=1) == best,
        }))
    bar.close()
    frame = pd.concat(rows, ignore_index=True)
    frame.to_parquet(workdir / "rho_map.parquet")
    table = summarise(frame)
    (workdir / "rho_map.md").write_text(markdown(table, c))
    plot(table, workdir / "rho_map.png", c)
    (workdir / "summary.json").write_text(json.dumps(
        {"horizon": c.horizon, "instances_per_rho": c.instances, "rhos": list(c.rhos),
         "rows": table.to_dict(orient="records")}, indent=2))
    if progress:
        print(markdown(table, c))
        print(f"run directory: {workdir}")
    return frame


def growth(regret_T: np.ndarray, regret_T_over_10: np.ndarray) -> np.ndarray:
    """log10 R(T) / R(T/10): the slope of log regret over the last decade (1: linear, 0: flat)."""
    return np.log10(np.maximum(regret_T, 1e-12) / np.maximum(regret_T_over_10, 1e-12))


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method and rho: regret at T (mean, s.e.), its growth over the last decade, the share with u* most played."""
    out = []
    for (name, r), g in frame.groupby(["method", "rho"], sort=False):
        out.append({"method": name, "label": g["label"].iloc[0], "rho": r, "regret_mean": g["regret_T"].mean(),
                    "regret_se": g["regret_T"].std(ddof=1) / np.sqrt(len(g)) if len(g) > 1 else 0.0,
                    "growth": float(np.median(growth(g["regret_T"].to_numpy(), g["regret_T_over_10"].to_numpy()))),
                    "best_arm_share": g["most_played_is_best"].mean(), "n": len(g)})
    return pd.DataFrame(out)


def markdown(table: pd.DataFrame, c: ml_collections.ConfigDict) -> str:
    rhos = sorted(table["rho"].unique())
    head = "| method | " + " | ".join(f"ρ = {r:g}" for r in rhos) + " |"
    lines = [f"Regret at T = {c.horizon:,} (mean ± s.e. over {c.instances} instances per ρ); in brackets the "
             "median growth log10 R(T)/R(T/10) (1: linear) and the share of instances whose most-played arm is u*.",
             "", head, "|---|" + "---:|" * len(rhos)]
    for name, g in table.groupby("method", sort=False):
        g = g.set_index("rho")
        cells = [f"{g.loc[r, 'regret_mean']:.0f} ± {g.loc[r, 'regret_se']:.0f} "
                 f"({g.loc[r, 'growth']:.2f}; {100 * g.loc[r, 'best_arm_share']:.0f}%)" for r in rhos]
        lines.append(f"| {g['label'].iloc[0]} | " + " | ".join(cells) + " |")
    winners = table.loc[table.groupby("rho")["regret_mean"].idxmin()]
    lines += ["", "Lowest mean regret: " + "; ".join(f"ρ = {r.rho:g}: {r.label}" for r in winners.itertuples()) + "."]
    return "\n".join(lines) + "\n"


def plot(table: pd.DataFrame, path: Path, c: ml_collections.ConfigDict) -> None:
    fig = Figure(figsize=(11, 4.2))
    ax, ax2 = fig.subplots(1, 2)
    for name, g in table.groupby("method", sort=False):
        style = "o-" if name.startswith("dynlin") else "s--"
        line, = ax.plot(g["rho"], g["regret_mean"], style, lw=1.6, label=g["label"].iloc[0])
        ax.fill_between(g["rho"], np.maximum(g["regret_mean"] - g["regret_se"], 1e-3),
                        g["regret_mean"] + g["regret_se"], alpha=0.15, color=line.get_color())
        ax2.plot(g["rho"], 100 * g["best_arm_share"], style, lw=1.6, color=line.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("spectral radius ρ(A)")
    ax.set_ylabel(f"regret at T = {c.horizon:,} (mean ± s.e.)")
    ax2.set_xlabel("spectral radius ρ(A)")
    ax2.set_ylabel("instances whose most-played arm is u* (%)")
    ax2.set_ylim(-3, 103)
    for a in (ax, ax2):
        a.grid(alpha=0.3, which="both")
    ax2.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="lower left")  # the left panel's lines fill it
    fig.suptitle(f"{c.instances} random instances per ρ (n = {c.state_dim}, d = {c.action_dim}, "
                 f"σ = {c.noise_std:g})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    reproduce_lib.command(DEFAULT_CONFIG, run, errors=(ValueError,))  # DLBError is one


if __name__ == "__main__":
    main()
