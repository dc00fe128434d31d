"""DrQ-v2 from pixels (DDPG with DrQ-v2's encoder and random shift), sized for a 2-core CPU.

DrQ-v2's settings (`ddpg.drqv2_config`) with three CPU-sized departures: 48x48 frames
instead of 84x84, batch 128 instead of 256, and 20k agent steps (40k frames at action
repeat 2). The noise schedule is DrQ-v2's for easy tasks, linear(1.0, 0.1, 100k frames).
`drqv2_states.py` is the same agent on states.
"""

import ml_collections

from algos import ddpg
from experiments.launch.config import base_config


def get_config(observations: str = "pixels") -> ml_collections.ConfigDict:
    if observations not in ("pixels", "state"):
        raise ValueError(f"observations must be 'pixels' or 'state', got {observations!r}")
    c = base_config("ddpg", ddpg.drqv2_config())
    c.task = "CartpoleBalance"
    c.env.update({"num_envs": 8, "action_repeat": 2})
    if observations == "pixels":
        c.env.update({"obs": "pixels", "size": 48, "frame_stack": 3})
    else:
        c.agent.encoder = "none"
    c.agent.total_env_steps = 20_000
    c.agent.batch_size = 128
    c.agent.replay_capacity = 20_000
    c.agent.std_schedule_steps = 50_000.0  # 100k frames
    c.chunk_iterations = 50
    c.eval_episodes = 10
    c.checkpoint_interval_s = 900.0  # the replay buffer of frames is large
    return c
