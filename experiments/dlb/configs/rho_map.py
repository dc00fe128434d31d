"""Where DynLin-UCB's guarantee costs regret: random stable instances at several spectral radii.

    python -m experiments.dlb.rho_map [--config.horizon=100000] [--config.instances=10]
"""

import ml_collections

from experiments.dlb.configs.base import dlb_config


def get_config() -> ml_collections.ConfigDict:
    c = dlb_config()
    c.experiment = "rho_map"
    c.rhos = (0.2, 0.5, 0.8, 0.95)
    c.instances = 50  # random instances per rho (envs.dlb.random_instance, n = state_dim, d = action_dim)
    c.state_dim = 4
    c.action_dim = 3
    c.noise_std = 0.01
    c.methods = "dynlin_ucb_1,dynlin_ucb_logT,linucb_1,dlinucb_1,ar2,exp3"
    # DynLin-UCB (lambda = 1) again with its radius beta_t scaled by each of these: not the
    # paper's algorithm (its scale is 1), the usual practical tuning of UCB methods.
    c.radius_scales = (0.1, 0.01)
    c.segments = 100
    c.chunks = 10
    # DynLin-UCB's blocks played whole: 4 of the 6 + 2 methods hold their arm, and the map compares
    # regret distributions per instance, not paired runs, so common random numbers are not needed.
    c.simulate = "holds"
    c.workdir = "runs/dlb_rho_map"
    return c
