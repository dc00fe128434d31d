"""CIP on CheetahRun, sized for a 2-core CPU (3 seeds in one vmapped program).

`python -m experiments.cip.main` runs CIP, plain SAC, the released code's behaviour and the
ablations below from this config, and writes the comparison. Ablations are config values of the same command:
  --config.agent.parts_on=0            plain SAC with the same networks and schedule
  --config.agent.augment_fraction=0    without counterfactual augmentation
  --config.agent.empowerment_scale=0   without empowerment
  --config.agent.entropy_weighting=0   without causal weights on the entropy
  --config.agent.behaviour=released    the authors' released code (SAC with ACE's resets)
  --config.agent.discovery=reward_last the cheaper discovery (the reward has no children)
and `python -m experiments.launch.sweep ... --grid='agent.parts_on=[0,1]'` trains SAC beside CIP
as one program. The paper trains 1M steps; this budget (50k: 10k random, 40k trained)
is a CPU's.
"""

import ml_collections

from algos import cip
from experiments.launch.config import base_config


def get_config() -> ml_collections.ConfigDict:
    c = base_config("cip", cip.default_config())
    c.task = "CheetahRun"
    c.num_seeds = 3
    c.env.num_envs = 8
    c.agent.total_env_steps = 50_000
    c.agent.learning_starts = 10_000
    c.chunk_iterations = 250
    c.checkpoint_interval_s = 0.0  # every chunk: a wedged run (see experiments.launch.watchdog) loses little
    c.eval_episodes = 10
    return c
