"""AIME-v2 on a 2-core CPU: the README's reduced online run.

Departures from `aime_v2.py` (the reference): 16 iterations of 2 episodes (1000 of 1),
50 updates per iteration (100) of 32 windows (50), imagination from 256 of the batch's
filtered states (all), evaluation every 4 iterations with 10 episodes per seed.
"""

import ml_collections

from experiments.aime_v2.configs import aime_v2


def get_config() -> ml_collections.ConfigDict:
    c = aime_v2.get_config()
    a = c.agent
    a.num_iterations, a.num_envs, a.updates_per_episode, a.eval_every = 16, 2, 50, 4
    a.batch_size = a.imitation.batch_size = 32
    a.imagine_starts = 256
    return c
