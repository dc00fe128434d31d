"""Meta-World stepping rate on MJX against the number of environments, beside its limit and peer.

For each task and number of environments it times, in one process:
  - `raw`: warp's `mjx.step` x 5 on the task's model, vmapped and scanned (the physics alone:
    the limit of any Meta-World environment on this backend);
  - `ours`: the task through `envs.make` (mocap control, forward pass, observation, reward,
    episode limit, automatic reset), random actions;
and beside them the official metaworld environment on single-threaded CPU MuJoCo (the peer),
stepped with random actions. `impl="jax"` is tried too: MJX's pure-JAX implementation refuses
the Sawyer models (cylinder collisions), and the script prints its error.

    python -m experiments.benchmarks.metaworld_throughput --tasks mw/basketball,mw/lever-pull --envs 1,16,128
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import jax
import numpy as np

import envs
from envs.metaworld import TASKS
from envs.metaworld.sawyer import CONSTRAINTS_PER_WORLD, CONTACTS_PER_WORLD, FRAME_SKIP
from experiments.benchmarks import best_time


def _best(fn, *args, repeats: int) -> tuple[float, float]:
    """(compile seconds, best seconds of a call) of `jit(fn)(*args)`."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return time.perf_counter() - t0, best_time(compiled, *args, repeats=repeats)


def time_ours(task: str, num_envs: int, steps: int, repeats: int) -> tuple[float, float]:
    env, spec = envs.make(task, num_envs=num_envs)
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    actions = jax.random.uniform(jax.random.PRNGKey(1), (steps, num_envs, 4), minval=-1, maxval=1)
    run = lambda s, a: jax.lax.scan(lambda c, x: (env.step(c, x), ()), s, a)[0]  # noqa: E731
    compile_s, seconds = _best(run, state, actions, repeats=repeats)
    return compile_s, steps * num_envs / seconds


def time_raw(task: str, num_envs: int, steps: int, repeats: int) -> tuple[float, float]:
    from mujoco import mjx

    mj_model = TASKS[task]().mj_model
    mx = mjx.put_model(mj_model, impl="warp")
    d0 = mjx.make_data(mj_model, impl="warp", naconmax=num_envs * CONTACTS_PER_WORLD, njmax=CONSTRAINTS_PER_WORLD)
    ctrl = jax.random.uniform(jax.random.PRNGKey(1), (steps, num_envs, mj_model.nu), minval=-1, maxval=1)

    def run(ctrl):
        def world(c):
            def body(d, u):
                d = d.replace(ctrl=u)
                return jax.lax.fori_loop(0, FRAME_SKIP, lambda _, d: mjx.step(mx, d), d), ()
            return jax.lax.scan(body, d0, c)[0].qpos
        return jax.vmap(world, in_axes=1)(ctrl)

    compile_s, seconds = _best(run, ctrl, repeats=repeats)
    return compile_s, steps * num_envs / seconds


def time_peer(task: str, seconds: float = 3.0) -> float:
    """Environment steps/s of the official environment (CPU MuJoCo, one thread), random actions."""
    from envs.metaworld.oracle import oracle

    env, _ = oracle(TASKS[task].config.metaworld_name)
    rng = np.random.default_rng(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            _, _, _, truncated, _ = env.step(rng.uniform(-1, 1, 4))
            if truncated:
                env.reset()
        n += 100
    return n / (time.perf_counter() - t0)


def jax_impl_error(task: str) -> str:
    from mujoco import mjx

    try:
        mjx.put_model(TASKS[task]().mj_model, impl="jax")
    except Exception as e:  # noqa: BLE001 - report whatever MJX says
        return f"{type(e).__name__}: {e}"
    return "loads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--envs", default="1,16,128")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    print(f"backend {jax.default_backend()}, {jax.devices()[0].device_kind}")
    for task in args.tasks.split(","):
        peer = time_peer(task)
        print(f"{task}: official metaworld on CPU MuJoCo {peer:,.0f} env steps/s; impl='jax': {jax_impl_error(task)}")
        for n in (int(x) for x in args.envs.split(",")):
            raw_compile, raw = time_raw(task, n, args.steps, args.repeats)
            ours_compile, ours = time_ours(task, n, args.steps, args.repeats)
            row = {"task": task, "num_envs": n, "raw_steps_per_s": raw, "ours_steps_per_s": ours,
                   "peer_steps_per_s": peer, "ours_over_raw": ours / raw, "ours_over_peer": ours / peer,
                   "compile_s": ours_compile, "device": jax.devices()[0].device_kind}
            rows.append(row)
            print(f"  {n:5d} envs: raw {raw:9,.0f}  ours {ours:9,.0f} env steps/s   ours/raw {ours / raw:.2f}  "
                  f"ours/peer {ours / peer:.2f}  (compile {ours_compile:.0f} s)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
