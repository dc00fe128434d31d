"""CIP's discovered reward structure on tasks where it is known, as a weight plot.

Collects a window of transitions with uniformly random actions, runs
`algos.cip.discovery.reward_weights` (DirectLiNGAM and the reward-last variant) and draws
the reward row |B[r, .]| per state and action dimension, with the dimensions that truly
enter the task's reward marked. The known parents:

  - LinearSCM (synthetic, what DirectLiNGAM assumes): 8 state and 2 action dimensions with
    Laplace noise, s2 <- s0, s5 <- s3 + a1; r = 0.8 s0 - 0.6 s3 + 0.5 a0 + noise;
  - CartpoleBalance (DM Control): reward = upright(cos) x centered(cart position) x
    small_control(action) x small_velocity(angular velocity); observation [cart
    position, cos, sin, cart velocity, angular velocity]: dimensions 0, 1, 4 and the
    action. Only `upright` is linear in its input; the others are even functions, which
    a linear method cannot see.
  - halfcheetah (Brax, mjx backend): reward = the torso's forward speed over the step
    - 0.1 |a|^2; observation [qpos[1:] (8), qvel (9)], so dimension 8 (the root's x
    velocity) and, through an even function, every action.
  - hopper (Brax): reward = forward speed + 1 (alive; episodes end when unhealthy)
    - 0.001 |a|^2; observation [qpos[1:] (5), qvel (6)]: dimension 5 and the actions.

    python -m experiments.cip.structure --tasks LinearSCM,CartpoleBalance,halfcheetah,hopper \
        --out experiments/cip/results/structure.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import numpy as np
from matplotlib.figure import Figure

import envs
from algos.cip import discovery
from envs.rollout import random_policy, rollout

KNOWN = {
    "LinearSCM": {"state": [0, 3], "action": [0]},
    "CartpoleBalance": {"state": [0, 1, 4], "action": [0]},
    "halfcheetah": {"state": [8], "action": list(range(6))},
    "hopper": {"state": [5], "action": list(range(3))},
}


def linear_scm(n: int, seed: int = 0):
    k = jax.random.split(jax.random.PRNGKey(seed), 3)
    noise = np.asarray(jax.random.laplace(k[0], (n, 8)))
    actions = np.asarray(jax.random.uniform(k[1], (n, 2), minval=-1, maxval=1))
    s = noise.copy()
    s[:, 2] += 0.9 * s[:, 0]
    s[:, 5] += 0.7 * s[:, 3] + 0.8 * actions[:, 1]
    r = 0.8 * s[:, 0] - 0.6 * s[:, 3] + 0.5 * actions[:, 0] + 0.3 * np.asarray(jax.random.laplace(k[2], (n,)))
    return s, actions, r


def window(task: str, n: int, num_envs: int = 16, seed: int = 0):
    if task == "LinearSCM":
        return linear_scm(n, seed)
    env, spec = envs.make(task, num_envs=num_envs)
    traj = jax.jit(lambda k: rollout(env, random_policy(spec), k, n // num_envs))(jax.random.PRNGKey(seed))
    flat = lambda x: np.asarray(x).reshape(-1, *x.shape[2:])  # noqa: E731
    return flat(traj.obs), flat(traj.action), flat(traj.reward)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="LinearSCM,CartpoleBalance,halfcheetah,hopper")
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--out", default="experiments/cip/results/structure.png")
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    ncols = min(2, len(tasks))
    nrows = -(-len(tasks) // ncols)
    fig = Figure(figsize=(6.5 * ncols, 3.6 * nrows))
    rows = {}
    for i, task in enumerate(tasks):
        states, actions, rewards = window(task, args.window)
        s_dim, a_dim = states.shape[1], actions.shape[1]
        ax = fig.add_subplot(nrows, ncols, i + 1)
        width = 0.4
        for j, (variant, last) in enumerate([("DirectLiNGAM", False), ("reward last", True)]):
            w = jax.jit(lambda x, u, r: discovery.reward_weights(x, u, r, assume_reward_last=last))(
                states, actions, rewards)
            row = np.abs(np.asarray(w.reward_row))
            rows[f"{task}/{variant}"] = {"reward_row": row.tolist(), "state_weights": np.asarray(w.state).tolist(),
                                         "action_weights": np.asarray(w.action).tolist(),
                                         "reward_position_in_order": int(np.flatnonzero(np.asarray(w.order)
                                                                                        == s_dim + a_dim)[0])}
            ax.bar(np.arange(s_dim + a_dim) + (j - 0.5) * width, row, width, label=variant)
        known = set(KNOWN.get(task, {}).get("state", [])) | {s_dim + k for k in KNOWN.get(task, {}).get("action", [])}
        labels = [f"s{k}" for k in range(s_dim)] + [f"a{k}" for k in range(a_dim)]
        ax.set_xticks(np.arange(s_dim + a_dim), [lab + ("*" if k in known else "") for k, lab in enumerate(labels)])
        ax.set_title(f"{task}: |B[r, .]|  (* = a true parent of r)", fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    for k, v in rows.items():
        print(k, "reward row", np.round(v["reward_row"], 3), "reward at position", v["reward_position_in_order"])


if __name__ == "__main__":
    main()
