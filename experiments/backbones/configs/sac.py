"""SAC on CartpoleBalance, sized for a 2-core CPU (3 seeds in one vmapped program)."""

import ml_collections

from algos import sac
from experiments.launch.config import base_config


def get_config() -> ml_collections.ConfigDict:
    c = base_config("sac", sac.default_config())
    c.task = "CartpoleBalance"
    c.num_seeds = 3
    c.env.num_envs = 8
    c.agent.total_env_steps = 50_000
    c.agent.learning_starts = 5_000
    c.chunk_iterations = 250
    c.eval_episodes = 10
    return c
