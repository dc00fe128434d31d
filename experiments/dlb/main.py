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


def method_keys(name: str, c: ml_collections.ConfigDict) -> tuple[jax.Array, jax.Array]:
    """The env keys [trials] (the same for every method: common random numbers) and the method's agent keys."""
    env_keys = jax.random.split(jax.random.PRNGKey(c.seed), c.trials)
    agent_keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(c.seed), 1 + sorted(METHODS).index(name)),
                                  c.trials)
    return env_keys, agent_keys


def run_method(name: str, c: ml_collections.ConfigDict, instance, arms, horizon: int | None = None,
               bar: tqdm | None = None) -> core.RunResult:
    return run_jobs([(name, c, instance)], arms, horizon, bar)[0][0]


def stack_params(params: list) -> object:
    """Params of one agent on several instances, stacked [I, ...] (DynLin-UCB's block schedules padded)."""
    if isinstance(params[0], linear.LinearParams):
        longest = max(len(p.block_ends) for p in params)
        params = [p.replace(block_ends=linear.padded_block_ends(p.block_ends, longest)) for p in params]
    return jax.tree.map(lambda *x: np.stack(x), *params)


Job = tuple  # (method name, config, instance)


def run_jobs(jobs: list[Job], arms: np.ndarray, horizon: int | None = None,
             bar: tqdm | None = None) -> tuple[list[core.RunResult], list[float]]:
    """Each (method, experiment) job's runs, and the seconds of the program it ran in.

    Jobs whose methods share an agent program (the same agent and static settings, e.g. one method on
    several experiments, or DynLin-UCB with lambda = 1 and lambda = log T) run as one vmapped program,
    params and instances batched. The configs must share the arms, the horizon, trials, segments and
    chunks (`shareable`). Each job's runs get the keys, hence the results, they get alone, bit for bit
    (tests/test_bandits.py): batching only saves XLA:CPU's per-step overhead, which dominates at the
    paper's 10 trials. Where DynLin-UCB is simulated by holds, whose noise is drawn per batch, each job
    runs alone, so that its results do not depend on the others'.
    """
    for name, _, _ in jobs:
        if name not in METHODS:
            raise ValueError(f"unknown method {name!r}; choose from {sorted(METHODS)}")
    c = jobs[0][1]
    horizon = horizon or c.horizon
    cfgs = [ml_collections.ConfigDict({**cfg.to_dict(), "horizon": horizon}) for _, cfg, _ in jobs]
    built = [METHODS[name][1](inst, arms, cfg) for (name, _, inst), cfg in zip(jobs, cfgs)]
    segments = min(c.segments, horizon)
    chunks = c.chunks if segments % c.chunks == 0 else 1
    groups: dict[tuple, list[int]] = {}
    for i, (agent, params) in enumerate(built):
        simulate = simulation(c.simulate, agent, params, horizon)
        padded = params.replace(block_ends=np.zeros(0)) if isinstance(params, linear.LinearParams) else params
        shapes = tuple(np.shape(x) for x in jax.tree.leaves(padded))  # block schedules pad; other leaves must match
        key = (agent, jax.tree.structure(params), shapes, simulate) if simulate == "rounds" else (i,)
        groups.setdefault(key, []).append(i)
    results: list = [None] * len(jobs)
    seconds: list = [0.0] * len(jobs)
    for members in groups.values():
        t0 = time.perf_counter()
        agent, params = built[members[0]]
        if bar is not None:
            bar.set_description("+".join(dict.fromkeys(jobs[i][0] for i in members)))
        keys = [method_keys(jobs[i][0], cfgs[i]) for i in members]
        env_keys = np.concatenate([np.asarray(k[0]) for k in keys])
        agent_keys = np.concatenate([np.asarray(k[1]) for k in keys])
        on_chunk = (lambda n, runs=len(env_keys): bar.update(n * runs)) if bar else None  # noqa: E731
        simulate = simulation(c.simulate, agent, params, horizon)
        if len(members) == 1:
            out = [core.run_many(agent, params, jobs[members[0]][2], arms, env_keys, agent_keys, horizon, segments,
                                 chunks=chunks, on_chunk=on_chunk, simulate=simulate)]
        else:
            per_run = lambda tree: jax.tree.map(lambda x: np.repeat(x, c.trials, axis=0), tree)  # noqa: E731
            r = core.run_many(agent, per_run(stack_params([built[i][1] for i in members])),
                              per_run(dlb.stack([jobs[i][2] for i in members])), arms, env_keys, agent_keys,
                              horizon, segments, params_batched=True, instance_batched=True, chunks=chunks,
                              on_chunk=on_chunk, simulate=simulate)
            out = [jax.tree.map(lambda x, k=k: x[k * c.trials:(k + 1) * c.trials], r) for k in range(len(members))]
        elapsed = time.perf_counter() - t0
        for i, r in zip(members, out):
            results[i], seconds[i] = r, elapsed
    return results, seconds


def shareable(configs: list[ml_collections.ConfigDict]) -> bool:
    """Whether experiments can share one program per method: the same arms, shapes and run lengths."""
    fields = ("horizon", "trials", "segments", "chunks", "simulate", "daily_budget", "campaign_cap", "campaign_floor")
    first = configs[0]
    return all(all(c[f] == first[f] for f in fields) and np.shape(c.A) == np.shape(first.A)
               and np.shape(c.B) == np.shape(first.B) for c in configs)


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
    names = ("dynlin_ucb_1", "dynlin_ucb_logT")
    short = ml_collections.ConfigDict({**c.to_dict(), "segments": 1, "chunks": 1})
    finals = {name: [] for name in names}
    for horizon in c.slope_horizons:  # both lambdas in one program per horizon (`run_jobs`)
        results, _ = run_jobs([(name, short, instance) for name in names], arms, horizon=int(horizon))
        for name, r in zip(names, results):
            finals[name].append(float(core.cumulative(r.regret)[:, -1].mean()))
        if bar:
            bar.update(int(horizon) * c.trials * len(names))
    for name in names:
        fit = np.polyfit(np.log(c.slope_horizons), np.log(finals[name]), 1)
        out[name] = {"horizons": list(c.slope_horizons), "mean_final_regret": finals[name], "slope": float(fit[0])}
        ax.loglog(c.slope_horizons, finals[name], "o-", label=f"{METHODS[name][0]}: slope {fit[0]:.2f}")
    ax.set_xlabel("horizon T")
    ax.set_ylabel("regret at T (mean over trials)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(workdir / "slope.png", dpi=120)
    (workdir / "slope.json").write_text(json.dumps(out, indent=2))
    return out


def methods_of(c: ml_collections.ConfigDict) -> list[str]:
    methods = [m.strip() for m in c.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {sorted(METHODS)}")
    if c.horizon % min(c.segments, c.horizon):
        raise ValueError(f"horizon {c.horizon} must be a multiple of segments {c.segments}")
    return methods


def run(c: ml_collections.ConfigDict, progress: bool = True) -> dict:
    """Run every method of `c.methods` (and the slope study), write the run directory, return the summary."""
    return run_together([c], progress)[0]


def run_together(configs: list[ml_collections.ConfigDict], progress: bool = True) -> list[dict]:
    """`run` of several experiments, their methods run together (`run_jobs`) where the experiments are
    `shareable` (the same results as one by one, in less time); returns their summaries."""
    methods = [methods_of(c) for c in configs]
    setups = [setup(c) for c in configs]
    workdirs = [Path(c.workdir or f"runs/dlb_{c.experiment}_sigma{c.noise_std:g}") for c in configs]
    for c, workdir in zip(configs, workdirs):
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.json").write_text(c.to_json_best_effort(indent=2))
    total = sum((len(m) * c.horizon + sum(int(h) for h in c.slope_horizons) * 2) * c.trials
                for c, m in zip(configs, methods))
    bar = tqdm(total=total, unit="round", unit_scale=True, disable=not progress, dynamic_ncols=True)
    together = shareable(configs)
    jobs = [(name, i) for i, ms in enumerate(methods) for name in ms]
    batches = [jobs] if together else [[j for j in jobs if j[1] == i] for i in range(len(configs))]
    results: list[dict] = [{} for _ in configs]
    seconds: list[dict] = [{} for _ in configs]
    for batch in batches:
        out, secs = run_jobs([(name, configs[i], setups[i][0]) for name, i in batch], setups[batch[0][1]][1],
                             bar=bar)
        for (name, i), r, t in zip(batch, out, secs):
            results[i][name], seconds[i][name] = r, t
    summaries = [write_run(c, results[i], seconds[i], *setups[i], workdirs[i], bar, shared=len(configs) if together
                           else 1) for i, c in enumerate(configs)]
    bar.close()
    if progress:
        for s, workdir in zip(summaries, workdirs):
            print(s["table"])
            print(f"run directory: {workdir}")
    for s in summaries:
        del s["table"]
    return summaries


def write_run(c: ml_collections.ConfigDict, results: dict[str, core.RunResult], seconds: dict[str, float],
              instance: dlb.DLBInstance, arms: np.ndarray, workdir: Path, bar: tqdm | None, shared: int) -> dict:
    """The run directory of one experiment (regrets, table, figure, summary; the slope study if asked)."""
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
        "seconds": seconds,  # per method: its program's wall time, shared with the jobs run alongside
        "experiments_run_together": shared,
    }
    if c.slope_horizons:
        if bar is not None:
            bar.set_description("slope")
        summary["slope"] = slope(c, instance, arms, workdir, bar)
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    return {**summary, "table": table.to_string()}


CONFIGS = Path(__file__).parent / "configs"
RESULTS = Path(__file__).parent / "results"
# The report's experiments: name -> (config file, overrides)
EXPERIMENTS = {
    "synthetic_sigma0.001": (CONFIGS / "synthetic.py", {"noise_std": 0.001}),
    "synthetic_sigma0.01": (CONFIGS / "synthetic.py", {
        "noise_std": 0.01, "slope_horizons": (10_000, 30_000, 100_000, 300_000, 1_000_000)}),
    "synthetic_sigma0.1": (CONFIGS / "synthetic.py", {"noise_std": 0.1}),
    "realdata": (CONFIGS / "realdata.py", {}),
}
CODE_BASELINES = "clairvoyant,linucb_logT,dlinucb_logT,batch_exp3"  # the official code's variants (and the oracle)


def reproduce(names: list[str], extra: list[str]) -> None:
    """Every experiment of the report with the papers' baselines, then with the official code's variants;
    each method runs on all the experiments at once (`run_together`)."""
    results = reproduce_lib.results_dir(RESULTS, extra)
    names = reproduce_lib.check_tasks(names, EXPERIMENTS)
    roots = {name: Path("runs") / f"dlb_{name}" for name in names}
    paper, code = [], []
    for name in names:
        path, overrides = EXPERIMENTS[name]
        paper.append(reproduce_lib.load_config(path, {**overrides, "workdir": str(roots[name])}, extra))
        code.append(reproduce_lib.load_config(path, {**overrides, "code_baselines": True, "methods": CODE_BASELINES,
                                                     "slope_horizons": (), "workdir": f"{roots[name]}_code_baselines"},
                                              extra))
    run_together(paper)
    run_together(code)
    for name, root in roots.items():
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
