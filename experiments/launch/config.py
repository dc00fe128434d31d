"""The launcher's settings shared by every experiment config.

An experiment config is `base_config(algo, agent_config)` plus its own choices:

    c = base_config("sac", sac.default_config())
    c.task = "CheetahRun"
    c.agent.total_env_steps = 50_000

`experiments.launch.validation.check` refuses any key that is not here (or, under `agent`,
not in the algorithm's `default_config()`), before anything compiles.
"""

from __future__ import annotations

import ml_collections

from algos.common import hparams as R

# The valid ranges of the launcher's own numeric settings, and of the environment's.
LAUNCHER_RANGES = {
    "seed": R.NON_NEGATIVE, "num_seeds": R.AT_LEAST_ONE, "chunk_iterations": R.AT_LEAST_ONE,
    "eval_episodes": R.NON_NEGATIVE, "checkpoint_interval_s": R.NON_NEGATIVE, "keep_checkpoints": R.AT_LEAST_ONE,
    "num_devices": R.NON_NEGATIVE,
}
ENV_RANGES = {"num_envs": R.AT_LEAST_ONE, "episode_length": R.AT_LEAST_ONE, "action_repeat": R.AT_LEAST_ONE}


def base_config(algo: str, agent: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.algo = algo
    c.task = "CartpoleBalance"
    c.seed = 0  # the root key; member seeds are split from it
    c.num_seeds = 1  # seeds trained as one vmapped program
    c.env = ml_collections.ConfigDict(
        {"num_envs": 32, "episode_length": 1000, "action_repeat": 1, "reset_mode": "full"}
    )
    c.agent = agent
    # Numeric hyperparameters of the agent to vmap, name -> list of values. A run trains
    # every combination x every seed as one program (filled in by experiments.launch.sweep).
    c.grid = ml_collections.ConfigDict()
    c.chunk_iterations = 10  # training iterations per jitted chunk (one progress-bar tick)
    c.eval_episodes = 16
    c.workdir = ""  # empty: runs/<algo>_<task>_seed<seed>; rerunning the command resumes it
    c.checkpoint_interval_s = 60.0  # at most this long between checkpoints (and one at the end)
    c.keep_checkpoints = 3  # older good ones are the fallback if the newest is corrupt
    c.num_devices = 0  # devices the vmapped members are sharded over; 0: all local devices
    c.log = ml_collections.ConfigDict(
        {"tensorboard": False, "wandb": False, "wandb_project": "mjxrl", "wandb_mode": "offline"}
    )
    return c
