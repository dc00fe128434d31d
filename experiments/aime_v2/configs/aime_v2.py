"""AIME-v2 from a finished AIME run, at the reference's settings (`aime-v2.yaml`).

    python -m experiments.aime_v2.main --config=experiments/aime_v2/configs/aime_v2.py --config.aime_run=<AIME run dir>

`aime_v2_cpu.py` is the CPU-sized version. The world model keeps the AIME run's size.
"""

import ml_collections

from algos import aime_v2


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.aime_run = ""
    c.variants = "full,no_regulariser,no_reward,plain"
    c.ilfo_run = ""  # finished OT/GAIfO + DDPG runs (algos.ads, fixed discount), comma-separated: baselines
    c.chunk_updates = 250  # for the likelihood model's training
    c.checkpoint_interval_s = 60.0  # at most this long between checkpoints (and one at each stage's end)
    c.workdir = ""  # empty: runs/aime_v2_<task>_<AIME run name>
    c.agent = aime_v2.default_config()
    return c
