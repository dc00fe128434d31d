"""The official metaworld environments as a parity oracle and a speed peer.

metaworld 3.x writes 11 weld parameters into MuJoCo 4's 12-wide `eq_data` and fails to load;
`oracle` writes the same 11 into the first 11 (envs.metaworld.sawyer.fix_mocap_weld), leaving
MuJoCo 4's twelfth at the model's value. Nothing else of the package is changed.
"""

from __future__ import annotations

import numpy as np

_PATCHED = False


def _patch() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from metaworld import sawyer_xyz_env

    from envs.metaworld.sawyer import fix_mocap_weld

    sawyer_xyz_env.SawyerMocapBase.reset_mocap_welds = lambda self: fix_mocap_weld(self.model)
    _PATCHED = True


def oracle(metaworld_name: str, task_index: int = 0, seed: int = 0, goal_observable: bool = True):
    """A reset official environment (MT1's task `task_index` when the goal is observable, ML1's
    otherwise) and its first observation."""
    _patch()
    import metaworld

    benchmark = (metaworld.MT1 if goal_observable else metaworld.ML1)(metaworld_name, seed=seed)
    env = benchmark.train_classes[metaworld_name]()
    env.set_task(benchmark.train_tasks[task_index])
    obs, _ = env.reset()
    return env, obs


def scripted_episode(metaworld_name: str, env, obs: np.ndarray, steps: int):
    """Run metaworld's scripted policy for `steps` steps: actions [T, 4] (clipped to [-1, 1]),
    observations [T + 1, 39], rewards [T] and successes [T]."""
    from metaworld.policies import ENV_POLICY_MAP

    policy = ENV_POLICY_MAP[metaworld_name]()
    observations, actions, rewards, successes = [obs], [], [], []
    for _ in range(steps):
        action = np.clip(policy.get_action(obs), -1.0, 1.0).astype(np.float32)
        obs, reward, _, _, info = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        successes.append(info["success"])
    return np.asarray(actions), np.asarray(observations), np.asarray(rewards), np.asarray(successes)
