"""CIP (Cao et al., ICLR 2025): causal information prioritisation on SAC.

`discovery` (the reward row of the causal graph over [state, action, reward], and the
weights it gives), `augment` (counterfactual swaps of the state dimensions that do not
drive the reward), `agent` (the agent: `default_config`, `init`, `act`, `update`,
`make_train`), re-exported here so that `cip.make_train(config, env)` reads like every agent.
"""

from algos.cip.agent import (  # noqa: F401
    HPARAMS, RANGES, CIPState, act, default_config, init, make_hook, make_learner, make_train, num_iterations, update,
)
