"""ADS on a DeepMind Control task, PendulumSwingup (a control with little progress dependency), CPU-sized.

    python -m experiments.ads.main --config=experiments/ads/configs/ads_pendulum.py --methods=ads,ot,gaifo,bco

The demonstrations are the SAC expert's (`experiments.launch.record`, action repeat 4, 250
steps). As `ads.py`, plus: 4 environments (and evaluation episodes) per iteration so
that the progress recogniser gets 40 updates in the 40k-step budget (it needs at least
(250 - 50) / 5 = 40 to reach the horizon).
"""

import ml_collections

from experiments.ads.configs import ads


def get_config() -> ml_collections.ConfigDict:
    c = ads.get_config()
    c.task = "PendulumSwingup"
    c.env.num_envs = 4
    c.env.action_repeat = 4
    c.env.episode_length = 1000
    c.agent.demos = "datasets/PendulumSwingup/demos.npz"
    c.agent.total_env_steps = 40_000
    c.agent.replay_capacity = 40_000
    c.chunk_iterations = 4
    return c
