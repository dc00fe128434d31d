"""SAC on CartpoleBalance, sized for a 2-core CPU (3 seeds in one vmapped program)."""

import ml_collections

from algos import sac


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.algo = "sac"
    c.task = "CartpoleBalance"
    c.seed = 0
    c.num_seeds = 3
    c.env = ml_collections.ConfigDict(
        {"num_envs": 8, "episode_length": 1000, "action_repeat": 1, "reset_mode": "full"}
    )
    c.agent = sac.default_config()
    c.agent.total_env_steps = 50_000
    c.agent.learning_starts = 5_000
    c.chunk_iterations = 250
    c.eval_episodes = 10
    c.workdir = ""
    return c
