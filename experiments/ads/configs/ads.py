"""ADS on PointPush (the progress-dependent MJX task), sized for a 2-core CPU; 3 vmapped seeds.

    python -m experiments.launch.run --config=experiments/ads/configs/ads.py                      # ADS
    python -m experiments.launch.run --config=experiments/ads/configs/ads.py \\
        --config.agent.discount_schedule=fixed --config.workdir=runs/ads_PointPush_ot  # OT, fixed discount
    python -m experiments.launch.run --config=experiments/ads/configs/ads.py --config.agent.reward=gaifo \\
        --config.agent.discount_schedule=fixed --config.workdir=runs/ads_PointPush_gaifo  # GAIfO

`python -m experiments.ads.main` runs all of them and BCO, and writes the comparison.
Departures from the ADS code (`algos.ads.agent.default_config`): 256-wide networks
(1024), batch 256 (512), 60k environment steps (1M), 10 environments that play one
episode each per iteration with the updates in between (one environment, updates
during the episode). Demonstrations: 10 from the scripted expert, as in the paper.
"""

import ml_collections

from algos import ads
from experiments.launch.config import base_config


def get_config() -> ml_collections.ConfigDict:
    c = base_config("ads", ads.default_config())
    c.task = "PointPush"
    c.num_seeds = 3
    c.env.num_envs = 10  # also the evaluation episodes that drive the progress recogniser (the code: 10)
    c.env.episode_length = 100
    c.env.reset_mode = "none"  # every iteration resets explicitly
    a = c.agent
    a.demos = "datasets/PointPush/demos.npz"
    a.total_env_steps = 60_000
    a.learning_starts = 2_000
    a.hidden_sizes = (256, 256)
    a.batch_size = 256
    a.disc_hidden_sizes = (256, 256)
    a.replay_capacity = 60_000
    c.chunk_iterations = 2
    c.checkpoint_interval_s = 0.0  # every chunk: a wedged run (see experiments.launch.watchdog) loses little
    c.eval_episodes = 20
    return c
