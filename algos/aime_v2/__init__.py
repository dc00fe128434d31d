"""AIME-v2 (Zhang et al.): online imitation from observation with a pretrained world
model, a data-driven regulariser and a surrogate reward. `agent.make_setup` gathers what the agent's functions read; `agent.make_learner` makes it a host-loop learner;
`surrogate` is the VIPER-style reward."""

from algos.aime_v2 import agent, surrogate  # noqa: F401
from algos.aime_v2.agent import default_config, make_learner, make_setup  # noqa: F401
