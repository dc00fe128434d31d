"""ADS on a Meta-World task from states, sized for a 2-core CPU; 3 vmapped seeds.

    python -m experiments.ads.main --config=experiments/ads/configs/ads_metaworld.py --methods=ads,ot   # lever-pull
    python -m experiments.ads.main --config=experiments/ads/configs/ads_basketball.py --methods=ads,ot

The task's part is the authors' suite (`IL/cfgs/suite/metaworld.yaml`, `IL/suite/metaworld.py`):
action repeat 2, their per-task time limit (rounded up to whole agent steps: 176 control steps for
basketball, 126 for lever-pull), the goal hidden, success counted when the flag is up on more than 3
evaluation steps, and 10 demonstrations of metaworld's scripted policy, subsampled by the action
repeat (`envs.metaworld.experts`). Departures, for the CPU: states rather than frames (the paper learns
from pixels; Meta-World frames are not rendered here yet), 60k agent steps (120k frames; the paper
trains 2M), 256-wide networks and batch 256, 10 environments playing one episode each per iteration.
"""

import ml_collections

from envs.metaworld import TASKS
from experiments.ads.configs import ads


def metaworld_config(task: str) -> ml_collections.ConfigDict:
    name = task if task.startswith("mw/") else f"mw/{task}"
    if name not in TASKS:
        raise ValueError(f"no Meta-World task {task!r}; there are {sorted(TASKS)}")
    c = ads.get_config()
    c.task = name
    c.env.action_repeat = 2
    c.env.episode_length = -(-TASKS[name].config.episode_length // 2) * 2
    a = c.agent
    a.demos = f"datasets/{name.replace('/', '-')}/demos.npz"
    a.success_steps = 4
    a.total_env_steps = 60_000
    a.replay_capacity = 60_000
    return c


def get_config() -> ml_collections.ConfigDict:
    return metaworld_config("lever-pull")
