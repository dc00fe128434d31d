"""The cost of ADS's imitation reward and progress update, against the rest of an iteration.

One ADS iteration on PointPush plays one episode in each of N environments, computes the
OT reward of the N episodes against the demonstrations, makes replay_ratio * T * N DDPG
updates, and (each evaluation) updates the progress from N x M cost matrices. Timed side
by side in one run, compilation excluded, best of 3:
  - `stepping`: the raw vmapped MJX stepping of the N episodes (random actions): the limit;
  - `ot_reward`: Sinkhorn (100 iterations) of N episodes against M demonstrations;
  - `progress`: the progress recogniser's update from the N x M cost matrices;
  - `updates`: the iteration's DDPG updates (batch and widths of the config);
and prints each as a share of the iteration.

    python -m experiments.benchmarks.ads_ot_cost [--config=experiments/ads/configs/ads.py]
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
from absl import app

import envs
from algos import ddpg
from algos.common import replay
from algos.ads import agent, ot_reward, progress
from experiments.benchmarks import best_time
from envs.rollout import Transition, random_policy, rollout_from
from experiments.launch import cli


def measure(c) -> dict:
    env, spec = envs.make(c.task, **c.env.to_dict())
    a = c.agent
    demos = agent.load_demos(a)
    horizon, n = spec.max_episode_steps, spec.num_envs
    demo_next = demos[:, 1:]

    @jax.jit
    def stepping(key):
        k1, k2 = jax.random.split(key)
        return rollout_from(env, random_policy(spec), env.reset(k1), k2, horizon)[1].next_obs

    episodes = stepping(jax.random.PRNGKey(0)).swapaxes(0, 1)  # [N, T, D]
    ot = jax.jit(jax.vmap(lambda e: ot_reward.ot_reward(e, demo_next, 1.0, cost=a.ot_cost).rewards))
    ref = jax.jit(progress.reference_scores)(agent.demo_pair_costs(demo_next, "euclidean"))
    prog = jax.jit(lambda eps: progress.update_progress(
        progress.initial_progress(horizon), agent.episode_costs(eps, demo_next, "euclidean"), ref))

    state = ddpg.init(jax.random.PRNGKey(1), spec, a)
    buffer = replay.make(10 * n * horizon, n, a.batch_size, a.nstep)
    traj = Transition(obs=episodes.swapaxes(0, 1), action=jnp.zeros((horizon, n, *spec.action_shape)),
                      reward=jnp.zeros((horizon, n)), next_obs=episodes.swapaxes(0, 1), done=jnp.zeros((horizon, n)),
                      truncated=jnp.zeros((horizon, n)))
    buf = replay.add_trajectory(buffer, replay.init(buffer, jax.tree.map(lambda x: x[0, 0], traj)), traj)
    num_updates = agent.updates_per_iteration(a, n, horizon)

    @jax.jit
    def updates(state, key):
        def one(s, k):
            k1, k2 = jax.random.split(k)
            return ddpg.update(s, replay.sample(buffer, buf, k1), k2)[0], None
        return jax.lax.scan(one, state, jax.random.split(key, num_updates))[0]

    times = {
        "stepping": best_time(stepping, jax.random.PRNGKey(2)),
        "ot_reward": best_time(ot, episodes),
        "progress": best_time(prog, episodes),
        "updates": best_time(updates, state, jax.random.PRNGKey(3)),
    }
    total = sum(times.values())
    return {"task": c.task, "num_envs": n, "horizon": horizon, "num_demos": int(demos.shape[0]),
            "updates_per_iteration": num_updates, "backend": jax.default_backend(),
            "seconds": times, "share_of_iteration": {k: v / total for k, v in times.items()},
            "ot_reward_over_updates": times["ot_reward"] / times["updates"],
            "ot_reward_over_stepping": times["ot_reward"] / times["stepping"]}


def main() -> None:
    config = cli.define_config("experiments/ads/configs/ads.py")

    def _main(argv):
        del argv
        print(json.dumps(measure(config.value), indent=2))

    app.run(_main)


if __name__ == "__main__":
    main()
