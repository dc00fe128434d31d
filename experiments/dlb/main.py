"""The DLB paper's experiments: every method on one instance, vmapped over trials.

    python -m experiments.dlb.main --config=experiments/dlb/configs/synthetic.py [--config.noise_std=0.1]

Writes to the run directory: `regret.parquet` (cumulative regret per method, trial and
recorded round; both the paper's expected regret and the official code's steady-state
regret), `regret.png` (mean and standard error over trials, as the paper plots),
`table.md` (regret at T), `summary.json`, and with `slope_horizons` set, `slope.json`
and `slope.png` (DynLin-UCB's final regret against T on log-log axes, fitted slope).
Each trial uses the same noise for every method (common random numbers), unless
`--config.simulate=holds` plays DynLin-UCB's blocks whole (same distribution, other noise).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import jax
import ml_collections
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from algos.bandits import classic, core, linear
from envs import dlb
from experiments.launch import reproduce as reproduce_lib

DEFAULT_CONFIG = str(Path(__file__).parent / "configs" / "synthetic.py")

# name -> (label, builder(instance, arms, config) -> (agent, params, agent arms))
Builder = Callable[[dlb.DLBInstance, np.ndarray, ml_collections.ConfigDict], tuple]


def _linear(**kw) -> Builder:
    def build(instance, arms, c):
        lam = math.log(c.horizon) if kw.get("lam") == "logT" else 1.0
        options = {k: v for k, v in kw.items() if k != "lam"}
        return linear.AGENT, linear.params(instance, arms, c.horizon, lam=lam, budget=c.daily_budget, **options)
    return build


def _log_t_baseline(paper: dict, code: dict) -> Builder:
    def build(instance, arms, c):
        return _linear(lam="logT", **(code if c.code_baselines else paper))(instance, arms, c)
    return build


METHODS: dict[str, tuple[str, Builder]] = {
    "clairvoyant": ("Clairvoyant", lambda inst, arms, c: (classic.FIXED, classic.oracle_params(inst, arms))),
    "dynlin_ucb_1": ("DynLin-UCB (λ=1)", _linear(lam=1.0)),
    "dynlin_ucb_logT": ("DynLin-UCB (λ=log T)", _linear(lam="logT")),
    "linucb_1": ("LinUCB (λ=1)", _linear(lam=1.0, radius="linucb", blocks=False)),
    "linucb_logT": ("LinUCB (λ=log T)", _log_t_baseline(
        paper=dict(radius="linucb", blocks=False), code=dict(radius="code_linear_linucb", blocks=False))),
    "dlinucb_1": ("D-LinUCB (λ=1)", _linear(lam=1.0, radius="dlinucb", blocks=False, gamma=0.999999999,
                                            discounted=True)),
    "dlinucb_logT": ("D-LinUCB (λ=log T)", _log_t_baseline(
        paper=dict(radius="dlinucb", blocks=False, gamma=0.999999999, discounted=True),
        code=dict(radius="code_linear_dlinucb", blocks=False, gamma=0.999999, discounted=False))),
    "exp3": ("Exp3", lambda inst, arms, c: (classic.EXP3, classic.exp3_params(inst, arms, c.horizon))),
    "batch_exp3": ("Batch Exp3", lambda inst, arms, c: (classic.EXP3, classic.exp3_params(
        inst, arms, c.horizon, batched=True, code_offset=c.code_baselines))),
    "ar2": ("AR2", lambda inst, arms, c: (classic.AR2, classic.ar2_params(inst, arms))),
    "ucb1": ("UCB1", lambda inst, arms, c: (classic.UCB1, classic.UCB1Params(
        arms=arms, scale=float(np.asarray(inst.reward_noise_std))))),
    "random": ("Random", lambda inst, arms, c: (classic.RANDOM, classic.RandomParams(arms=arms))),
    "expert": ("Manual expert", lambda inst, arms, c: (classic.FIXED, classic.expert_params(
        arms, expert_allocation(c)))),
}


def expert_allocation(c: ml_collections.ConfigDict) -> np.ndarray:
    """The official ExpertAgent's action: spend proportions clipped to [floor, cap] / budget,
    the others rescaled to sum to one, times the daily budget."""
    if len(c.expert) != len(c.A):
        raise ValueError(f"config.expert must give {len(c.A)} proportions for the expert method, got {c.expert}")
    p = np.asarray(c.expert, np.float64)
    p = p / p.sum()
    lo, hi = c.campaign_floor / c.campaign_cap, c.campaign_cap / c.daily_budget
    clipped = (p < lo) | (p > hi)
    p = np.clip(p, lo, hi)
    p[~clipped] *= (1 - p[clipped].sum()) / p[~clipped].sum()
    return p * c.daily_budget


def setup(c: ml_collections.ConfigDict) -> tuple[dlb.DLBInstance, np.ndarray]:
    """The instance (validated) and the action set of a config."""
    instance = dlb.from_state_space(np.array(c.A), np.array(c.B), np.array(c.C), np.array(c.D), c.noise_std)
    arms = dlb.budget_arms(instance.action_dim, c.daily_budget, c.campaign_cap, c.campaign_floor)
    return instance, arms


def run_method(name: str, c: ml_collections.ConfigDict, instance, arms, horizon: int | None = None,
               bar: tqdm | None = None) -> core.RunResult:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {sorted(METHODS)}")
    cfg = ml_collections.ConfigDict(c.to_dict())
    cfg.horizon = horizon or c.horizon
    agent, params = METHODS[name][1](instance, arms, cfg)
    env_keys = jax.random.split(jax.random.PRNGKey(c.seed), c.trials)  # shared by every method
    agent_keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(c.seed), 1 + sorted(METHODS).index(name)),
                                  c.trials)
    segments = min(c.segments, cfg.horizon)
    chunks = c.chunks if segments % c.chunks == 0 else 1
    return core.run_many(agent, params, instance, arms, env_keys, agent_keys, cfg.horizon, segments,
                         chunks=chunks, on_chunk=(lambda n: bar.update(n * c.trials)) if bar else None,
                         simulate=simulation(c.simulate, agent, params, cfg.horizon))


def simulation(simulate: str, agent: core.BanditAgent, params, horizon: int) -> str:
    """`simulate` for this agent: "holds" only where asked and the agent does hold its arm for blocks
    (LinUCB's one-round blocks gain nothing), else "rounds"."""
    if simulate not in ("rounds", "holds"):
        raise ValueError(f"config.simulate must be 'rounds' or 'holds', got {simulate!r}")
    if simulate == "holds" and agent.decision_rounds is not None:
        decisions = np.asarray(agent.decision_rounds(params))  # [M], or [R, M] for batched params
        per_run = np.count_nonzero(decisions < horizon) / max(1, decisions.size // max(1, decisions.shape[-1]))
        if per_run < horizon / 2:
            return "holds"
    return "rounds"


def regret_frame(results: dict[str, core.RunResult], horizon: int) -> pd.DataFrame:
    frames = []
    for name, r in results.items():
        trials, segments = r.regret.shape
        rounds = np.arange(1, segments + 1) * (horizon // segments)
        frames.append(pd.DataFrame({
            "method": name, "trial": np.repeat(np.arange(trials), segments), "round": np.tile(rounds, trials),
            "regret": core.cumulative(r.regret).reshape(-1),
            "steady_regret": core.cumulative(r.steady_regret).reshape(-1),
        }))
    return pd.concat(frames, ignore_index=True)


def regret_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Regret at the horizon per method: mean, std and standard error over trials."""
    last = frame[frame["round"] == frame["round"].max()]
    table = last.groupby("method", sort=False)["regret"].agg(["mean", "std", "count"])
    table["stderr"] = table["std"] / np.sqrt(table["count"])
    table["steady_mean"] = last.groupby("method", sort=False)["steady_regret"].mean()
    table.insert(0, "label", [METHODS[m][0] for m in table.index])
    return table.sort_values("mean")


def plot_regret(frame: pd.DataFrame, path: Path, title: str) -> None:
    fig = Figure(figsize=(8, 5.5))
    ax = fig.subplots()
    for name, rows in frame.groupby("method", sort=False):
        if name == "clairvoyant":
            continue
        stats = rows.groupby("round")["regret"].agg(["mean", "std", "count"])
        err = stats["std"] / np.sqrt(stats["count"])
        style = "-" if name.startswith("dynlin") else ("--" if "linucb" in name else "-.")
        line, = ax.plot(stats.index, stats["mean"], style, lw=1.8, label=METHODS[name][0])
        ax.fill_between(stats.index, stats["mean"] - err, stats["mean"] + err, alpha=0.15, color=line.get_color())
    top = frame[(frame["method"].str.startswith("dynlin")) & (frame["round"] == frame["round"].max())]["regret"]
    ax.set_ylim(0, 3 * top.mean() if len(top) else None)  # as the paper's figures: 3x DynLin-UCB's regret
    ax.set_xlim(0, frame["round"].max())
    ax.set_xlabel("rounds")
    ax.set_ylabel("cumulative regret")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def slope(c: ml_collections.ConfigDict, instance, arms, workdir: Path, bar: tqdm | None = None) -> dict:
    """Final regret of separate DynLin-UCB runs at each of `c.slope_horizons`, and the log-log slope."""
    out = {}
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    for name in ("dynlin_ucb_1", "dynlin_ucb_logT"):
        finals = []
        for horizon in c.slope_horizons:
            r = run_method(name, ml_collections.ConfigDict({**c.to_dict(), "segments": 1, "chunks": 1}),
                           instance, arms, horizon=int(horizon))
            finals.append(float(core.cumulative(r.regret)[:, -1].mean()))
            if bar:
                bar.update(int(horizon) * c.trials)
        fit = np.polyfit(np.log(c.slope_horizons), np.log(finals), 1)
        out[name] = {"horizons": list(c.slope_horizons), "mean_final_regret": finals, "slope": float(fit[0])}
        ax.loglog(c.slope_horizons, finals, "o-", label=f"{METHODS[name][0]}: slope {fit[0]:.2f}")
    ax.set_xlabel("horizon T")
    ax.set_ylabel("regret at T (mean over trials)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(workdir / "slope.png", dpi=120)
    (workdir / "slope.json").write_text(json.dumps(out, indent=2))
    return out


def run(c: ml_collections.ConfigDict, progress: bool = True) -> dict:
    """Run every method of `c.methods` (and the slope study), write the run directory, return the summary."""
    methods = [m.strip() for m in c.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {sorted(METHODS)}")
    if c.horizon % min(c.segments, c.horizon):
        raise ValueError(f"horizon {c.horizon} must be a multiple of segments {c.segments}")
    instance, arms = setup(c)
    workdir = Path(c.workdir or f"runs/dlb_{c.experiment}_sigma{c.noise_std:g}")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(c.to_json_best_effort(indent=2))
    total = (len(methods) * c.horizon + sum(int(h) for h in c.slope_horizons) * 2) * c.trials
    bar = tqdm(total=total, unit="round", unit_scale=True, disable=not progress, dynamic_ncols=True)
    results, seconds = {}, {}
    for name in methods:
        bar.set_description(name)
        t0 = time.perf_counter()
        results[name] = run_method(name, c, instance, arms, bar=bar)
        seconds[name] = time.perf_counter() - t0
    frame = regret_frame(results, c.horizon)
    frame.to_parquet(workdir / "regret.parquet")
    table = regret_table(frame)
    (workdir / "table.md").write_text(table.to_markdown(floatfmt=".1f"))
    best = dlb.optimum(instance, arms)
    title = (f"DLB {c.experiment}, σ = {c.noise_std:g}: {c.trials} trials, T = {c.horizon:,} "
             f"(mean ± s.e.; ρ(A) = {dlb.spectral_radius(instance.A):.2f})")
    plot_regret(frame, workdir / "regret.png", title)
    summary = {
        "experiment": c.experiment, "noise_std": c.noise_std, "horizon": c.horizon, "trials": c.trials,
        "rho": dlb.spectral_radius(instance.A), "markov_parameter": np.asarray(dlb.markov_parameter(instance)).tolist(),
        "optimal_action": np.asarray(best.action).tolist(), "optimal_value": float(best.value),
        "regret_at_T": {m: {"mean": float(r["mean"]), "std": float(r["std"])} for m, r in table.iterrows()},
        "seconds": seconds,
    }
    if c.slope_horizons:
        bar.set_description("slope")
        summary["slope"] = slope(c, instance, arms, workdir, bar)
    bar.close()
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    if progress:
        print(table.to_string())
        print(f"run directory: {workdir}")
    return summary


CONFIGS = Path(__file__).parent / "configs"
RESULTS = Path(__file__).parent / "results"
# The report's experiments: name -> (config file, overrides)
EXPERIMENTS = {
    "synthetic_sigma0.001": (CONFIGS / "synthetic.py", {"noise_std": 0.001}),
    "synthetic_sigma0.01": (CONFIGS / "synthetic.py", {"noise_std": 0.01, "slope_horizons": (10_000, 100_000, 1_000_000)}),
    "synthetic_sigma0.1": (CONFIGS / "synthetic.py", {"noise_std": 0.1}),
    "realdata": (CONFIGS / "realdata.py", {}),
}
CODE_BASELINES = "linucb_logT,dlinucb_logT,batch_exp3"  # the official code's variants of these


def reproduce(names: list[str], extra: list[str]) -> None:
    """Every experiment of the report with the papers' baselines, then with the official code's variants."""
    results = reproduce_lib.results_dir(RESULTS, extra)
    for name in reproduce_lib.check_tasks(names, EXPERIMENTS):
        path, overrides = EXPERIMENTS[name]
        root = Path("runs") / f"dlb_{name}"
        run(reproduce_lib.load_config(path, {**overrides, "workdir": str(root)}, extra))
        code = reproduce_lib.load_config(path, {**overrides, "code_baselines": True, "methods": CODE_BASELINES,
                                                "slope_horizons": (), "workdir": f"{root}_code_baselines"}, extra)
        run(code)
        reproduce_lib.publish({
            root / "table.md": results / f"{name}_table.md", root / "regret.png": results / f"{name}_regret.png",
            root / "summary.json": results / f"{name}_summary.json", root / "slope.png": results / f"{name}_slope.png",
            root / "slope.json": results / "slope.json",
            Path(f"{root}_code_baselines") / "table.md": results / f"{name}_code_baselines_table.md",
        })


def main() -> None:
    reproduce_lib.command(DEFAULT_CONFIG, run, reproduce, list(EXPERIMENTS), (ValueError,))  # DLBError is one


if __name__ == "__main__":
    main()
