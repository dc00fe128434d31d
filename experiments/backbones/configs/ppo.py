"""PPO on CartpoleBalance: the README's main job, sized to finish in minutes on a 2-core CPU."""

import ml_collections

from algos import ppo
from experiments.launch.config import base_config


def get_config() -> ml_collections.ConfigDict:
    c = base_config("ppo", ppo.default_config())
    c.task = "CartpoleBalance"
    c.env.num_envs = 32
    c.agent.total_env_steps = 1_000_000
    c.chunk_iterations = 10
    c.eval_episodes = 16
    return c
