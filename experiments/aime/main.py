"""AIME's pipeline: the world model (phase 1), the imitation (phase 2), the baselines and
the zero-shot evaluation, each vmapped over `num_seeds` seeds in one program.

    python -m experiments.aime.main --config=experiments/aime/configs/aime_cpu.py --phase=all
    python -m experiments.aime.main --config=... --phase=model      # phase 1 only
    python -m experiments.aime.main --config=... --phase=imitate    # phase 2 (needs phase 1)
    python -m experiments.aime.main --config=... --phase=baselines  # BCO(0), BC with actions
    python -m experiments.aime.main --config=... --phase=evaluate   # all methods in the environment

Each training stage checkpoints after every chunk of updates (orbax, under
`<workdir>/<stage>/`) and resumes bit for bit when the command is run again; a
finished stage is skipped. The evaluation writes `results.json`, `table.md` and
`results.png` (normalised return per method, the paper's normalisation: the return over
the demonstrations' mean return) and `world_model.png` (training losses, held-out
open-loop error against the prediction horizon).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pandas as pd
from absl import flags
from matplotlib.figure import Figure

import envs
from algos import bco
from algos.aime import imitation
from algos.common import evaluation, loop
from algos.common import hparams as R
from envs import datasets, sequences
from envs.rollout import random_policy
from experiments.launch import loop as loop_lib
from experiments.launch import reproduce as reproduce_lib
from experiments.launch import run as run_lib
from experiments.launch.checkpoints import CheckpointStore
from experiments.launch.validation import ConfigError
from worldmodels import rssm, training as wm_training

DEFAULT_CONFIG = str(Path(__file__).parent / "configs" / "aime_cpu.py")
PHASES = ("model", "imitate", "baselines", "evaluate", "all")
METHODS = ("aime", "bco", "bc_oracle", "random")


# worldmodels imports nothing from algos, so the world model's ranges are declared here, where it is configured
WORLD_MODEL_RANGES = {"lr": R.POSITIVE, "grad_clip": R.POSITIVE, "batch_size": R.AT_LEAST_ONE, "seq_len": R.Range(2),
                      "num_updates": R.AT_LEAST_ONE, "free_nats": R.NON_NEGATIVE, "kl_balance": R.UNIT,
                      "kl_scale": R.NON_NEGATIVE}
MODEL_RANGES = {"deter": R.AT_LEAST_ONE, "stoch": R.AT_LEAST_ONE, "hidden": R.AT_LEAST_ONE, "min_std": R.NON_NEGATIVE,
                "encoder_hidden": R.AT_LEAST_ONE, "encoder_layers": R.NON_NEGATIVE, "decoder_hidden": R.AT_LEAST_ONE,
                "decoder_layers": R.NON_NEGATIVE, "decoder_std": R.POSITIVE}
DRIVER_RANGES = {"seed": R.NON_NEGATIVE, "num_seeds": R.AT_LEAST_ONE, "heldout_fraction": R.Range(0.0, 1.0, high_open=True),
                 "eval_episodes": R.AT_LEAST_ONE, "chunk_updates": R.AT_LEAST_ONE, "checkpoint_interval_s": R.NON_NEGATIVE}


def check_config(config: ml_collections.ConfigDict) -> None:
    """Every numeric field in its range (the driver's, the world model's, phase 2's, BCO's). Raises `ConfigError`."""
    errors = (R.range_errors(config, DRIVER_RANGES, "config.")
              + R.range_errors(config.world_model, WORLD_MODEL_RANGES, "config.world_model.")
              + R.range_errors(config.world_model.model, MODEL_RANGES, "config.world_model.model.")
              + R.range_errors(config.imitation, imitation.RANGES, "config.imitation.")
              + R.range_errors(config.bco, bco.RANGES, "config.bco."))
    if errors:
        raise ConfigError("; ".join(errors))


class Setup:
    """The data, the environment and the model that every phase shares."""

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        demos = datasets.load(config.demos, oracle=True, kind="demonstrations")
        embodiment = datasets.load(config.embodiment, kind="embodiment")
        dm, em = demos.metadata, embodiment.metadata
        if envs.body(dm["task"]) != envs.body(em["task"]):  # WalkerWalk's embodiment data serve WalkerRun
            raise ValueError(f"the demonstrations ({dm['task']}, {config.demos}) and the embodiment data "
                             f"({em['task']}, {config.embodiment}) are of different bodies")
        for key in ("obs_shape", "action_shape", "action_repeat"):
            if dm[key] != em[key]:
                raise ValueError(f"the demonstrations and the embodiment data disagree on {key}: "
                                 f"{dm[key]!r} ({config.demos}) vs {em[key]!r} ({config.embodiment})")
        if demos.num_episodes < config.imitation.num_demos:
            raise ValueError(f"{config.demos} holds {demos.num_episodes} demonstrations, "
                             f"the config asks for {config.imitation.num_demos}")
        self.task = dm["task"]
        # Evaluation and collection run one episode per environment from a reset, so no
        # auto-reset: under vmapped seeds a "full" one would run a whole reset (200 physics
        # steps on CheetahRun) at every step.
        self.env, self.spec = envs.make(self.task, action_repeat=dm["action_repeat"],
                                        episode_length=dm["episode_steps"] * dm["action_repeat"], reset_mode="none")
        self.low, self.high = float(self.spec.action_low), float(self.spec.action_high)
        self.action_dim = int(np.prod(dm["action_shape"]))
        self.expert_return = float(np.mean(dm["returns"][: config.imitation.num_demos]))
        keep = config.imitation.num_demos
        demos = jax.tree.map(lambda x: x[:keep], demos)
        self.demos = sequences.observations_only(demos, self.action_dim)
        self.demos_with_actions = sequences.from_dataset(demos)
        episodes = sequences.from_dataset(embodiment)
        n_held = max(1, int(round(config.heldout_fraction * embodiment.num_episodes)))
        self.embodiment = jax.tree.map(lambda x: x[:-n_held], episodes)
        self.heldout = jax.tree.map(lambda x: x[-n_held:], episodes)
        self.model = rssm.make_rssm(config.world_model.model, tuple(dm["obs_shape"]), self.action_dim)
        self.workdir = Path(config.workdir or f"runs/aime_{self.task}_{Path(config.embodiment).stem}_seed{config.seed}")
        self.keys = jax.random.split(jax.random.PRNGKey(config.seed), config.num_seeds)


def run_stage(name: str, s: Setup, learner: loop.Learner, members: tuple, num_updates: int,
              postfix: tuple[str, ...] = ("loss",)) -> loop_lib.LoopResult:
    """One vmapped stage through the launcher's host loop: checkpointed under `<workdir>/<name>/`, resumed
    bit for bit, skipped (restored) when finished. Its metrics are written to `<workdir>/<name>.parquet`."""
    store = CheckpointStore(s.workdir / name)
    try:
        result = loop_lib.run_chunks(learner, members, num_updates, min(s.config.chunk_updates, num_updates),
                                     store=store, checkpoint_interval_s=s.config.checkpoint_interval_s, desc=name,
                                     postfix=postfix)
    finally:
        store.close()
    result.metrics.to_parquet(s.workdir / f"{name}.parquet")
    return result


def world_model_learner(s: Setup) -> loop.Learner:
    """Phase 1: one ELBO update per iteration on embodiment windows; the held-out ELBO every chunk."""
    c = s.config.world_model

    def update(state, key):
        return wm_training.train_step(s.model, c, s.embodiment, state, key)

    def heldout(state, key):
        held = wm_training.evaluate(s.model, c, state.params, s.heldout, key)
        return {"heldout_elbo": held["elbo"], "heldout_obs_mse": held["obs_mse"]}

    return loop.updates_learner(lambda k: wm_training.init(s.model, c, k), update, heldout,
                                eval_every=s.config.chunk_updates)


def phase_model(s: Setup) -> loop_lib.LoopResult:
    return run_stage("world_model", s, world_model_learner(s), (fold(s.keys, 1),), s.config.world_model.num_updates)


def imitation_learner(s: Setup) -> loop.Learner:
    """Phase 2: each seed's policy under its own (frozen) world model, which rides in the state."""
    c = s.config.imitation

    def init(key, wm_params):
        return imitation.init(c, s.model, key), wm_params

    def update(state, key):
        policy, wm_params = state
        policy, metrics = imitation.train_step(c, s.model, wm_params, s.demos, policy, key, s.low, s.high)
        return (policy, wm_params), metrics

    return loop.updates_learner(init, update)


def phase_imitate(s: Setup, wm_params) -> loop_lib.LoopResult:
    return run_stage("imitation", s, imitation_learner(s), (fold(s.keys, 2), wm_params),
                     s.config.imitation.num_updates, postfix=("policy_loss",))


def baselines_learner(s: Setup) -> loop.Learner:
    """BCO(0) and BC with the true actions, trained whole in one iteration (they are cheap)."""
    c = s.config.bco

    def train(_, key):
        k_bco, k_bc = jax.random.split(key)
        idm, policy, m = bco.train_bco(c, k_bco, s.embodiment, s.demos, s.low, s.high)
        bc, bc_losses = bco.train_bc(c, k_bc, s.demos_with_actions, s.low, s.high)
        final = {"idm_loss": m["idm_loss"][-1], "bco_policy_loss": m["policy_loss"][-1], "bc_loss": bc_losses[-1]}
        return {"bco": policy, "idm": idm, "bc_oracle": bc}, final

    def init(key):
        return jax.tree.map(jnp.zeros_like, jax.eval_shape(train, None, key)[0])

    return loop.updates_learner(init, train)


def phase_baselines(s: Setup) -> loop_lib.LoopResult:
    return run_stage("baselines", s, baselines_learner(s), (fold(s.keys, 3),), 1, postfix=("bc_loss",))


def fold(keys: jax.Array, data: int) -> jax.Array:
    """Each seed's key for one stage: [seeds] -> [seeds]."""
    return jax.vmap(lambda k: jax.random.fold_in(k, data))(keys)


def evaluate_all(s: Setup, wm_params, policy_params, baseline_params) -> dict[str, np.ndarray]:
    n, obs_dim = s.config.eval_episodes, int(np.prod(s.spec.obs_shape))
    keys = jax.vmap(lambda k: jax.random.fold_in(k, 4))(s.keys)

    def aime(wm_params, policy_params, key):
        ctrl = imitation.controller(s.config.imitation, s.model, wm_params, policy_params, s.low, s.high)
        return evaluation.evaluate_controller(s.env, ctrl, key, n)

    def stacked(params, key):
        return evaluation.evaluate_controller(
            s.env, bco.controller(s.config.bco, params, obs_dim, s.action_dim, s.low, s.high), key, n)

    stacked_over_seeds = jax.jit(jax.vmap(stacked))  # one compilation for both stacked policies
    returns = {
        "aime": jax.jit(jax.vmap(aime))(wm_params, policy_params, keys),
        "bco": stacked_over_seeds(baseline_params["bco"], keys),
        "bc_oracle": stacked_over_seeds(baseline_params["bc_oracle"], keys),
        "random": jax.jit(jax.vmap(lambda k: evaluation.evaluate(s.env, random_policy(s.spec), k, n)))(keys),
    }
    return {k: np.asarray(v) for k, v in returns.items()}


def report(s: Setup, returns: dict[str, np.ndarray], wm_frame: pd.DataFrame, wm_params) -> dict:
    """Write results.json, table.md, results.png and world_model.png; return the summary."""
    norm = {k: v.mean(1) / s.expert_return for k, v in returns.items()}  # [seeds]
    final = jax.jit(jax.vmap(lambda p, k: wm_training.evaluate(
        s.model, s.config.world_model, p, s.heldout, k)))(wm_params, s.keys)
    open_loop = final["open_loop_mse"]
    summary = {
        "task": s.task, "embodiment": s.config.embodiment, "demos": s.config.demos,
        "num_demos": s.config.imitation.num_demos, "seeds": s.config.num_seeds,
        "expert_return": s.expert_return,
        "return_per_seed": {k: v.mean(1).tolist() for k, v in returns.items()},
        "normalised_per_seed": {k: v.tolist() for k, v in norm.items()},
        "heldout_open_loop_mse": np.asarray(open_loop).mean(0).tolist(),
        "heldout_elbo_final": float(np.mean(final["elbo"])),
    }
    (s.workdir / "results.json").write_text(json.dumps(summary, indent=2))
    lines = [f"{s.task}, embodiment data `{Path(s.config.embodiment).name}`, {s.config.imitation.num_demos} "
             f"demonstrations (expert return {s.expert_return:.1f}), {s.config.num_seeds} seeds, "
             f"{s.config.eval_episodes} episodes each", "",
             "| method | return (mean ± std over seeds) | normalised (% of expert) | per seed |", "|---|---:|---:|---|"]
    for k in METHODS:
        r = returns[k].mean(1)
        lines.append(f"| {k} | {r.mean():.1f} ± {r.std():.1f} | {100 * norm[k].mean():.1f} | "
                     f"{', '.join(f'{x:.0f}' for x in r)} |")
    (s.workdir / "table.md").write_text("\n".join(lines) + "\n")

    fig = Figure(figsize=(5, 3.2))
    ax = fig.subplots()
    means = [100 * norm[k].mean() for k in METHODS]
    ax.bar(METHODS, means, color=["C0", "C1", "C2", "C7"])
    for i, k in enumerate(METHODS):
        ax.scatter([i] * len(norm[k]), 100 * norm[k], color="k", s=10, zorder=3)
    ax.axhline(100, color="k", lw=0.8, ls="--")
    ax.set_ylabel("return, % of the expert's")
    ax.set_title(f"{s.task}: zero-shot imitation from observation", fontsize=9)
    fig.tight_layout()
    fig.savefig(s.workdir / "results.png", dpi=120)

    fig = Figure(figsize=(8, 3))
    a1, a2 = fig.subplots(1, 2)
    chunk = s.config.chunk_updates
    for i, rows in wm_frame.groupby("member"):
        train = rows.groupby((rows.iteration - 1) // chunk).agg(x=("iteration", "max"), loss=("loss", "mean"))
        held = rows[rows.evaluated_at >= 0].drop_duplicates("evaluated_at")
        a1.plot(train.x, -train.loss, color="C0", alpha=0.6, label="train -loss (chunk mean)" if i == 0 else None)
        a1.plot(held.evaluated_at, held.heldout_elbo, color="C1", alpha=0.6, label="held-out ELBO" if i == 0 else None)
    a1.set_xlabel("world-model updates")
    a1.set_ylabel("per 50-step window")
    a1.legend(fontsize=8)
    a2.plot(np.arange(1, len(summary["heldout_open_loop_mse"]) + 1), summary["heldout_open_loop_mse"], marker=".")
    a2.set_xlabel("open-loop prediction horizon k")
    a2.set_ylabel("held-out observation MSE")
    fig.tight_layout()
    fig.savefig(s.workdir / "world_model.png", dpi=120)
    return summary


def main_run(config: ml_collections.ConfigDict, phase: str = "all") -> dict | None:
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    check_config(config)
    s = Setup(config)
    run_lib.claim_workdir(config, s.workdir)  # a changed config is refused, not resumed
    wm = phase_model(s)
    wm_params = wm.carry.state.params
    if phase == "model":
        return None
    if phase in ("imitate", "evaluate", "all"):
        policy_params = phase_imitate(s, wm_params).carry.state[0].params
    if phase in ("baselines", "evaluate", "all"):
        baseline_params = phase_baselines(s).carry.state
    if phase in ("imitate", "baselines"):
        return None
    returns = evaluate_all(s, wm_params, policy_params, baseline_params)
    summary = report(s, returns, wm.metrics, wm_params)
    print((s.workdir / "table.md").read_text())
    print(f"written to {s.workdir}")
    return summary


SAC_CONFIG = Path(__file__).parents[1] / "backbones" / "configs" / "sac.py"
RESULTS = Path(__file__).parent / "results"


class Row(NamedTuple):
    """One row of the report: the run's name in results/, its config overrides, and a run whose world
    model it reuses (phase 1 reads only the embodiment data, so the same data give the same bits)."""

    name: str
    overrides: dict
    world_model_from: str | None = None


class Task(NamedTuple):
    expert: dict               # the SAC expert's config overrides
    demos: int                 # demonstrations recorded from it
    embodiment: tuple          # embodiment data recorded from it: (mode, episodes) pairs
    rows: tuple                # Row(...)


def _expert(task: str, action_repeat: int, steps: int | None = None) -> dict:
    return {"task": task, "env.action_repeat": action_repeat, "num_seeds": 1,
            **({"agent.total_env_steps": steps} if steps else {})}


def _data(task: str, kind: str) -> str:
    return f"datasets/{task}/{kind}.npz"


# The report's rows, as they were run on the 2-core CPU (experiments/aime/REPORT.md)
TASKS = {
    "PendulumSwingup": Task(_expert("PendulumSwingup", 4), 100, (("mixed", 200), ("random", 200)), (
        Row("pendulum_mixed", {"demos": _data("PendulumSwingup", "demos"),
                               "embodiment": _data("PendulumSwingup", "embodiment_mixed")}),
        Row("pendulum_random", {"demos": _data("PendulumSwingup", "demos"),
                                "embodiment": _data("PendulumSwingup", "embodiment_random")}),
        Row("pendulum_mixed_100demos", {"demos": _data("PendulumSwingup", "demos"),
                                        "embodiment": _data("PendulumSwingup", "embodiment_mixed"),
                                        "imitation.num_demos": 100}, "pendulum_mixed"))),
    "CheetahRun": Task(_expert("CheetahRun", 2, 56_000), 10, (("mixed", 200),), (
        Row("cheetah_mixed", {"demos": _data("CheetahRun", "demos"), "embodiment": _data("CheetahRun", "embodiment_mixed")}),)),
    "WalkerWalk": Task(_expert("WalkerWalk", 2, 60_000), 10, (("mixed", 200),), (
        Row("walker_mixed", {"demos": _data("WalkerWalk", "demos"), "embodiment": _data("WalkerWalk", "embodiment_mixed")}),)),
    "WalkerRun": Task(_expert("WalkerRun", 2, 60_000), 10, (), (
        Row("walkerrun_mixed", {"demos": _data("WalkerRun", "demos"), "embodiment": _data("WalkerWalk", "embodiment_mixed")},
            "walker_mixed"),)),
    "WalkerStand": Task(_expert("WalkerStand", 2, 60_000), 10, (), (
        Row("walkerstand_mixed", {"demos": _data("WalkerStand", "demos"),
                                  "embodiment": _data("WalkerWalk", "embodiment_mixed")}, "walker_mixed"),)),
}
# the task whose data (and world model) a row borrows must be reproduced first
NEEDS = {"WalkerRun": "WalkerWalk", "WalkerStand": "WalkerWalk"}
# every row twice: the released code's objective (the default) and the paper's action prior, on the same
# world model (phase 1 does not depend on phase 2's objective)
OBJECTIVES = {"": {}, "_paper_prior": {"imitation.action_prior": "uniform"}}


def workdir_of(name: str) -> Path:
    return Path("runs") / f"aime_{name}"


def reproduce(tasks: list[str], extra: list[str]) -> list[dict]:
    """Every row of the report for `tasks`: experts and datasets where missing, then every phase, then results/."""
    tasks = reproduce_lib.check_tasks(tasks, TASKS)
    order = list(dict.fromkeys([NEEDS[t] for t in tasks if t in NEEDS] + tasks))
    results, summaries = reproduce_lib.results_dir(RESULTS, extra), []
    for task in order:
        spec = TASKS[task]
        expert = reproduce_lib.ensure_expert(SAC_CONFIG, spec.expert, f"experts/{task}")
        reproduce_lib.ensure_recorded(str(expert), f"datasets/{task}", demos=spec.demos)
        for mode, episodes in spec.embodiment:
            reproduce_lib.ensure_recorded(str(expert), f"datasets/{task}", embodiment=mode, embodiment_episodes=episodes)
        rows = [Row(row.name + suffix, {**row.overrides, **objective},
                    row.world_model_from if not suffix else (row.world_model_from or row.name))
                for row in spec.rows for suffix, objective in OBJECTIVES.items()]
        for row in rows:
            config = reproduce_lib.load_config(DEFAULT_CONFIG, {**row.overrides, "workdir": str(workdir_of(row.name))},
                                               extra)
            workdir = Path(config.workdir)
            if row.world_model_from and not (workdir / "world_model").exists():
                source = workdir.parent / workdir_of(row.world_model_from).name / "world_model"
                if source.exists():
                    shutil.copytree(source, workdir / "world_model")
            summaries.append(main_run(config, "all"))
            reproduce_lib.publish({workdir / "results.json": results / f"{row.name}.json",
                                   workdir / "table.md": results / f"{row.name}.md",
                                   workdir / "results.png": results / f"{row.name}.png",
                                   workdir / "world_model.png": results / f"{row.name}_world_model.png"})
    (results / "summary.md").write_text(summary_table(sorted(results.glob("*.json"))))
    print((results / "summary.md").read_text())
    return summaries


def summary_table(paths: list[Path]) -> str:
    """Every run's normalised return per method (mean over seeds, % of the demonstrations' return)."""
    lines = ["| run | task | " + " | ".join(METHODS) + " |", "|---|---|" + "---:|" * len(METHODS)]
    for path in paths:
        run = json.loads(path.read_text())
        if "normalised_per_seed" in run:
            cells = [f"{100 * np.mean(run['normalised_per_seed'][m]):.1f}%" for m in METHODS]
            lines.append(f"| {path.stem} | {run['task']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    phase = flags.DEFINE_enum("phase", "all", list(PHASES), "Which phase to run (earlier phases run or resume first).")
    reproduce_lib.command(DEFAULT_CONFIG, lambda config: main_run(config, phase.value), reproduce, list(TASKS),
                          (ValueError, FileNotFoundError, loop_lib.NonFiniteError))


if __name__ == "__main__":
    main()
