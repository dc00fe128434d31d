"""The DLB paper's synthetic experiment (Mussi et al., 2023, Section 7; official config
`testcase_synt_sigma0dot01.json`): n = m = d = 3, diagonal A, B, C, D, budget allocations over
3 campaigns, horizon 10^6, 10 trials. The paper runs noise_std in {0.001, 0.01, 0.1}:

    python -m experiments.dlb.main --config=experiments/dlb/configs/synthetic.py --config.noise_std=0.1
"""

import ml_collections

from experiments.dlb.configs.base import dlb_config


def get_config() -> ml_collections.ConfigDict:
    c = dlb_config()
    c.experiment = "synthetic"
    c.A = ((0.2, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.1))
    c.B = ((0.45, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.1))
    c.C = ((1.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.1))
    c.D = ((0.0, 0.0, 0.0), (0.0, 0.5, 0.0), (0.0, 0.0, 0.1))
    c.noise_std = 0.01
    return c
