"""AIME and its baselines (BCO(0), BC with actions, random) on recorded datasets.

    python -m experiments.aime.main --config=experiments/aime/configs/aime.py --phase=all

The datasets come from `experiments.launch.expert` and `experiments.launch.record` (see the README's
AIME section). Every setting is the reference's (`rssmo.yaml`, `model-only.yaml`,
`aime.yaml`, `bco.yaml`): 100k world-model and 50k policy updates of 50 x 50 windows,
a 512-wide model, 100 demonstrations. `aime_cpu.py` is the CPU-sized version.
"""

import ml_collections

from algos import bco
from algos.aime import imitation
from worldmodels import training


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.demos = "datasets/PendulumSwingup/demos.npz"
    c.embodiment = "datasets/PendulumSwingup/embodiment_mixed.npz"
    c.seed = 0
    c.num_seeds = 3  # vmapped in one program per phase
    c.heldout_fraction = 0.1  # embodiment episodes kept for the world model's held-out ELBO
    c.eval_episodes = 20
    c.chunk_updates = 250  # updates per jitted chunk (one progress-bar tick)
    c.checkpoint_interval_s = 60.0  # at most this long between checkpoints (and one at each stage's end)
    c.workdir = ""  # empty: runs/aime_<task>_<embodiment kind>_seed<seed>
    c.world_model = training.default_config()
    c.imitation = imitation.default_config()
    c.bco = bco.default_config()
    c.bco.stack = 1  # the reference's mdp setup (`train_bco.py`: stack = 1 if mdp else 5); our tasks are states
    return c
