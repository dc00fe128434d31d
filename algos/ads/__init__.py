"""ADS (Liu et al., ICLR 2024): imitation from observation with an optimal-transport proxy
reward and Automatic Discount Scheduling. `ot_reward` (the proxy reward), `progress` (the
progress recogniser and the discount schedule), `gaifo` (the adversarial baseline's
discriminator), `agent` (the agent on the DDPG backbone, and its OT and GAIfO baselines),
re-exported here for the launcher: `ads.make_train(config, env)` reads like every agent.
"""

from algos.ads.agent import (  # noqa: F401
    HPARAMS, RANGES, Carry, act, default_config, load_demos, make_learner, make_train, num_iterations,
)
