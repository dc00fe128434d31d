"""Optimistic linear bandits on the Markov parameter h: DynLin-UCB, LinUCB and D-LinUCB.

All three regress the reward on the action, h_hat = V^{-1} b with V = lambda I + sum u u^T,
and play argmax_u <h_hat, u> + beta_t ||u||_{V^{-1}}. They differ in

  - when they regress: DynLin-UCB holds each action for a block and regresses only the
    reward of the block's last round, once the state has (nearly) settled to the
    action's steady state (`core.block_ends`); LinUCB and D-LinUCB use every round;
  - the radius beta_t (`RADII`);
  - D-LinUCB discounts old rounds by gamma and uses ||u||_{V^{-1} V~ V^{-1}} (Russac
    et al., 2019).

Constants follow the paper's official code (`scripts/main.py`): theta = ||1^T D||, omega =
||1^T C|| (here ||theta||, ||omega||), b = ||B||_2, u = the largest arm norm,
phi = max_i ||A^i||_2 / rho^i, sigma^2 the noise variance. `params` builders compute them
from the instance on the host, as the paper's algorithm assumes they are known.

D-LinUCB keeps V and b scaled by gamma^{-t} (W = gamma^{-t} V), which gives the same h_hat
and confidence width without computing gamma^t = (1 - 1e-9)^t, which float32 rounds to 1.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from algos.bandits import core
from envs import dlb

RADII = ("dynlin", "linucb", "dlinucb", "code_linear_linucb", "code_linear_dlinucb")


@struct.dataclass
class LinearParams:
    """Shapes: arms [K, d], block_ends [M] (rounds that end a block, padded with a large value)."""

    arms: np.ndarray
    block_ends: np.ndarray
    lam: float
    gamma: float  # discount (1.0: none)
    log_gamma: float
    c1: float
    c2: float
    sigma: float
    sigma_bar_sq: float
    log_inv_delta: float
    log_horizon: float
    u_max: float  # the largest arm norm
    budget: float  # the official LinUCB/D-LinUCB's bound on ||u|| (max_global: the daily budget)
    theta_norm: float
    horizon: float
    # beta_t is multiplied by this. 1.0 is the paper's radius; values below 1 are the usual
    # practical tuning of UCB methods (not in the paper or the official code).
    radius_scale: float = 1.0
    radius: str = struct.field(pytree_node=False, default="dynlin")
    discounted: bool = struct.field(pytree_node=False, default=False)


@struct.dataclass
class LinearState:
    W: jax.Array  # [d, d] gamma^{-t} V (V itself when not discounted)
    W2: jax.Array  # [d, d] gamma^{-2t} V~ (D-LinUCB only)
    B: jax.Array  # [d] gamma^{-t} b
    h: jax.Array  # [d] the ridge estimate of the Markov parameter
    W_inv: jax.Array  # [d, d]
    arm: jax.Array  # [] the arm being held
    choose: jax.Array  # [] bool: pick a new arm at the next round
    block: jax.Array  # [] index of the next block end


def instance_constants(instance: dlb.DLBInstance, arms: np.ndarray) -> dict[str, float]:
    """The constants DynLin-UCB assumes known, computed as the official code does (host, float64)."""
    A = np.asarray(instance.A, np.float64)
    rho = dlb.spectral_radius(A)
    with np.errstate(all="ignore"):
        phi = max(np.linalg.norm(np.linalg.matrix_power(A, i), 2) / rho**i for i in range(1, 1000)) if rho > 0 else 1.0
    return {
        "rho": rho,
        "phi": float(phi) if np.isfinite(phi) else 1.0,
        "omega_norm": float(np.linalg.norm(np.asarray(instance.omega))),
        "theta_norm": float(np.linalg.norm(np.asarray(instance.theta))),
        "b_norm": float(np.linalg.norm(np.asarray(instance.B), 2)),
        "u_max": float(max(np.linalg.norm(a) for a in np.asarray(arms))),
    }


def params(instance: dlb.DLBInstance, arms, horizon: int, lam: float = 1.0, radius: str = "dynlin",
           blocks: bool = True, gamma: float = 1.0, discounted: bool = False, sigma: float | None = None,
           budget: float | None = None, pad_to: int | None = None, radius_scale: float = 1.0) -> LinearParams:
    """Parameters of one linear-UCB agent on one instance (host-side).

    `blocks`: DynLin-UCB's block schedule (else every round). `sigma`: the noise std the
    radius assumes (default: the instance's state noise std, the official code's
    `noise_sigma`). `budget`: LinUCB's action-norm bound (default: the largest arm's
    1-norm, the official code's daily budget). `pad_to`: pad `block_ends` to this length,
    so that instances with different rho stack. `radius_scale`: beta_t's multiplier (1: the paper's).
    """
    if not radius_scale > 0:
        raise ValueError(f"radius_scale must be > 0, got {radius_scale}")
    if radius not in RADII:
        raise ValueError(f"unknown radius {radius!r}; choose one of {RADII}")
    arms = np.asarray(arms, np.float64)
    k = instance_constants(instance, arms)
    rho = k["rho"]
    if blocks and not rho < 1:
        raise dlb.DLBError(f"DynLin-UCB needs rho(A) < 1, got {rho}")
    sigma = float(np.asarray(instance.state_noise_std)) if sigma is None else sigma
    rho_c = min(rho, 1 - 1e-12)
    x_val = k["u_max"] / (1 - rho_c)
    c1 = k["theta_norm"] + k["omega_norm"] * k["b_norm"] * k["phi"] / (1 - rho_c)
    c2 = k["u_max"] * k["omega_norm"] * k["phi"] * (k["u_max"] * k["b_norm"] / (1 - rho_c) + x_val)
    sigma_bar_sq = sigma**2 * (1 + k["omega_norm"] ** 2 * k["phi"] ** 2 / (1 - rho_c**2))
    ends = core.block_ends(rho if blocks else 0.0, horizon)
    if pad_to is not None:
        ends = padded_block_ends(ends, pad_to)
    return LinearParams(
        arms=arms, block_ends=ends, lam=float(lam), gamma=float(gamma), log_gamma=float(math.log(gamma)),
        c1=c1, c2=c2, sigma=sigma, sigma_bar_sq=sigma_bar_sq, log_inv_delta=math.log(horizon),
        log_horizon=math.log(horizon), u_max=k["u_max"],
        budget=float(np.abs(arms).sum(axis=1).max()) if budget is None else float(budget),
        theta_norm=k["theta_norm"], horizon=float(horizon), radius_scale=float(radius_scale), radius=radius,
        discounted=discounted,
    )


def padded_block_ends(ends: np.ndarray, length: int) -> np.ndarray:
    """`ends` [M] padded to [length] with a round never reached, so that schedules of different rho stack."""
    if length < len(ends):
        raise ValueError(f"pad_to={length} is shorter than the {len(ends)} block ends")
    return np.concatenate([ends, np.full(length - len(ends), np.iinfo(np.int32).max, np.int64)])


def radius(p: LinearParams, t: jax.Array) -> jax.Array:
    """beta_t of `p.radius` at round t (the number of rounds played so far)."""
    d = p.arms.shape[-1]
    t = jnp.asarray(t, float)
    if p.radius == "dynlin":  # DynLin-UCB (paper; official DynLinUCBAgent / LinearAgent, delta = 1/T)
        return (p.c1 * jnp.sqrt(p.lam) + p.c2 / jnp.sqrt(p.lam) * jnp.log(math.e * (t + 1))
                + jnp.sqrt(2 * p.sigma_bar_sq * (p.log_inv_delta + d / 2 * jnp.log(1 + t * p.u_max**2 / (d * p.lam)))))
    if p.radius == "linucb":  # the official LinUCBAgent (its lambda = 1 baseline)
        return p.theta_norm * jnp.sqrt(p.lam) + jnp.sqrt(
            2 * p.log_horizon + d * jnp.log((d * p.lam + p.horizon * p.budget**2) / (d * p.lam)))
    if p.radius == "dlinucb":  # the official DLinUCBAgent (Russac et al.'s D-LinUCB)
        lam_t = p.lam * jnp.exp(-t * p.log_gamma)
        return p.theta_norm * jnp.sqrt(lam_t) + p.sigma * jnp.sqrt(2 * p.log_horizon + d * jnp.log(
            1 + p.budget**2 * (1 - p.gamma ** (2 * t)) / (d * lam_t * (1 - p.gamma**2))))
    if p.radius == "code_linear_linucb":  # the official LinearAgent(linucb=True): its lambda = log T baseline
        return p.c1 * jnp.sqrt(p.lam) + jnp.sqrt(
            2 * p.sigma_bar_sq * (p.log_inv_delta + d / 2 * jnp.log(1 + t * p.u_max**2 / (d * p.lam))))
    if p.radius == "code_linear_dlinucb":  # the official LinearAgent(dlinucb=True): undiscounted V
        return p.c1 * jnp.sqrt(p.lam) + jnp.sqrt(2 * p.sigma_bar_sq * (p.log_inv_delta + d / 2 * jnp.log(
            1 + (t * p.u_max**2 / (d * p.lam)) * (1 - p.gamma ** (2 * t)) / (1 - p.gamma**2))))
    raise ValueError(p.radius)


def init(p: LinearParams, key: jax.Array) -> LinearState:
    d, k = p.arms.shape[-1], p.arms.shape[-2]
    eye = jnp.eye(d)
    return LinearState(W=p.lam * eye, W2=p.lam * eye, B=jnp.zeros(d), h=jnp.zeros(d), W_inv=eye / p.lam,
                       arm=jax.random.randint(key, (), 0, k, jnp.int32), choose=jnp.zeros((), bool),
                       block=jnp.zeros((), jnp.int32))


def ucb_scores(p: LinearParams, s: LinearState, t: jax.Array) -> jax.Array:
    """<h_hat, u> + beta_t ||u|| for every arm, [K]."""
    arms = jnp.asarray(p.arms, float)
    if p.discounted:
        M = s.W_inv @ s.W2 @ s.W_inv
    else:
        M = s.W_inv
    width = jnp.sqrt(jnp.einsum("kd,de,ke->k", arms, M, arms))
    return arms @ s.h + p.radius_scale * radius(p, t) * width


def act(p: LinearParams, s: LinearState, t: jax.Array, key: jax.Array) -> jax.Array:
    """Hold the block's arm; at the round after a block ends, the most optimistic arm."""
    return jnp.where(s.choose, jnp.argmax(ucb_scores(p, s, t)), s.arm)


def update(p: LinearParams, s: LinearState, t: jax.Array, arm: jax.Array, reward: jax.Array) -> LinearState:
    """At a block's last round, add (u, y) to the regression; mark the next round to choose."""
    u = jnp.asarray(p.arms, float)[arm]
    ends_block = t == jnp.asarray(p.block_ends)[jnp.minimum(s.block, p.block_ends.shape[-1] - 1)]
    d = u.shape[0]
    if p.discounted:  # W_{t+1} = W_t + g^{-(t+1)} u u^T + (1 - g) lam g^{-(2t+1)} I, and likewise W2, B
        t = jnp.asarray(t, float)
        s1 = jnp.exp(-(t + 1) * p.log_gamma)
        W = s.W + s1 * jnp.outer(u, u) + (1 - p.gamma) * p.lam * jnp.exp(-(2 * t + 1) * p.log_gamma) * jnp.eye(d)
        W2 = (s.W2 + s1**2 * jnp.outer(u, u)
              + (1 - p.gamma**2) * p.lam * jnp.exp(-(3 * t + 2) * p.log_gamma) * jnp.eye(d))
        B = s.B + s1 * u * reward
        W_inv = jnp.linalg.inv(W)  # the lam-term makes this more than a rank-one change
    else:
        W, W2, B = s.W + jnp.outer(u, u), s.W2, s.B + u * reward
        Wu = s.W_inv @ u  # Sherman-Morrison: (W + u u^T)^{-1}, exact up to rounding, no inversion
        W_inv = s.W_inv - jnp.outer(Wu, Wu) / (1.0 + u @ Wu)
    new = s.replace(W=W, W2=W2, B=B, h=W_inv @ B, W_inv=W_inv)
    new = jax.tree.map(lambda a, b: jnp.where(ends_block, a, b), new, s)
    return new.replace(arm=arm, choose=ends_block, block=s.block + ends_block.astype(jnp.int32))


AGENT = core.BanditAgent(name="linear_ucb", init=init, act=act, update=update, acts_at_random=False,
                         decision_rounds=lambda p: np.asarray(p.block_ends))
