"""A straightforward NumPy DynLin-UCB (vectorised over runs, looping over rounds), for the benchmark.

It is the peer of `algos.bandits.linear` in `bandit_throughput.py` and the independent
check in `tests/test_bandits.py` that both pick the same arms on the same noise. It
follows the official code's structure (inverse of V after each block, UCB over the arms).
"""

from __future__ import annotations

import math

import numpy as np

from algos.bandits.linear import LinearParams
from envs.dlb import DLBInstance


def dynlin_ucb(instance: DLBInstance, p: LinearParams, reward_noise: np.ndarray, state_noise: np.ndarray,
               first_arm: np.ndarray) -> np.ndarray:
    """Arms pulled [R, T] by DynLin-UCB (`p.radius == "dynlin"`) given each run's noises
    reward_noise [R, T] and state_noise [R, T, n] and first arm [R]."""
    A, B = np.asarray(instance.A), np.asarray(instance.B)
    theta, omega = np.asarray(instance.theta), np.asarray(instance.omega)
    arms = np.asarray(p.arms, np.float64)
    runs, horizon = reward_noise.shape
    d = arms.shape[1]
    x = np.tile(np.asarray(instance.x0, np.float64), (runs, 1))
    V = np.tile(p.lam * np.eye(d), (runs, 1, 1))
    b = np.zeros((runs, d))
    h = np.zeros((runs, d))
    V_inv = np.linalg.inv(V)
    arm = np.asarray(first_arm).copy()
    choose = False
    ends, block = np.asarray(p.block_ends), 0
    pulled = np.zeros((runs, horizon), np.int64)
    for t in range(horizon):
        if choose:
            beta = (p.c1 * math.sqrt(p.lam) + p.c2 / math.sqrt(p.lam) * math.log(math.e * (t + 1))
                    + math.sqrt(2 * p.sigma_bar_sq * (p.log_inv_delta + d / 2 * math.log(
                        1 + t * p.u_max**2 / (d * p.lam)))))
            width = np.sqrt(np.einsum("kd,rde,ke->rk", arms, V_inv, arms))
            arm = np.argmax(h @ arms.T + beta * width, axis=1)
        u = arms[arm]
        pulled[:, t] = arm
        y = x @ omega + u @ theta + reward_noise[:, t]
        x = x @ A.T + u @ B.T + state_noise[:, t]
        choose = block < len(ends) and t == ends[block]
        if choose:
            V = V + np.einsum("rd,re->rde", u, u)
            b = b + u * y[:, None]
            V_inv = np.linalg.inv(V)
            h = np.einsum("rde,re->rd", V_inv, b)
            block += 1
    return pulled
