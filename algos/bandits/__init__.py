"""Bandit algorithms for Dynamical Linear Bandits (`envs.dlb`): DynLin-UCB and its baselines.

Every algorithm is a `BanditAgent` of three pure functions over a fixed-shape state,

    state = agent.init(params, key)
    arm   = agent.act(params, state, t, key)          # an index into params.arms
    state = agent.update(params, state, t, arm, reward)

where `params` is a pytree built on the host from the instance's known constants
(`linear.dynlin_ucb_params(...)` etc.), so instances, seeds and settings all `vmap`.
`algos.bandits.core.run` scans one run over the horizon; it computes in float64.
"""
