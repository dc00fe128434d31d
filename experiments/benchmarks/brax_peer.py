"""Brax's own PPO and SAC trainers on a Playground task: the speed peer of our agents.

Runs in a *separate* virtual environment (brax 0.14's trainers call
`jax.device_put_replicated`, which jax 0.10 removed), e.g. one made with

    python -m venv .venv-brax && .venv-brax/bin/pip install "jax==0.7.2" "brax==0.14.2" "playground<1.0"

It imports nothing from this project. `trainer_throughput.py` starts it as a
subprocess with matching settings and reads the JSON line it prints last.

Where no such venv can be made (a lent GPU machine has one jax, 0.11, and no
registry), `--shim` runs Brax's trainers on the jax at hand, with a stand-in for
the removed `jax.device_put_replicated` (stack the tree once per device and place
it with a sharding over those devices: what the removed function did). It touches
only that replication at the start of training; the trainers' own code is not
changed, so their speed stays a fair reference.
"""

from __future__ import annotations

import argparse
import functools
import json
import time

import jax
import jax.numpy as jnp
import numpy as np


def _device_put_replicated(tree, devices):
    mesh = jax.sharding.Mesh(np.array(devices), ("d",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("d"))
    return jax.tree.map(lambda x: jax.device_put(jnp.stack([jnp.asarray(x)] * len(devices)), sharding), tree)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--algo", choices=["ppo", "sac"], required=True)
    parser.add_argument("--task", default="CartpoleBalance")
    parser.add_argument("--num_envs", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--episode_length", type=int, default=1000)
    parser.add_argument("--unroll_length", type=int, default=32)
    parser.add_argument("--num_minibatches", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--learning_starts", type=int, default=5000)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--num_evals", type=int, default=4)
    parser.add_argument("--action_repeat", type=int, default=1)
    parser.add_argument("--reward_scaling", type=float, default=1.0)
    parser.add_argument("--entropy_cost", type=float, default=0.0)
    parser.add_argument("--discounting", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shim", action="store_true", help="stand in for jax.device_put_replicated if missing")
    args = parser.parse_args()
    shimmed = args.shim and not hasattr(jax, "device_put_replicated")
    if shimmed:
        jax.device_put_replicated = _device_put_replicated

    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo import train as ppo
    from brax.training.agents.sac import networks as sac_networks
    from brax.training.agents.sac import train as sac
    from flax import linen
    from mujoco_playground import registry, wrapper

    env = registry.load(args.task, config_overrides={"impl": "jax"})
    records = []

    def progress(step, metrics):
        records.append({"step": int(step), "sps": float(metrics.get("training/sps", float("nan"))),
                        "eval_return": float(metrics.get("eval/episode_reward", float("nan")))})

    hidden = tuple(args.hidden)
    t0 = time.perf_counter()
    if args.algo == "ppo":
        ppo.train(
            environment=env, num_timesteps=args.steps, episode_length=args.episode_length,
            action_repeat=args.action_repeat, reward_scaling=args.reward_scaling,
            num_envs=args.num_envs, unroll_length=args.unroll_length, batch_size=args.num_envs // args.num_minibatches,
            num_minibatches=args.num_minibatches, num_updates_per_batch=args.epochs, learning_rate=1e-3,
            entropy_cost=args.entropy_cost, discounting=args.discounting, gae_lambda=0.95, clipping_epsilon=0.2,
            normalize_observations=True, num_evals=args.num_evals, num_eval_envs=16, seed=args.seed,
            progress_fn=progress, deterministic_eval=True,
            wrap_env_fn=wrapper.wrap_for_brax_training,
            network_factory=functools.partial(ppo_networks.make_ppo_networks, policy_hidden_layer_sizes=hidden,
                                              value_hidden_layer_sizes=hidden, activation=linen.tanh),
        )
    else:
        sac.train(
            environment=env, num_timesteps=args.steps, episode_length=args.episode_length, action_repeat=1,
            num_envs=args.num_envs, batch_size=args.batch_size, grad_updates_per_step=args.num_envs,
            learning_rate=3e-4, discounting=0.99, tau=0.005, min_replay_size=args.learning_starts,
            max_replay_size=args.steps, normalize_observations=False, num_evals=args.num_evals, num_eval_envs=16,
            deterministic_eval=True, seed=0, progress_fn=progress, wrap_env_fn=wrapper.wrap_for_brax_training,
            network_factory=functools.partial(sac_networks.make_sac_networks, hidden_layer_sizes=hidden),
        )
    wall = time.perf_counter() - t0
    # the first epoch's sps includes its compilation: report the later ones
    later = [r["sps"] for r in records[2:] if r["sps"] == r["sps"]]
    print(json.dumps({"peer": f"brax {args.algo}", "jax": jax.__version__, "backend": jax.default_backend(), "shim": shimmed,
                      "sps": sum(later) / len(later) if later else float("nan"), "wall_s": wall,
                      "final_eval_return": records[-1]["eval_return"] if records else float("nan"),
                      "records": records}))


if __name__ == "__main__":
    main()
