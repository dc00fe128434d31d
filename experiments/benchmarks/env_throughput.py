"""Raw environment stepping rate: the ceiling every trainer is measured against.

For each task and number of parallel environments it times, in one process:
  - `bare`: Playground's own `step`, vmapped and scanned (no wrappers);
  - `ours`: the same task through `envs.make` (action repeat, episode limit,
    automatic reset, episode statistics), once per reset mode;
and beside them the single-threaded MuJoCo C simulator (`mujoco.mj_step`) on the
same model, counting one environment step as the same number of physics substeps.
It prints steps per second and the ratios ours/bare and MJX/C.

    python -m experiments.benchmarks.env_throughput --tasks CartpoleSwingup,CheetahRun,WalkerWalk
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import mujoco
import numpy as np

import envs
from envs.backends import mujoco_model


def time_mjx(step_fn, state, num_envs: int, action_size: int, steps: int, repeats: int = 5) -> tuple[float, float]:
    """Returns (compile seconds, best steps/s) for `steps` scanned steps of `num_envs` envs."""
    actions = jax.random.uniform(jax.random.PRNGKey(1), (steps, num_envs, action_size), minval=-1, maxval=1)

    def run(s, acts):
        return jax.lax.scan(lambda c, a: (step_fn(c, a), ()), s, acts)[0]

    t0 = time.perf_counter()
    compiled = jax.jit(run).lower(state, actions).compile()
    compile_s = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(state, actions))
        best = min(best, time.perf_counter() - t0)
    return compile_s, steps * num_envs / best


def time_mujoco_c(model: mujoco.MjModel, substeps: int, seconds: float = 2.0) -> float:
    """Environment steps per second of single-threaded MuJoCo C with random controls."""
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    ctrl = rng.uniform(-1, 1, size=(1000, model.nu))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for i in range(1000):
            data.ctrl[:] = ctrl[i]
            for _ in range(substeps):
                mujoco.mj_step(model, data)
        n += 1000
        if not np.all(np.isfinite(data.qpos)):
            mujoco.mj_resetData(model, data)
    return n / (time.perf_counter() - t0)


def benchmark_task(task: str, env_counts: list[int], steps_budget: int, reset_modes: list[str]) -> list[dict]:
    from mujoco_playground import registry as pg_registry

    bare = pg_registry.load(task, config_overrides={"impl": "jax"})
    _, spec = envs.make(task)
    substeps = int(round(bare.dt / bare.mj_model.opt.timestep))
    c_rate = time_mujoco_c(mujoco_model(envs.make(task)[0]), substeps)
    rows = []
    for n in env_counts:
        steps = int(max(20, min(1000, steps_budget // n)))
        keys = jax.random.split(jax.random.PRNGKey(0), n)
        bare_state = jax.jit(jax.vmap(bare.reset))(keys)
        bare_compile, bare_rate = time_mjx(jax.vmap(bare.step), bare_state, n, spec.action_size, steps)
        row = {"task": task, "num_envs": n, "steps": steps, "bare_sps": bare_rate, "bare_compile_s": bare_compile,
               "mujoco_c_sps": c_rate, "device": jax.devices()[0].device_kind}
        for mode in reset_modes:
            env, _ = envs.make(task, num_envs=n, reset_mode=mode)
            state = jax.jit(env.reset)(jax.random.PRNGKey(0))
            compile_s, rate = time_mjx(env.step, state, n, spec.action_size, steps)
            row[f"ours_{mode}_sps"] = rate
            row[f"ours_{mode}_compile_s"] = compile_s
        rows.append(row)
        modes = "  ".join(f"ours[{m}] {row[f'ours_{m}_sps']:>11,.0f} ({row[f'ours_{m}_sps'] / bare_rate:4.2f}x bare)" for m in reset_modes)
        print(f"{task:16s} n={n:5d}  bare {bare_rate:>11,.0f} steps/s  {modes}  "
              f"MuJoCo C {c_rate:>9,.0f}  bare/C {bare_rate / c_rate:6.2f}x", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="CartpoleSwingup,CheetahRun,WalkerWalk")
    parser.add_argument("--num-envs", default="1,4,16,64,256,1024,4096")
    parser.add_argument("--steps-budget", type=int, default=200_000, help="env steps per timing (per count)")
    parser.add_argument("--reset-modes", default="full,cached")
    parser.add_argument("--out", default="", help="optional JSON file for the rows")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind}), mujoco {mujoco.__version__}")
    rows = []
    for task in args.tasks.split(","):
        rows += benchmark_task(task, [int(n) for n in args.num_envs.split(",")], args.steps_budget,
                               args.reset_modes.split(","))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
