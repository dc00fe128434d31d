"""Settings shared by the DLB experiments (`experiments.dlb.main`)."""

import ml_collections


def dlb_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.experiment = ""
    c.A = ((0.0,),)
    c.B = ((0.0,),)
    c.C = ((0.0,),)
    c.D = ((0.0,),)
    c.noise_std = 0.01  # every state and output noise component is N(0, noise_std^2)
    c.daily_budget = 1.5  # the action set: allocations of this budget over the campaigns ...
    c.campaign_cap = 1.0  # ... at most this much each ...
    c.campaign_floor = 0.0  # ... and at least this much
    c.horizon = 1_000_000
    c.trials = 10
    c.segments = 1000  # regret is recorded every horizon / segments rounds
    c.chunks = 10  # jitted calls per method (progress-bar ticks)
    c.seed = 0
    # "holds": the methods that hold an arm for blocks (DynLin-UCB) play each block at once
    # (`core.run_many(simulate="holds")`): the same distribution of results in fewer steps, but
    # other random numbers than the per-round baselines (no common random numbers with them).
    c.simulate = "rounds"
    c.methods = ("clairvoyant,dynlin_ucb_1,dynlin_ucb_logT,linucb_1,linucb_logT,dlinucb_1,dlinucb_logT,"
                 "ar2,exp3,batch_exp3,random")
    c.expert = ()  # a fixed allocation (proportions), for the `expert` method
    # Reproduce the official code's baselines where it departs from the methods' papers:
    # its lambda = log T LinUCB/D-LinUCB use DynLin-UCB's sigma-scaled radius (and D-LinUCB
    # does not discount), and its batched Exp3 closes batches one round late.
    c.code_baselines = False
    # Horizons of separate DynLin-UCB runs whose final regrets give the log-log slope
    # (regret ~ T^slope); empty: skip.
    c.slope_horizons = ()
    c.workdir = ""  # empty: runs/dlb_<experiment>_sigma<noise_std>
    return c
