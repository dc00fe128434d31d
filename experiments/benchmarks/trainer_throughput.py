"""Training throughput of our PPO and SAC, side by side with the ceiling and with Brax's trainers.

For each agent, on one task with the same number of environments, budget and
network sizes, one run prints:

  - `raw`: the stepping rate of the same vmapped, wrapped environment under random
    actions (the ceiling a trainer cannot beat);
  - `ours`: environment steps per second of a whole training run (compilation
    excluded), and its final deterministic evaluation return;
  - `brax`: Brax's own trainer (brax 0.14 with jax 0.7.2, in a separate virtual
    environment given by `--peer-python`), its steps per second from the epochs
    after the first (which compiles), and its final deterministic evaluation return;

then the ratios ours/raw and ours/brax. `--seeds` adds the wall time of one
training chunk with 1, 4, 16 vmapped seeds.

    python -m experiments.benchmarks.trainer_throughput --peer-python .venv-brax/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

import envs
from algos import ppo, sac
from algos.common import evaluation, loop
from experiments.benchmarks.env_throughput import time_mjx

PEER = Path(__file__).with_name("brax_peer.py")


def ppo_config(steps: int):
    c = ppo.default_config()
    c.total_env_steps = steps
    c.rollout_length, c.num_minibatches, c.update_epochs, c.hidden_sizes = 32, 4, 4, (64, 64)
    return c


def sac_config(steps: int, learning_starts: int):
    c = sac.default_config()
    c.total_env_steps, c.learning_starts, c.hidden_sizes = steps, learning_starts, (256, 256)
    return c


def time_training(algo, config, env, eval_env) -> dict:
    """Compile, then time one whole `train(key)`; evaluate the result deterministically."""
    train = jax.jit(algo.make_train(config, env))
    key = jax.random.PRNGKey(0)
    t0 = time.perf_counter()
    compiled = train.lower(key).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    carry, metrics = jax.block_until_ready(compiled(key))
    run_s = time.perf_counter() - t0
    policy = lambda obs, k: algo.act(carry.agent, obs, k, deterministic=True)  # noqa: E731
    returns = jax.jit(evaluation.evaluate, static_argnums=(0, 1, 3))(eval_env, policy, jax.random.PRNGKey(1), 16)
    # like Brax's `training/sps`, count only the steps taken while training, not the random prefill
    trained_steps = config.total_env_steps - algo.make_learner(config, env).prefill_env_steps
    return {"sps": trained_steps / run_s, "compile_s": compile_s, "run_s": run_s,
            "eval_return": float(np.mean(returns))}


def run_peer(peer_python: str, args: list[str]) -> dict:
    if not peer_python:
        return {"sps": float("nan"), "final_eval_return": float("nan"), "error": "no --peer-python given"}
    proc = subprocess.run([peer_python, str(PEER), *args], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        return {"sps": float("nan"), "final_eval_return": float("nan"), "error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def seeds_scaling(algo, config, env, seeds: list[int], iterations: int) -> list[dict]:
    """Wall time of one chunk of `iterations` with S vmapped seeds, for each S in `seeds`."""
    learner = algo.make_learner(config, env)
    chunk = jax.vmap(loop.make_chunk(learner, iterations), in_axes=(0, None))
    rows = []
    for s in seeds:
        carry = jax.jit(jax.vmap(learner.init))(jax.random.split(jax.random.PRNGKey(0), s), None)
        compiled = jax.jit(chunk).lower(carry, 0).compile()
        jax.block_until_ready(compiled(carry, 0))  # warm
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(carry, 0))
        wall = time.perf_counter() - t0
        rows.append({"seeds": s, "chunk_s": wall, "sps_total": s * iterations * learner.env_steps_per_iteration / wall})
    base = rows[0]["chunk_s"]
    for r in rows:
        print(f"  seeds={r['seeds']:3d}  chunk wall {r['chunk_s']:7.2f} s  ({r['chunk_s'] / base:5.2f}x one seed)  "
              f"total {r['sps_total']:>10,.0f} env steps/s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="CartpoleBalance")
    parser.add_argument("--algos", default="ppo,sac")
    parser.add_argument("--ppo-envs", type=int, default=256)
    parser.add_argument("--ppo-steps", type=int, default=2_000_000)
    parser.add_argument("--sac-envs", type=int, default=8)
    parser.add_argument("--sac-steps", type=int, default=30_000)
    parser.add_argument("--sac-learning-starts", type=int, default=5_000)
    parser.add_argument("--seeds", default="1,4,16", help="seed counts for the scaling table ('' to skip)")
    parser.add_argument("--peer-python", default="", help="python of a venv with jax 0.7.2 and brax 0.14")
    parser.add_argument("--only-seeds", action="store_true", help="skip the throughput rows, time only the seeds")
    parser.add_argument("--peer-shim", action="store_true",
                        help="run the peer on this jax with brax_peer's device_put_replicated stand-in")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    device = jax.devices()[0].device_kind
    print(f"jax {jax.__version__} on {jax.default_backend()} ({device}); task {args.task}", flush=True)
    eval_env, spec = envs.make(args.task, reset_mode="none")
    results = {}
    for name in args.algos.split(","):
        if name == "ppo":
            n, steps = args.ppo_envs, args.ppo_steps
            algo, config = ppo, ppo_config(steps)
            peer_args = ["--algo", "ppo", "--num_envs", str(n), "--steps", str(steps), "--unroll_length", "32",
                         "--num_minibatches", "4", "--epochs", "4", "--hidden", "64", "64"]
        else:
            n, steps = args.sac_envs, args.sac_steps
            algo, config = sac, sac_config(steps, args.sac_learning_starts)
            peer_args = ["--algo", "sac", "--num_envs", str(n), "--steps", str(steps), "--batch_size", "256",
                         "--learning_starts", str(args.sac_learning_starts), "--hidden", "256", "256"]
        env, _ = envs.make(args.task, num_envs=n)
        if args.only_seeds:
            print(f"{name.upper()} seeds scaling (one chunk), {n} envs per seed:", flush=True)
            iters = 20 if name == "ppo" else 100
            results[name] = {"algo": name, "task": args.task, "num_envs": n, "device": device,
                             "seeds_scaling": seeds_scaling(algo, config, env, [int(s) for s in args.seeds.split(",")], iters)}
            continue
        state = jax.jit(env.reset)(jax.random.PRNGKey(0))
        _, raw = time_mjx(env.step, state, n, spec.action_size, max(20, min(1000, 200_000 // n)))
        ours = time_training(algo, config, env, eval_env)
        # printed before the peer runs, so that a run cut short by its time limit still reports ours
        print(f"{name.upper():4s} {args.task} n={n}: raw {raw:>11,.0f} steps/s | ours {ours['sps']:>10,.0f} steps/s "
              f"({ours['sps'] / raw:5.3f}x raw), compile {ours['compile_s']:.1f} s, return {ours['eval_return']:7.1f}",
              flush=True)
        peer = run_peer(args.peer_python, [*peer_args, "--task", args.task, *(["--shim"] if args.peer_shim else [])])
        row = {"algo": name, "task": args.task, "num_envs": n, "env_steps": steps, "device": device,
               "raw_sps": raw, "ours": ours, "brax": {k: v for k, v in peer.items() if k != "records"}}
        results[name] = row
        print(f"{name.upper():4s} {args.task} n={n}: brax {peer['sps']:>10,.0f} steps/s, return "
              f"{peer['final_eval_return']:7.1f} | ours/brax {ours['sps'] / peer['sps']:5.2f}x", flush=True)
        if "error" in peer:
            print(f"  brax peer failed: {peer['error'][-500:]}", file=sys.stderr)
        if args.seeds:
            print(f"{name.upper()} seeds scaling (one chunk):", flush=True)
            iters = 20 if name == "ppo" else 100
            row["seeds_scaling"] = seeds_scaling(algo, config, env, [int(s) for s in args.seeds.split(",")], iters)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
