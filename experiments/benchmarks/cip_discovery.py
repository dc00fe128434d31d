"""The cost of CIP's causal discovery per call, against the training between two calls.

For each task's dimensions (state S, action A), one run times, compilation excluded:
  - `lingam`: `discovery.reward_weights` (DirectLiNGAM order + adaptive lasso) on a
    window of N transitions;
  - `reward_last`: the cheaper variant (one adaptive-lasso regression);
  - `updates`: the CIP gradient updates made between two discoveries (every K env
    steps at one update per step: K updates of batch 256 and the config's networks),
    timed as 200 updates and scaled;
and prints the ratio discovery / training. The window is synthetic linear
non-Gaussian data of the task's dimensions (the cost depends on the shape only).

    python -m experiments.benchmarks.cip_discovery --tasks CheetahRun:17:6,WalkerWalk:24:6
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp

from algos import cip
from algos.cip import discovery
from envs.core import EnvSpec
from experiments.benchmarks import best_time
from envs.rollout import Transition


def window(key, n: int, s: int, a: int):
    k1, k2, k3 = jax.random.split(key, 3)
    states = jax.random.laplace(k1, (n, s))
    actions = jax.random.uniform(k2, (n, a), minval=-1, maxval=1)
    rewards = states[:, 0] + 0.5 * actions[:, 0] + 0.1 * jax.random.laplace(k3, (n,))
    return states, actions, rewards


def update_seconds(s: int, a: int, updates: int, timed: int = 200) -> float:
    spec = EnvSpec(name="bench", obs_shape=(s,), action_shape=(a,), action_low=-1.0, action_high=1.0,
                   episode_length=1000, action_repeat=1, control_dt=0.01, num_envs=1)
    config = cip.default_config()
    state = cip.init(jax.random.PRNGKey(0), spec, config)
    b = config.batch_size
    ks = jax.random.split(jax.random.PRNGKey(1), 3)
    obs = jax.random.normal(ks[0], (b, 1, s))
    seq = Transition(obs=obs, action=jax.random.uniform(ks[1], (b, 1, a), minval=-1, maxval=1),
                     reward=jax.random.normal(ks[2], (b, 1)), next_obs=obs, done=jnp.zeros((b, 1)),
                     truncated=jnp.zeros((b, 1)))

    @jax.jit
    def many(state):
        return jax.lax.scan(lambda st, k: cip.update(st, seq, k), state, jax.random.split(jax.random.PRNGKey(2), timed))[0]

    return best_time(many, state, repeats=2) * updates / timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="CheetahRun:17:6,WalkerWalk:24:6,HopperHop:15:4,ReacherHard:6:2")
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=10_000, help="env steps (= updates) between discoveries")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind})", flush=True)
    rows = []
    for spec in args.tasks.split(","):
        task, s, a = spec.split(":")
        s, a = int(s), int(a)
        data = window(jax.random.PRNGKey(0), args.window, s, a)
        lingam = best_time(jax.jit(lambda x, u, r: discovery.reward_weights(x, u, r)), *data)
        last = best_time(jax.jit(lambda x, u, r: discovery.reward_weights(x, u, r, assume_reward_last=True)), *data)
        train = update_seconds(s, a, args.every)
        row = {"task": task, "S": s, "A": a, "d": s + a + 1, "window": args.window, "lingam_s": lingam,
               "reward_last_s": last, "updates_s": train, "device": jax.devices()[0].device_kind}
        rows.append(row)
        print(f"{task:12s} d={s + a + 1:3d}  lingam {lingam:6.2f} s  reward_last {last:6.2f} s  "
              f"{args.every} updates {train:7.1f} s  discovery/training {lingam / train:6.2%} / {last / train:6.2%}",
              flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
