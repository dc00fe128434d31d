"""DrQ-v2-style DDPG on CartpoleBalance, sized for a 2-core CPU (3 seeds in one vmapped program).

Narrower networks (256) and a shorter noise schedule than DrQ-v2's defaults (1024,
500k frames), so that it finishes in minutes on a CPU.
"""

import ml_collections

from algos import ddpg
from experiments.launch.config import base_config


def get_config() -> ml_collections.ConfigDict:
    c = base_config("ddpg", ddpg.default_config())
    c.task = "CartpoleBalance"
    c.num_seeds = 3
    c.env.num_envs = 8
    c.agent.total_env_steps = 50_000
    c.agent.learning_starts = 4_000
    c.agent.hidden_sizes = (256, 256)
    c.agent.std_schedule_steps = 25_000.0
    c.chunk_iterations = 250
    c.eval_episodes = 10
    return c
