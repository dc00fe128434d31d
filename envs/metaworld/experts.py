"""Demonstrations from metaworld's scripted policies, recorded in our MJX tasks.

The ADS authors' `metaworld_generate_expert/generate_demo.py` runs a task's scripted policy
(`metaworld.policies`) on MT1's task variations in turn, with the goal visible to the policy
but zeroed in the stored observations, for the task's full time limit at every physics-control
step; it keeps an episode only if its reward reached 10 at some step. We keep an episode if it
succeeded (metaworld's `success`) at some step: the same test on basketball, whose reward is 10
exactly when it succeeds, but a looser one on lever-pull, whose reward reaches 10 only with the
lever exactly at its target (4 of 40 scripted episodes there; all 40 succeed). Training
then subsamples each demonstration by the action repeat (`IL/train.py`, `[::action_repeat]`).
This does the same in our environment: the policies are NumPy functions of the observation, so
each step is one jitted, vmapped call of our physics and one host call of the policy per episode.

The dataset written has the agent's rate (`action_repeat` in its metadata): observations every
`action_repeat` control steps; the oracle actions are those taken at the kept steps and the
oracle rewards are summed over each repeat.
"""

from __future__ import annotations

import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from envs import datasets
from envs.metaworld.tasks import TASKS



def scripted_policy(task: str):
    """metaworld's scripted policy of `task` (an object with `get_action(obs) -> [4]`)."""
    from metaworld.policies import ENV_POLICY_MAP

    return ENV_POLICY_MAP[TASKS[task].config.metaworld_name]()


def record_demonstrations(task: str, num_demos: int, action_repeat: int = 2, episode_length: int | None = None,
                          seed: int = 0, batch: int | None = None, max_tries: int = 4,
                          progress: bool = True) -> datasets.Dataset:
    """Record `num_demos` successful scripted-expert episodes of `task`, subsampled to `action_repeat`.

    Args:
      task: a registry name, e.g. "mw/basketball".
      num_demos: episodes to keep (successful ones, in the order they were run).
      action_repeat: the agent's action repeat: every `action_repeat`-th observation is kept.
      episode_length: control steps per episode, a multiple of `action_repeat` (default: the
        task's time limit rounded up to one, so the dataset matches `envs.make(task,
        action_repeat=...)`'s episodes step for step).
      seed: selects the task variations (our fixed set of 50, drawn with it), taken in turn.
      batch: episodes run side by side (default `num_demos`); up to `max_tries` batches are run
        to find `num_demos` successes.

    Returns:
      A "demonstrations" `Dataset`: obs [num_demos, T + 1, 39] with T = episode_length /
      action_repeat, goals zeroed; oracle actions [num_demos, T, 4] and rewards [num_demos, T];
      `metadata["success_steps"]`: per demonstration, the agent steps with the success flag up.
    """
    if task not in TASKS:
        raise ValueError(f"no Meta-World task {task!r}; there are {sorted(TASKS)}")
    if action_repeat < 1 or num_demos < 1:
        raise ValueError(f"action_repeat and num_demos must be >= 1, got {action_repeat}, {num_demos}")
    cls = TASKS[task]
    steps = episode_length or -(-cls.config.episode_length // action_repeat) * action_repeat
    if steps % action_repeat:
        raise ValueError(f"episode_length {steps} is not a multiple of action_repeat {action_repeat}")
    env = cls(goal_observable=True, variations_seed=seed)  # the policy reads the goal; the dataset will not
    batch = batch or num_demos
    reset = jax.jit(jax.vmap(lambda rand: env.reset_to(env.initial_state(rand))))
    step = jax.jit(jax.vmap(env.step))
    policy = scripted_policy(task)
    kept_obs, kept_actions, kept_rewards, kept_success = [], [], [], []
    started = time.time()
    bar = tqdm(total=num_demos, desc=f"{task} demonstrations", disable=not progress)
    for attempt in range(max_tries):
        # the task variations in turn, as the authors take MT1's train tasks in turn
        index = (attempt * batch + np.arange(batch)) % env.variations.shape[0]
        state = reset(env.variations[index])
        obs, actions, rewards, success = [np.asarray(state.obs)], [], [], []
        for _ in range(steps):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the policies warn about their own gains
                action = np.clip(np.stack([policy.get_action(o) for o in obs[-1]]), -1.0, 1.0).astype(np.float32)
            state = step(state, jnp.asarray(action))
            obs.append(np.asarray(state.obs))
            actions.append(action)
            rewards.append(np.asarray(state.reward))
            success.append(np.asarray(state.metrics["success"]))
        obs, actions, rewards = np.stack(obs, 1), np.stack(actions, 1), np.stack(rewards, 1)  # [B, steps (+1), ...]
        success = np.stack(success, 1)
        for i in np.flatnonzero(success.max(axis=1) > 0):
            if len(kept_obs) < num_demos:
                kept_success.append(success[i, action_repeat - 1::action_repeat])  # the flag at each agent step
                kept_obs.append(obs[i])
                kept_actions.append(actions[i])
                kept_rewards.append(rewards[i])
                bar.update(1)
        if len(kept_obs) == num_demos:
            break
    bar.close()
    if len(kept_obs) < num_demos:
        raise RuntimeError(f"{task}: only {len(kept_obs)} of {max_tries * batch} scripted episodes succeeded; "
                           f"{num_demos} were asked for")
    obs = np.stack(kept_obs)[:, ::action_repeat].copy()
    obs[..., -3:] = 0.0  # the authors store the observations with the goal zeroed
    actions = np.stack(kept_actions)[:, ::action_repeat]
    rewards = np.stack(kept_rewards).reshape(num_demos, -1, action_repeat).sum(-1)
    horizon = steps // action_repeat
    metadata = {
        "format_version": datasets.FORMAT_VERSION, "kind": "demonstrations", "task": task, "obs_shape": [39],
        "obs_dtype": "float32", "action_shape": [4], "num_episodes": num_demos, "episode_steps": horizon,
        "action_repeat": action_repeat, "policy": f"metaworld scripted policy ({cls.config.metaworld_name})",
        "returns": rewards.sum(axis=1).astype(float).tolist(), "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seed": seed, "control_steps": steps,
        "success_steps": [int(x.sum()) for x in kept_success],  # agent steps with the success flag up "success_filter": "succeeded at some control step",
        "seconds": round(time.time() - started, 1),
    }
    return datasets.Dataset(obs=obs.astype(np.float32), actions=actions.astype(np.float32),
                            rewards=rewards.astype(np.float32), lengths=np.full(num_demos, horizon, np.int32),
                            metadata=metadata)
