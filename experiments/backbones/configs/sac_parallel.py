"""SAC with the massively parallel settings (FastSAC/FastTD3-style; Seo et al., 2025), all config values.

    python -m experiments.launch.run --config=experiments/backbones/configs/sac_parallel.py

1024 environments, a batch of 8192, two gradient updates per step of the vectorised
environment (1/512 of an update per environment step), a C51 critic of 101 atoms over
[-10, 110] (DMC's values at gamma 0.99 lie in [0, 100]) with LayerNorm after each hidden
layer, AdamW with FastTD3's weight decay of 0.1, and bfloat16 compute. It is sized for an accelerator: on a 2-core CPU use fewer
environments (`--config.env.num_envs=64`). CIP takes the same fields through its own
config (`--config.agent.num_atoms=101` and so on); ADS through DDPG's.
"""

import ml_collections

from algos import sac
from experiments.launch.config import base_config


def get_config() -> ml_collections.ConfigDict:
    c = base_config("sac", sac.default_config())
    c.task = "CheetahRun"
    c.num_seeds = 1
    c.env.num_envs = 1024
    a = c.agent
    a.total_env_steps = 10_000_000
    a.learning_starts = 10 * 1024
    a.replay_capacity = 1024 * 1024  # 1024 steps per environment
    a.batch_size = 8192
    a.updates_per_vector_step = 2.0
    a.num_atoms, a.v_min, a.v_max = 101, -10.0, 110.0
    a.critic_trunk = "layernorm"
    a.compute_dtype = "bfloat16"
    a.weight_decay = 0.1
    a.hidden_sizes = (512, 512)
    c.chunk_iterations = 500
    c.eval_episodes = 16
    return c
