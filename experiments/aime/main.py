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
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import app, flags, logging
from matplotlib.figure import Figure
from tqdm.auto import tqdm

import envs
from algos.common import evaluation
from algos import bco
from algos.aime import imitation
from envs import datasets, sequences
from envs.rollout import random_policy
from experiments.launch import cli
from experiments.launch.checkpoints import CheckpointStore
from worldmodels import rssm, training as wm_training

DEFAULT_CONFIG = str(Path(__file__).parent / "configs" / "aime_cpu.py")
PHASES = ("model", "imitate", "baselines", "evaluate", "all")
METHODS = ("aime", "bco", "bc_oracle", "random")


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
        sequences = sequences.from_dataset(embodiment)
        n_held = max(1, int(round(config.heldout_fraction * embodiment.num_episodes)))
        self.embodiment = jax.tree.map(lambda x: x[:-n_held], sequences)
        self.heldout = jax.tree.map(lambda x: x[-n_held:], sequences)
        self.model = rssm.make_rssm(config.world_model.model, tuple(dm["obs_shape"]), self.action_dim)
        self.workdir = Path(config.workdir or f"runs/aime_{self.task}_{Path(config.embodiment).stem}_seed{config.seed}")
        self.keys = jax.random.split(jax.random.PRNGKey(config.seed), config.num_seeds)


def run_stage(name: str, workdir: Path, init: Callable, init_args, chunk: Callable, keys: jax.Array,
              num_updates: int, chunk_updates: int) -> tuple[object, dict[str, np.ndarray]]:
    """Run `num_updates` updates of a vmapped stage in chunks, checkpointing after each; resumes.

    `init(init_arg)` and `chunk(state, key) -> (state, metrics [chunk_updates])` are per
    seed (vmapped over `init_args` and `keys`); returns the final states [seeds, ...] and
    the history name -> [seeds, chunks] (chunk means).
    """
    if num_updates % chunk_updates:
        raise ValueError(f"{name}: num_updates {num_updates} is not a multiple of chunk_updates {chunk_updates}")
    store = CheckpointStore(workdir / name)
    states = jax.jit(jax.vmap(init))(init_args)
    restored = store.restore_latest(jax.eval_shape(lambda: states))
    done, history = 0, {}
    if restored is not None:
        done, states, history = restored.iteration, restored.carry, restored.history
    def chunk_means(state, key):
        state, metrics = chunk(state, key)
        return state, jax.tree.map(lambda m: m.mean(0), metrics)

    step = jax.jit(jax.vmap(chunk_means))
    with tqdm(total=num_updates, initial=done, desc=name, unit="upd", disable=done >= num_updates) as bar:
        while done < num_updates:
            states, metrics = step(states, keys)
            for k, v in jax.device_get(metrics).items():
                if np.ndim(v) == 1:
                    history[k] = np.concatenate([history.get(k, np.zeros((len(v), 0))), v[:, None]], axis=1)
            if not np.isfinite(history["loss" if "loss" in history else next(iter(history))]).all():
                raise FloatingPointError(f"{name}: non-finite loss after {done + chunk_updates} updates")
            done += chunk_updates
            store.save(done, states, history)
            bar.update(chunk_updates)
            bar.set_postfix({k: f"{float(np.mean(v[:, -1])):.3g}" for k, v in history.items() if k in ("loss", "policy_loss", "open_loop")})
    store.close()
    return states, history


def phase_model(s: Setup):
    c = s.config.world_model
    chunk = wm_training.make_chunk(s.model, c, s.embodiment, s.config.chunk_updates)

    def chunk_with_heldout(state, key):
        state, metrics = chunk(state, key)
        held = wm_training.evaluate(s.model, c, state.params, s.heldout, jax.random.fold_in(key, 1))
        metrics["heldout_elbo"] = jnp.broadcast_to(held["elbo"], metrics["loss"].shape)
        metrics["heldout_obs_mse"] = jnp.broadcast_to(held["obs_mse"], metrics["loss"].shape)
        return state, metrics

    init_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(s.keys)
    return run_stage("world_model", s.workdir, lambda k: wm_training.init(s.model, c, k), init_keys,
                     chunk_with_heldout, s.keys, c.num_updates, s.config.chunk_updates)


def phase_imitate(s: Setup, wm_states):
    c = s.config.imitation
    # each seed imitates under its own world model: the world model's parameters ride in the state
    def init(key_and_params):
        key, params = key_and_params
        return imitation.init(c, s.model, key), params

    def chunk(state, key):
        policy_state, wm_params = state
        fn = imitation.make_chunk(c, s.model, wm_params, s.demos, s.config.chunk_updates, s.low, s.high)
        policy_state, metrics = fn(policy_state, key)
        return (policy_state, wm_params), metrics

    keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(s.keys)
    return run_stage("imitation", s.workdir, init, (keys, wm_states.params), chunk, keys, c.num_updates,
                     s.config.chunk_updates)


def phase_baselines(s: Setup):
    c = s.config.bco
    store = CheckpointStore(s.workdir / "baselines")

    def train(key):
        k_bco, k_bc = jax.random.split(jax.random.fold_in(key, 3))
        idm, policy, m = bco.train_bco(c, k_bco, s.embodiment, s.demos, s.low, s.high)
        bc, bc_losses = bco.train_bc(c, k_bc, s.demos_with_actions, s.low, s.high)
        return {"bco": policy, "idm": idm, "bc_oracle": bc}, {**m, "bc_loss": bc_losses}

    template = jax.eval_shape(jax.vmap(train), s.keys)
    restored = store.restore_latest(template[0])
    if restored is not None:
        store.close()
        return restored.carry, restored.history
    logging.info("training BCO(0) and BC with actions (%d seeds)", len(s.keys))
    params, losses = jax.jit(jax.vmap(train))(s.keys)
    history = {k: np.asarray(v) for k, v in losses.items()}
    store.save(1, params, history)
    store.close()
    return params, history


def evaluate_all(s: Setup, wm_states, policy_states, baseline_params) -> dict[str, np.ndarray]:
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
        "aime": jax.jit(jax.vmap(aime))(wm_states.params, policy_states.params, keys),
        "bco": stacked_over_seeds(baseline_params["bco"], keys),
        "bc_oracle": stacked_over_seeds(baseline_params["bc_oracle"], keys),
        "random": jax.jit(jax.vmap(lambda k: evaluation.evaluate(s.env, random_policy(s.spec), k, n)))(keys),
    }
    return {k: np.asarray(v) for k, v in returns.items()}


def report(s: Setup, returns: dict[str, np.ndarray], wm_history, wm_states) -> dict:
    """Write results.json, table.md, results.png and world_model.png; return the summary."""
    norm = {k: v.mean(1) / s.expert_return for k, v in returns.items()}  # [seeds]
    open_loop = jax.jit(jax.vmap(lambda p, k: wm_training.evaluate(
        s.model, s.config.world_model, p, s.heldout, k)["open_loop_mse"]))(wm_states.params, s.keys)
    summary = {
        "task": s.task, "embodiment": s.config.embodiment, "demos": s.config.demos,
        "num_demos": s.config.imitation.num_demos, "seeds": s.config.num_seeds,
        "expert_return": s.expert_return,
        "return_per_seed": {k: v.mean(1).tolist() for k, v in returns.items()},
        "normalised_per_seed": {k: v.tolist() for k, v in norm.items()},
        "heldout_open_loop_mse": np.asarray(open_loop).mean(0).tolist(),
        "heldout_elbo_final": float(np.mean(wm_history["heldout_elbo"][:, -1])),
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
    x = np.arange(1, wm_history["loss"].shape[1] + 1) * s.config.chunk_updates
    for i in range(wm_history["loss"].shape[0]):
        a1.plot(x, -wm_history["loss"][i], color="C0", alpha=0.6, label="train -loss" if i == 0 else None)
        a1.plot(x, wm_history["heldout_elbo"][i], color="C1", alpha=0.6, label="held-out ELBO" if i == 0 else None)
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
    s = Setup(config)
    s.workdir.mkdir(parents=True, exist_ok=True)
    (s.workdir / "config.json").write_text(config.to_json(indent=2))
    wm_states, wm_history = phase_model(s)
    if phase == "model":
        return None
    if phase in ("imitate", "evaluate", "all"):
        (policy_states, _), _ = phase_imitate(s, wm_states)
    if phase in ("baselines", "evaluate", "all"):
        baseline_params, _ = phase_baselines(s)
    if phase in ("imitate", "baselines"):
        return None
    returns = evaluate_all(s, wm_states, policy_states, baseline_params)
    summary = report(s, returns, wm_history, wm_states)
    print((s.workdir / "table.md").read_text())
    print(f"written to {s.workdir}")
    return summary


def main() -> None:
    config = cli.define_config(DEFAULT_CONFIG)
    phase = flags.DEFINE_enum("phase", "all", list(PHASES), "Which phase to run (earlier phases run or resume first).")

    def _main(argv: list[str]) -> None:
        del argv
        logging.set_verbosity(logging.WARNING)
        main_run(config.value, phase.value)

    app.run(_main)


if __name__ == "__main__":
    main()
