"""ADS on PointPushAround, the stronger progress dependency, sized for a 2-core CPU; 3 vmapped seeds.

    python -m experiments.ads.main --config=experiments/ads/configs/ads_around.py --methods=ads,ot

The hand starts between the puck and the goal, next to where the demonstrations' hand ends
(`envs.push`): the rewards of the demonstrations' late steps are within reach at once, and
pull the agent away from the detour round the puck that the early steps ask for; this is the
interference that ADS's small early discount is meant to hold off. Otherwise the settings of
`experiments/ads/configs/ads.py`, with 120-step episodes (the experts reach the goal after 76-89).
"""

import ml_collections

from envs import push
from experiments.ads.configs import ads


def get_config() -> ml_collections.ConfigDict:
    c = ads.get_config()
    c.task = "PointPushAround"
    c.env.episode_length = push.AROUND_EPISODE_LENGTH
    c.agent.demos = "datasets/PointPushAround/demos.npz"
    c.agent.total_env_steps = 72_000  # 60 iterations of 10 episodes, as on PointPush
    c.agent.replay_capacity = 72_000
    return c
