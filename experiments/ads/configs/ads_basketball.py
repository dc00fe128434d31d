"""ADS on Meta-World's basketball from states: `ads_metaworld.py`'s settings on the task the paper
introduces progress dependency with (grasp the ball before carrying it to the hoop)."""

import ml_collections

from experiments.ads.configs.ads_metaworld import metaworld_config


def get_config() -> ml_collections.ConfigDict:
    return metaworld_config("basketball")
