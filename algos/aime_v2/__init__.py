"""AIME-v2 (Zhang et al.): online imitation from observation with a pretrained world
model, a data-driven regulariser and a surrogate reward. `agent.make` builds the agent;
`surrogate` is the VIPER-style reward."""

from algos.aime_v2 import agent, surrogate  # noqa: F401
from algos.aime_v2.agent import default_config, make  # noqa: F401
