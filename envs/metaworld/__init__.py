"""Meta-World's Sawyer manipulation tasks on MJX (warp physics), parity-tested against the
official `metaworld` package (`tests/test_metaworld.py`).

    env, spec = envs.make("mw/basketball", num_envs=16)

`TASKS` maps registry names to task classes; `envs.metaworld.experts` records the official
scripted policies' demonstrations in our dataset format.
"""

from envs.metaworld.assets import MetaWorldError
from envs.metaworld.sawyer import SawyerEnv, SawyerState, TaskConfig
from envs.metaworld.tasks import TASKS, Basketball, LeverPull

__all__ = ["TASKS", "Basketball", "LeverPull", "MetaWorldError", "SawyerEnv", "SawyerState", "TaskConfig"]
