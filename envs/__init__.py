"""Pure-functional environments: MJX tasks, wrappers and rollouts.

    env, spec = envs.make("CartpoleBalance", num_envs=64)
    state = env.reset(key)
    state = env.step(state, action)
"""

from envs.core import Environment, EnvSpec, State, check_action
from envs.registry import BRAX_TASKS, WRAPPER_DEFAULTS, body, list_tasks, make
from envs.rollout import (Transition, env_step, observation, random_policy, rollout, rollout_from, state_observation,
                          zeros_policy)

__all__ = [
    "BRAX_TASKS",
    "WRAPPER_DEFAULTS",
    "body",
    "Environment",
    "EnvSpec",
    "State",
    "Transition",
    "check_action",
    "env_step",
    "list_tasks",
    "make",
    "observation",
    "random_policy",
    "rollout",
    "rollout_from",
    "state_observation",
    "zeros_policy",
]
