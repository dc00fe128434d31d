"""PPO on the toy PointReach task: a run takes seconds on a CPU (tests, the analysis notebook, trying things)."""

import ml_collections

from algos import ppo
from experiments.launch.config import base_config


def get_config() -> ml_collections.ConfigDict:
    c = base_config("ppo", ppo.default_config())
    c.task = "PointReach"
    c.env.num_envs = 8
    c.env.episode_length = 25
    c.agent.rollout_length = 25
    c.agent.hidden_sizes = (16, 16)
    c.agent.learning_rate, c.agent.anneal_lr = 3e-3, False  # a constant rate: 12 iterations
    c.agent.total_env_steps = 8 * 25 * 12  # 12 iterations
    c.chunk_iterations = 2
    c.eval_episodes = 2
    c.checkpoint_interval_s = 0.0  # every chunk
    return c
