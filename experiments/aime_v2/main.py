"""AIME-v2's online runs and ablations, starting from a finished AIME run.

    python -m experiments.aime_v2.main --config=experiments/aime_v2/configs/aime_v2_cpu.py \\
        --config.aime_run=runs/aime_PendulumSwingup_embodiment_random_seed0 --config.variants=full,plain

Each variant is one vmapped program over the AIME run's seeds (seed i starts from seed
i's world model and policy): `full` (regulariser and surrogate reward), `no_regulariser`,
`no_reward`, `plain` (online fine-tuning with neither). The likelihood model for the
surrogate reward is trained first (action-free, on the same demonstrations). The policy
is evaluated before any interaction (zero-shot AIME) and every `eval_every` iterations.
With `--config.ilfo_run=<run>[,<run>...]`, finished OT + DDPG or GAIfO + DDPG launcher
runs (`algos.ads` with a fixed discount, e.g. `runs/ads_PendulumSwingup/ot` from
`python -m experiments.ads.main --config=experiments/ads/configs/ads_pendulum.py`) join the table
and plot as ILfO baselines at the same online steps. Every stage checkpoints per chunk and resumes bit for bit. Writes `<workdir>/<variant>/eval.json`
and, across the variants run, `<workdir>/curves.png` and `<workdir>/table.md`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jax
import ml_collections
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from algos import aime_v2
from algos.aime import imitation
from algos.aime_v2 import surrogate
from algos.common import hparams as R
from algos.common import loop
from experiments.aime import main as aime_lib
from experiments.aime.configs import aime as aime_config
from experiments.launch import loop as loop_lib
from experiments.launch import run as run_lib
from experiments.launch.checkpoints import CheckpointStore
from experiments.launch.validation import ConfigError
from worldmodels import rssm, training as wm_training

DEFAULT_CONFIG = str(Path(__file__).parent / "configs" / "aime_v2_cpu.py")
VARIANTS = {
    "full": dict(regulariser=True, surrogate_reward=True),
    "no_regulariser": dict(regulariser=False, surrogate_reward=True),
    "no_reward": dict(regulariser=True, surrogate_reward=False),
    "plain": dict(regulariser=False, surrogate_reward=False),
}


def load_aime(run_dir: str):
    """The AIME run's setup, its world models and policies [seeds, ...] (phases 1 and 2 must be finished)."""
    stored = run_lib.read_config_json(Path(run_dir))
    if stored is None:
        raise ValueError(f"aime_run {run_dir} is not an AIME run directory (no config.json)")
    config = aime_config.get_config()  # settings added since the run keep their defaults
    config.update(stored)
    setup = aime_lib.Setup(config)
    wm_params = aime_lib.phase_model(setup).carry.state.params
    policy_params = aime_lib.phase_imitate(setup, wm_params).carry.state[0].params
    return setup, wm_params, policy_params


def likelihood_stage(c: ml_collections.ConfigDict, setup, workdir: Path):
    """The action-free likelihood model of the demonstrations (the surrogate reward's), per seed."""
    model = rssm.make_rssm(c.agent.world_model.model, setup.model.net.obs_shape, 0)
    lc = ml_collections.ConfigDict(c.agent.world_model.to_dict())
    lc.num_updates = c.agent.likelihood_updates
    data = surrogate.action_free(setup.demos)
    learner = loop.updates_learner(lambda k: wm_training.init(model, lc, k),
                                   lambda state, k: wm_training.train_step(model, lc, data, state, k))
    store = CheckpointStore(workdir / "likelihood_model")
    try:
        result = loop_lib.run_chunks(learner, (aime_lib.fold(setup.keys, 5),), lc.num_updates,
                                     min(c.chunk_updates, lc.num_updates), store=store,
                                     checkpoint_interval_s=c.checkpoint_interval_s, desc="likelihood_model")
    finally:
        store.close()
    return model, result.carry.state.params


def run_variant(c, name: str, setup, wm_params, policy_params, likelihood, likelihood_params, workdir: Path) -> dict:
    """One variant, vmapped over the AIME run's seeds, through the host loop (checkpointed under `<variant>/`)."""
    ac = ml_collections.ConfigDict(c.agent.to_dict())
    for k, v in VARIANTS[name].items():
        ac[k] = v
    out = workdir / name
    out.mkdir(parents=True, exist_ok=True)
    s = aime_v2.make_setup(ac, setup.env, setup.model, likelihood, setup.embodiment, setup.demos)
    learner = aime_v2.make_learner(s)
    keys = aime_lib.fold(setup.keys, 6)
    store = CheckpointStore(out / "checkpoints")
    try:
        result = loop_lib.run_chunks(learner, (keys, wm_params, policy_params, likelihood_params), ac.num_iterations,
                                     1, store=store, checkpoint_interval_s=c.checkpoint_interval_s,
                                     desc=f"aime_v2/{name}", postfix=("eval_return",))
    finally:
        store.close()
    result.metrics.to_parquet(out / "metrics.parquet")
    final = np.asarray(jax.jit(jax.vmap(functools.partial(aime_v2.agent.evaluate, s)))(
        result.carry.state, aime_lib.fold(keys, 1000 + ac.num_iterations))).mean(1)
    evaluations = (result.metrics[result.metrics.evaluated_at >= 0].drop_duplicates(["member", "evaluated_at"])
                   .pivot_table(index="evaluated_at", columns="member", values="eval_return").sort_index())
    done = np.asarray(evaluations.index, int)
    per_seed = np.concatenate([evaluations.to_numpy().T, final[:, None]], axis=1)  # [seeds, evaluations]
    steps_per_iteration = learner.env_steps_per_iteration
    out_result = {
        "variant": name, **VARIANTS[name],
        "env_steps": [int(i * steps_per_iteration) for i in done] + [int(ac.num_iterations * steps_per_iteration)],
        "eval_return": per_seed.tolist(),
        "expert_return": setup.expert_return,
    }
    (out / "eval.json").write_text(json.dumps(out_result, indent=2))
    return out_result


ILFO_LABELS = {"ot": "OT + DDPG", "gaifo": "GAIfO + DDPG"}


def ilfo_baseline(run_dir: str, task: str, demos: str, env_steps: list[int]) -> dict:
    """An ILfO baseline of the ADS driver (a finished `algos.ads` launcher run with the OT or GAIfO
    reward and a fixed discount) at `env_steps`.

    Its evaluation return at each of AIME-v2's steps is the latest evaluation at or before
    it (NaN before its first). The run must be on the same task, from the same
    demonstrations; it starts from nothing (no world model, no embodiment data), under
    the same online budget.
    """
    config = json.loads((Path(run_dir) / "config.json").read_text())
    agent = config.get("agent", {})
    found = {"algo": config.get("algo"), "task": config.get("task"), "demos": agent.get("demos"),
             "reward": agent.get("reward"), "discount_schedule": agent.get("discount_schedule")}
    wanted = {"algo": "ads", "task": task, "demos": demos, "reward": tuple(ILFO_LABELS), "discount_schedule": "fixed"}
    wrong = {k: v for k, v in found.items() if not (v in wanted[k] if isinstance(wanted[k], tuple) else v == wanted[k])}
    if wrong:
        raise ValueError(f"ilfo_run {run_dir} is not an OT or GAIfO baseline (fixed discount) of this task and "
                         f"demonstrations: {wrong}")
    metrics = pd.read_parquet(Path(run_dir) / "metrics.parquet")
    table = metrics.pivot_table(index="env_steps", columns="member", values="eval_return").sort_index()
    per_seed = [[table[m][table.index <= s].iloc[-1] if (table.index <= s).any() else np.nan for s in env_steps]
                for m in table.columns]
    return {"variant": f"{ILFO_LABELS[found['reward']]} (no world model)", "env_steps": list(env_steps),
            "eval_return": per_seed, "ilfo_run": run_dir}


def report(results: list[dict], workdir: Path, task: str) -> None:
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    lines = [f"{task}: return against online environment steps (mean ± std over seeds; "
             "the first column is zero-shot AIME)", ""]
    header = None
    for i, r in enumerate(results):
        x, y = np.asarray(r["env_steps"]), np.asarray(r["eval_return"])
        ax.plot(x, y.mean(0), color=f"C{i}", label=r["variant"])
        ax.fill_between(x, y.mean(0) - y.std(0), y.mean(0) + y.std(0), color=f"C{i}", alpha=0.15)
        if header is None:
            header = "| variant | " + " | ".join(f"{s:,} steps" for s in x) + " |"
            lines += [header, "|---|" + "---:|" * len(x)]
        lines.append(f"| {r['variant']} | " + " | ".join("–" if np.isnan(m) else f"{m:.0f} ± {s:.0f}"
                                                        for m, s in zip(y.mean(0), y.std(0))) + " |")
    ax.axhline(results[0]["expert_return"], color="k", ls="--", lw=0.8, label="expert")
    ax.set_xlabel("online environment steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(f"AIME-v2 on {task}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(workdir / "curves.png", dpi=120)
    (workdir / "table.md").write_text("\n".join(lines) + "\n")


def check_config(c: ml_collections.ConfigDict) -> None:
    """Every numeric field in its range (the agent's, its world model's, its policy's). Raises `ConfigError`."""
    errors = (R.range_errors(c.agent, aime_v2.agent.RANGES, "config.agent.")
              + R.range_errors(c.agent.world_model, aime_lib.WORLD_MODEL_RANGES, "config.agent.world_model.")
              + R.range_errors(c.agent.world_model.model, aime_lib.MODEL_RANGES, "config.agent.world_model.model.")
              + R.range_errors(c.agent.imitation, imitation.RANGES, "config.agent.imitation.")
              + R.range_errors(c, {"chunk_updates": R.AT_LEAST_ONE, "checkpoint_interval_s": R.NON_NEGATIVE}, "config."))
    if errors:
        raise ConfigError("; ".join(errors))


def main_run(c: ml_collections.ConfigDict) -> list[dict]:
    check_config(c)
    variants = [v.strip() for v in c.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ValueError(f"unknown variants {unknown}; choose from {sorted(VARIANTS)}")
    if not c.aime_run or not (Path(c.aime_run) / "config.json").exists():
        raise ValueError(f"aime_run must be a finished AIME run directory (with config.json), got {c.aime_run!r}")
    setup, wm_params, policy_params = load_aime(c.aime_run)
    # the world model and the policy network are the AIME run's
    c = ml_collections.ConfigDict(c.to_dict())
    c.agent.world_model = ml_collections.ConfigDict(setup.config.world_model.to_dict())
    c.agent.imitation.hidden_sizes = tuple(setup.config.imitation.hidden_sizes)
    c.agent.imitation.activation = setup.config.imitation.activation
    workdir = Path(c.workdir or f"runs/aime_v2_{setup.task}_{Path(c.aime_run).name}")
    # a changed config is refused, not resumed; which variants run, and the baselines shown, may change
    run_lib.claim_workdir(c, workdir, run_lib.OPERATIONAL + ("variants", "ilfo_run"))
    likelihood, likelihood_params = likelihood_stage(c, setup, workdir)
    results = [run_variant(c, v, setup, wm_params, policy_params, likelihood, likelihood_params, workdir)
               for v in variants]
    for run_dir in [r.strip() for r in c.ilfo_run.split(",") if r.strip()]:
        results.append({**ilfo_baseline(run_dir, setup.task, setup.config.demos, results[0]["env_steps"]),
                        "expert_return": results[0]["expert_return"]})
    report(results, workdir, setup.task)
    print((workdir / "table.md").read_text())
    return results


RESULTS = Path(__file__).parent / "results"
TEN_K = {"agent.num_iterations": 10, "agent.eval_every": 5}  # 10 iterations of 2 episodes of 500 steps
# The report's rows: task -> [(name in results/, the AIME row it starts from, variants, overrides)]
TASKS = {
    "PendulumSwingup": [
        ("pendulum_random", "pendulum_random", "full,no_regulariser,no_reward,plain", {}),
        ("pendulum_random_20k", "pendulum_random", "full,plain", {"agent.num_iterations": 40, "agent.eval_every": 8}),
        ("pendulum_random_20k_ilfo", "pendulum_random", "full,plain",
         {"agent.num_iterations": 40, "agent.eval_every": 8, "workdir": "runs/aime_v2_pendulum_random_20k",
          "ilfo_run": "runs/ads_PendulumSwingup/ot,runs/ads_PendulumSwingup/gaifo"}),
    ],
    "WalkerWalk": [("walker_mixed_10k", "walker_mixed", "full,plain", TEN_K)],
    "WalkerRun": [("walkerrun_mixed_10k", "walkerrun_mixed", "full,plain", TEN_K)],
    "WalkerStand": [("walkerstand_mixed_10k", "walkerstand_mixed", "full,plain", TEN_K)],
    "CheetahRun": [("cheetah_mixed_10k", "cheetah_mixed", "full,plain", TEN_K)],
}


def reproduce(tasks: list[str], extra: list[str]) -> list[list[dict]]:
    """Each task's AIME rows first (`experiments.aime.main.reproduce`), then its AIME-v2 rows, into results/."""
    from experiments.launch import reproduce as reproduce_lib

    tasks = reproduce_lib.check_tasks(tasks, TASKS)
    results = reproduce_lib.results_dir(RESULTS, extra)
    aime_lib.reproduce(tasks, [])  # AIME at its report's own budget (a finished run is only read)
    out = []
    for task in tasks:
        for name, aime_row, variants, overrides in TASKS[task]:
            if "ilfo_run" in overrides:
                from experiments.ads import main as ads_main  # the ILfO baselines are the ADS report's runs
                ads_main.reproduce([task], [])
            workdir = overrides.get("workdir", f"runs/aime_v2_{name}")
            c = reproduce_lib.load_config(DEFAULT_CONFIG, {"aime_run": str(aime_lib.workdir_of(aime_row)),
                                                           "variants": variants, **overrides, "workdir": workdir},
                                          extra)
            out.append(main_run(c))
            workdir = Path(c.workdir)
            files = {workdir / "table.md": results / f"{name}.md", workdir / "curves.png": results / f"{name}.png"}
            if "ilfo_run" not in overrides:
                files.update({workdir / v / "eval.json": results / f"{name}_{v}.json" for v in variants.split(",")})
            reproduce_lib.publish(files)
    return out


def main() -> None:
    from experiments.launch import reproduce as reproduce_lib

    reproduce_lib.command(DEFAULT_CONFIG, main_run, reproduce, list(TASKS),
                          (ValueError, FileNotFoundError, loop_lib.NonFiniteError))


if __name__ == "__main__":
    main()
