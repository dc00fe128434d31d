"""The DLB paper's real-data experiment (official config `testcase_realdata.json`).

The authors identified a 3-state linear system from an advertising company's data (3
campaigns); the data are not public, only the identified matrices, to two decimals,
which we carry over. A manual expert's allocation (the company's own split) is the
extra baseline. Horizon 10^6, 10 trials, noise_std 0.01.
"""

import ml_collections

from experiments.dlb.configs.base import dlb_config


def get_config() -> ml_collections.ConfigDict:
    c = dlb_config()
    c.experiment = "realdata"
    c.A = ((0.38, 0.33, 0.6), (0.07, 0.76, -0.54), (0.18, 0.34, 0.05))
    c.B = ((0.14, 0.34, -0.05), (-0.17, 0.03, -0.01), (0.04, -0.09, 0.17))
    c.C = ((0.25, -0.14, 0.01), (-0.55, 0.2, -0.13), (-0.31, -0.1, -0.01))
    c.D = ((0.11, 0.1, 0.01), (0.01, 0.36, 0.01), (0.01, -0.05, 0.0))
    c.noise_std = 0.01
    c.expert = (1641952.0, 259591273.0, 716354611.0)  # the company's spend per campaign
    c.methods += ",expert"
    return c
