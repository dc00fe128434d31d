"""PPO on CartpoleBalance: the README's main job, sized to finish in minutes on a 2-core CPU."""

import ml_collections

from algos import ppo


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.algo = "ppo"
    c.task = "CartpoleBalance"
    c.seed = 0
    c.num_seeds = 1  # seeds trained as one vmapped program
    c.env = ml_collections.ConfigDict(
        {"num_envs": 32, "episode_length": 1000, "action_repeat": 1, "reset_mode": "full"}
    )
    c.agent = ppo.default_config()
    c.agent.total_env_steps = 1_000_000
    c.chunk_iterations = 10  # training iterations per jitted chunk (one progress-bar tick)
    c.eval_episodes = 16
    c.workdir = ""  # empty: runs/<algo>_<task>_seed<seed>_<time>
    return c
