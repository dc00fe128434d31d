"""The algorithms the launcher knows, by name.

A new algorithm joins by adding its module here. The module must provide
`default_config()`, `HPARAMS`, `make_learner(config, env)`, `num_iterations(config, num_envs)`
and `act(agent_state, obs, key, deterministic)`.
"""

from __future__ import annotations

from types import ModuleType

from algos import ads, cip, ddpg, ppo, sac

ALGOS: dict[str, ModuleType] = {"ppo": ppo, "sac": sac, "ddpg": ddpg, "cip": cip, "ads": ads}
