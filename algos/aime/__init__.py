"""AIME (Zhang et al., NeurIPS 2023): zero-shot imitation from observation by
maximising the evidence of demonstrations under a world model of one's own body.

Phase 1 (the world model) lives in `worldmodels`; `imitation` is phase 2 (the policy
as the inference model of the demonstration's actions) and the policy's controller in
the environment. The baselines (BCO(0) and BC with the true actions) are `algos.bco`.
"""

from algos.aime import imitation  # noqa: F401
