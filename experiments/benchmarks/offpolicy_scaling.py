"""How the off-policy backbone's cost grows with `num_envs` and the batch: our SAC as it is, its
massively parallel settings (C51 critic, LayerNorm trunk, updates per vectorised step), the raw
stepping rate at the same number of environments, and Brax's SAC, side by side in one run.

Every row times one compiled, warm chunk of training iterations (the random prefill
excluded) and prints environment steps/s, gradient updates/s and samples/s (updates x
batch), and the ratio to the raw stepping rate of the same vmapped environments under
random actions, which no trainer can beat. `--peer` adds Brax's SAC (`brax_peer.py --shim`
on this jax) at our current SAC's settings, and ours/brax.

    python -m experiments.benchmarks.offpolicy_scaling --task=CheetahRun --envs=8,64,256,1024 --batches=256,4096

`--rows` picks which settings run: `current` (8 environments, one update per environment
step, batch 256: what CIP runs) and `parallel` (every `--envs` x `--batches`, with
`--updates-per-vector-step` updates after each vectorised step).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import ml_collections

import envs
from algos import sac
from algos.common import loop
from experiments.benchmarks.env_throughput import time_mjx
from experiments.benchmarks.trainer_throughput import run_peer


def current_config() -> ml_collections.ConfigDict:
    c = sac.default_config()
    c.hidden_sizes = (256, 256)
    return c


def parallel_config(batch_size: int, updates_per_vector_step: float, compute_dtype: str):
    """FastSAC-style settings as config values (Seo et al., 2025): C51, LayerNorm, few updates per step, AdamW."""
    c = current_config()
    c.batch_size = batch_size
    c.updates_per_vector_step = updates_per_vector_step
    c.num_atoms, c.critic_trunk, c.compute_dtype = 101, "layernorm", compute_dtype
    c.weight_decay = 0.1  # FastTD3's AdamW
    return c


def time_chunk(config, task: str, num_envs: int, iterations: int) -> dict:
    """Env steps/s and updates/s of `iterations` compiled training iterations with `num_envs` environments."""
    config = config.copy_and_resolve_references()
    config.learning_starts = max(config.batch_size, 4 * num_envs)
    config.total_env_steps = 10**9  # only the buffer's size depends on it: set by replay_capacity below
    config.replay_capacity = num_envs * max(64, iterations + 8)
    env, _ = envs.make(task, num_envs=num_envs)
    learner = sac.make_learner(config, env)
    carry = jax.jit(learner.init)(jax.random.PRNGKey(0))
    t0 = time.perf_counter()
    chunk = jax.jit(loop.make_chunk(learner, iterations)).lower(carry, 0).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(chunk(carry, 0))  # warm
    t0 = time.perf_counter()
    out, _ = jax.block_until_ready(chunk(carry, 0))
    wall = time.perf_counter() - t0
    updates = int(out.agent.updates - carry.agent.updates)
    return {"num_envs": num_envs, "batch_size": int(config.batch_size), "env_sps": iterations * num_envs / wall,
            "updates_per_s": updates / wall, "samples_per_s": updates * config.batch_size / wall,
            "updates_per_vector_step": updates / iterations, "compile_s": compile_s}


def raw_rate(task: str, num_envs: int) -> float:
    env, spec = envs.make(task, num_envs=num_envs)
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    return time_mjx(env.step, state, num_envs, spec.action_size, max(20, min(500, 100_000 // num_envs)))[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="CheetahRun")
    parser.add_argument("--rows", default="current,parallel")
    parser.add_argument("--envs", default="8,64,256,1024")
    parser.add_argument("--batches", default="256,4096")
    parser.add_argument("--updates-per-vector-step", type=float, default=2.0)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--env-steps-per-row", type=int, default=8_192, help="the chunk's length, in env steps")
    parser.add_argument("--peer", action="store_true", help="add Brax's SAC at our current SAC's settings")
    parser.add_argument("--peer-steps", type=int, default=20_000)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    device = jax.devices()[0].device_kind
    print(f"jax {jax.__version__} on {jax.default_backend()} ({device}); task {args.task}", flush=True)
    rows, raw = [], {}

    def report(name: str, row: dict) -> None:
        n = row["num_envs"]
        raw.setdefault(n, raw_rate(args.task, n))
        row.update(setting=name, raw_sps=raw[n], device=device, task=args.task)
        rows.append(row)
        print(f"{name:9s} n={n:5d} batch={row['batch_size']:6d} upd/vstep={row['updates_per_vector_step']:6.1f}: "
              f"{row['env_sps']:>10,.0f} env steps/s ({row['env_sps'] / raw[n]:6.3f}x raw {raw[n]:>11,.0f}) "
              f"{row['updates_per_s']:>8,.0f} updates/s {row['samples_per_s']:>12,.0f} samples/s "
              f"(compile {row['compile_s']:.0f} s)", flush=True)

    kinds = args.rows.split(",")
    if "current" in kinds:
        iterations = max(8, args.env_steps_per_row // 8)
        report("current", time_chunk(current_config(), args.task, 8, min(iterations, 512)))
    if "parallel" in kinds:
        for n in [int(x) for x in args.envs.split(",")]:
            for b in [int(x) for x in args.batches.split(",")]:
                config = parallel_config(b, args.updates_per_vector_step, args.dtype)
                report("parallel", time_chunk(config, args.task, n, max(4, args.env_steps_per_row // n)))
    if args.peer:
        peer = run_peer(sys.executable, ["--algo", "sac", "--num_envs", "8", "--steps", str(args.peer_steps),
                                      "--batch_size", "256", "--learning_starts", "1000", "--hidden", "256", "256",
                                      "--task", args.task, "--shim"])
        print(f"brax sac  n=    8 batch=   256: {peer['sps']:>10,.0f} env steps/s (its training/sps after compiling)",
              flush=True)
        for row in rows:
            row["brax_sps"] = peer["sps"]
            print(f"  {row['setting']:9s} n={row['num_envs']:5d} batch={row['batch_size']:6d}: "
                  f"{row['env_sps'] / peer['sps']:6.2f}x brax's SAC", flush=True)
        if "error" in peer:
            print(f"  brax peer failed: {peer['error'][-500:]}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
