"""The algorithms the launcher knows, by name, each as an explicit record of its functions.

A new algorithm joins by adding an `Algorithm` here; nothing is looked up on a module.
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple

import ml_collections

from algos import ads, cip, ddpg, ppo, sac
from algos.common import hparams, loop


class Algorithm(NamedTuple):
    default_config: Callable[[], ml_collections.ConfigDict]
    hparams: tuple[str, ...]  # numeric hyperparameters a grid may vmap
    ranges: Mapping[str, hparams.Range]  # the valid range of every numeric config field
    make_learner: Callable[..., loop.Learner]  # (agent config, batched env) -> Learner
    num_iterations: Callable[[ml_collections.ConfigDict, int], int]  # (agent config, num_envs) -> iterations
    init: Callable  # (key, spec, agent config) -> agent state (the template of a saved expert)
    act: Callable  # (agent state, obs, key, deterministic) -> action


ALGOS: dict[str, Algorithm] = {
    "ppo": Algorithm(ppo.default_config, ppo.HPARAMS, ppo.RANGES, ppo.make_learner, ppo.num_iterations,
                     ppo.init, ppo.act),
    "sac": Algorithm(sac.default_config, sac.HPARAMS, sac.RANGES, sac.make_learner, sac.num_iterations,
                     sac.init, sac.act),
    "ddpg": Algorithm(ddpg.default_config, ddpg.HPARAMS, ddpg.RANGES, ddpg.make_learner, ddpg.num_iterations,
                      ddpg.init, ddpg.act),
    "cip": Algorithm(cip.default_config, cip.HPARAMS, cip.RANGES, cip.make_learner, cip.num_iterations,
                     cip.init, cip.act),
    # ADS's acting state is its DDPG backbone's
    "ads": Algorithm(ads.default_config, ads.HPARAMS, ads.RANGES, ads.make_learner, ads.num_iterations,
                     ddpg.init, ads.act),
}
