"""What the launcher costs, and what vmapping a sweep saves; both printed as ratios from one run.

1. Overhead: the same PPO run (the README's main job, shortened) trained by calling
   `jit(train)` directly (one `lax.scan` over every iteration) against the launcher's
   host loop (`experiments.launch.loop.run_chunks`: chunks, metrics to pandas, the progress
   bar, and checkpoints at the default interval and, as a worst case, after every
   chunk). Compilation is excluded from both; each is the best of `--repeats`; ratio =
   launcher time / direct time.

2. Sweep scaling: S seeds as one vmapped program (`run_chunks` on S keys, one
   compile) against S separate runs one after another (each compiles its own
   program, as a separate process would; process start-up and imports are not
   counted, which favours separate runs). Wall time includes compilation, which is
   the point on a CPU: the vmapped program compiles once.

    python -m experiments.benchmarks.launcher [--steps 300000] [--sweep-steps 51200] [--seeds 1 8 32]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import experiments  # noqa: F401  (the XLA:CPU flag, see experiments/__init__.py)
import jax

import envs
from algos.common import loop as algo_loop
from algos import ppo
from experiments.launch import loop
from experiments.launch.checkpoints import CheckpointStore


def _setup(steps: int):
    env, spec = envs.make("CartpoleBalance", num_envs=32, episode_length=1000, reset_mode="full")
    config = ppo.default_config()
    config.total_env_steps = steps
    learner = ppo.make_learner(config, env)
    return learner, ppo.num_iterations(config, spec.num_envs)


def overhead(steps: int, chunk_iterations: int = 10, repeats: int = 3) -> dict:
    learner, iterations = _setup(steps)
    iterations -= iterations % chunk_iterations
    key = jax.random.PRNGKey(0)
    train = jax.jit(algo_loop.make_train(learner, iterations)).lower(key).compile()
    jax.block_until_ready(train(key))  # warm
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(train(key))
        times.append(time.perf_counter() - t0)
    direct_s = min(times)
    out = {"iterations": iterations, "env_steps": iterations * learner.env_steps_per_iteration, "direct_s": direct_s}
    for name, interval in (("launcher_no_checkpoint", None), ("launcher_checkpoint_60s", 60.0),
                           ("launcher_checkpoint_every_chunk", 0.0)):
        best = None
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as d:
                store = CheckpointStore(d, keep=3) if interval is not None else None
                _, _, t = loop.run_chunks(learner, key[None], iterations, chunk_iterations, store=store,
                                          checkpoint_interval_s=interval or 0.0, progress=True)
                saves = store.saves if store else 0
                if store:
                    store.close()
            if best is None or t["train_s"] < best[0]["train_s"]:
                best = (t, saves)
        t, saves = best
        out[f"{name}_s"] = t["train_s"]
        out[f"{name}_ratio"] = t["train_s"] / direct_s
        if saves:
            out[f"{name}_seconds_per_checkpoint"] = t["checkpoint_s"] / saves
    return out


def sweep_scaling(steps: int, seed_counts: list[int]) -> list[dict]:
    rows = []
    for seeds in seed_counts:
        learner, iterations = _setup(steps)
        t0 = time.perf_counter()
        loop.run_chunks(learner, jax.random.split(jax.random.PRNGKey(0), seeds), iterations, 10, progress=False)
        vmapped_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for s in range(seeds):
            learner, _ = _setup(steps)  # a fresh program, as a separate run has
            loop.run_chunks(learner, jax.random.PRNGKey(s)[None], iterations, 10, progress=False)
        separate_s = time.perf_counter() - t0
        rows.append({"seeds": seeds, "vmapped_s": vmapped_s, "separate_s": separate_s,
                     "separate_over_vmapped": separate_s / vmapped_s})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300_000, help="environment steps of the overhead run")
    parser.add_argument("--sweep-steps", type=int, default=51_200, help="environment steps per seed in the sweep")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repeats", type=int, default=3, help="overhead timings: best of this many")
    parser.add_argument("--skip-overhead", action="store_true")
    args = parser.parse_args()
    print(f"backend: {jax.default_backend()}, devices: {jax.devices()}")
    if not args.skip_overhead:
        print(json.dumps(overhead(args.steps, repeats=args.repeats), indent=2), flush=True)
    sweep_scaling(args.sweep_steps, args.seeds)


if __name__ == "__main__":
    main()
