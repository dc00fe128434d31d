"""PPO on a swing-up (CartpoleSwingup; PendulumSwingup with --config.task and action repeat 4), CPU-sized.

Playground's tuned PPO settings scaled down to a 2-core CPU (256 envs, not 2,048), with
the three differences from Brax's PPO that we tried (README, "PPO on the swing-ups"):
Brax's tanh-normal policy, a unit-scale initial policy mean, and no clip on the value
loss. They lifted CartpoleSwingup from 222 to 532 at 3M steps; on PendulumSwingup
every variant, Brax's own PPO included, solved only some seeds at this budget.

    python -m experiments.launch.run --config=experiments/backbones/configs/ppo_swingup.py --config.num_seeds=3
"""

import ml_collections

from algos import ppo
from experiments.launch.config import base_config


def get_config() -> ml_collections.ConfigDict:
    c = base_config("ppo", ppo.default_config())
    c.task = "CartpoleSwingup"
    c.env.num_envs = 256
    a = c.agent
    a.rollout_length, a.num_minibatches, a.update_epochs = 30, 32, 4
    a.entropy_coef, a.reward_scaling, a.gamma = 0.01, 10.0, 0.995
    a.policy, a.actor_out_scale, a.clip_value = "tanh_normal", 1.0, False
    a.learning_rate, a.anneal_lr = 1e-3, False  # the settings its report rows were trained with
    a.total_env_steps = 10_000_000
    c.chunk_iterations = 100
    return c
