"""The agent of `drqv2.py` on state observations (no encoder), at the same budget: its baseline."""

import ml_collections

from experiments.backbones.configs import drqv2


def get_config() -> ml_collections.ConfigDict:
    return drqv2.get_config("state")
