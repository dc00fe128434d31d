"""AIME on a 2-core CPU: the README's reduced run (PendulumSwingup).

    python -m experiments.aime.main --config=experiments/aime/configs/aime_cpu.py --phase=all

Departures from the paper's settings (`aime.py`): a 128-wide world model (512), 5k
world-model updates of 32 windows (100k of 50), 3k policy updates of 32 windows (50k
of 50), 5k BCO updates per stage (early stopping), 10 demonstrations (100).
"""

import ml_collections

from experiments.aime.configs import aime


def get_config() -> ml_collections.ConfigDict:
    c = aime.get_config()
    m = c.world_model.model
    m.deter = m.hidden = m.encoder_hidden = m.decoder_hidden = 128
    c.world_model.num_updates = 5000
    c.world_model.batch_size = 32
    c.imitation.num_updates = 3000
    c.imitation.batch_size = 32
    c.imitation.num_demos = 10
    c.bco.idm_updates = c.bco.policy_updates = 5000
    return c
