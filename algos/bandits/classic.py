"""Arm-index baselines: the oracle, a fixed policy, uniform random, UCB1, Exp3 and batched Exp3.

Exp3 and batched Exp3 follow the official DLB code (`scripts/main.py` and its agents):
rewards are shifted and scaled, r = (y + 2M) / (4M) with M = (||theta|| + ||omega|| ||B|| /
(1 - rho)) u_max, the exploration rate is gamma = min(1, sqrt(K log K / ((e - 1) 2 T / 3)))
(T / batch for the batched one) and eta = gamma / K; the weights are a softmax of eta
times the importance-weighted reward sums. Batched Exp3 holds each arm for a batch of
ceil(log M / log(1/rho)) rounds (M the number of DynLin-UCB blocks) and feeds Exp3
the batch's mean reward.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from algos.bandits import core
from algos.bandits.linear import instance_constants
from envs import dlb


@struct.dataclass
class FixedParams:
    arms: np.ndarray  # [K, d]
    arm: int  # the arm always played


def _fixed_init(p, key):
    return jnp.zeros((), jnp.int32)


FIXED = core.BanditAgent(name="fixed", init=_fixed_init, act=lambda p, s, t, key: jnp.asarray(p.arm),
                         update=lambda p, s, t, arm, reward: s, acts_at_random=False)


def oracle_params(instance: dlb.DLBInstance, arms) -> FixedParams:
    """The clairvoyant policy: the optimal arm, always."""
    return FixedParams(arms=np.asarray(arms, np.float64), arm=int(dlb.optimum(instance, np.asarray(arms)).arm))


def expert_params(arms, allocation) -> FixedParams:
    """A fixed action outside the arm set (e.g. the real-data config's manual expert), as arm K."""
    arms = np.asarray(arms, np.float64)
    return FixedParams(arms=np.concatenate([arms, np.asarray(allocation, np.float64)[None]]), arm=arms.shape[0])


@struct.dataclass
class RandomParams:
    arms: np.ndarray


RANDOM = core.BanditAgent(
    name="random", init=lambda p, key: jnp.zeros((), jnp.int32),
    act=lambda p, s, t, key: jax.random.randint(key, (), 0, p.arms.shape[0], jnp.int32),
    update=lambda p, s, t, arm, reward: s)


# ------------------------------------------------------------------------------------- UCB1


@struct.dataclass
class UCB1Params:
    arms: np.ndarray
    scale: float  # the reward scale times the noise std (the official code's max_reward * sigma)


@struct.dataclass
class UCB1State:
    mean: jax.Array  # [K]
    pulls: jax.Array  # [K]


def _ucb1_init(p, key):
    k = p.arms.shape[0]
    return UCB1State(mean=jnp.zeros(k), pulls=jnp.zeros(k))


def _ucb1_act(p, s, t, key):
    bonus = p.scale * jnp.sqrt(2 * jnp.log(jnp.maximum(jnp.asarray(t, float), 1.0)) / jnp.maximum(s.pulls, 1.0))
    return jnp.argmax(jnp.where(s.pulls == 0, jnp.inf, s.mean + bonus))  # every arm once first


def _ucb1_update(p, s, t, arm, reward):
    n = s.pulls[arm]
    return UCB1State(mean=s.mean.at[arm].set((s.mean[arm] * n + reward) / (n + 1)), pulls=s.pulls.at[arm].add(1))


UCB1 = core.BanditAgent(name="ucb1", init=_ucb1_init, act=_ucb1_act, update=_ucb1_update, acts_at_random=False)


# ------------------------------------------------------------------------------------- Exp3


@struct.dataclass
class Exp3Params:
    arms: np.ndarray
    gamma: float  # exploration mix
    eta: float  # learning rate of the exponential weights
    shift: float  # added to the reward ...
    scale: float  # ... then divided by this
    batch: int  # rounds per decision (1: Exp3)
    code_offset: bool = struct.field(pytree_node=False, default=False)


@struct.dataclass
class Exp3State:
    G: jax.Array  # [K] importance-weighted reward sums
    probs: jax.Array  # [K]
    arm: jax.Array
    acc: jax.Array  # reward accumulated over the current batch


def exp3_params(instance: dlb.DLBInstance, arms, horizon: int, batched: bool = False,
                code_offset: bool = False) -> Exp3Params:
    """Exp3 (or batched Exp3) with the official code's constants.

    `code_offset`: close each batch one round late, at t = 1 (mod batch), as the official
    BatchExp3Agent does, so a batch's reward mixes the previous arm's rounds into the new
    arm's. The default closes a batch at its own last round, as the method intends.
    """
    arms = np.asarray(arms, np.float64)
    k = instance_constants(instance, arms)
    n_arms = arms.shape[0]
    M = (k["theta_norm"] + k["omega_norm"] * k["b_norm"] / (1 - k["rho"])) * k["u_max"]
    batch = 1
    if batched:
        blocks = len(core.block_ends(k["rho"], horizon))
        batch = max(1, math.ceil(np.log(blocks) / np.log(1 / k["rho"]))) if k["rho"] > 0 else 1
    lr = min(1.0, math.sqrt(n_arms * math.log(n_arms) / ((math.e - 1) * 2 * (horizon / batch) / 3)))
    return Exp3Params(arms=arms, gamma=lr, eta=lr / n_arms, shift=2 * M, scale=4 * M, batch=batch,
                      code_offset=code_offset)


def _exp3_init(p, key):
    k = p.arms.shape[0]
    return Exp3State(G=jnp.zeros(k), probs=jnp.full(k, 1.0 / k), arm=jnp.zeros((), jnp.int32), acc=jnp.zeros(()))


def _exp3_act(p, s, t, key):
    draw = jax.random.choice(key, p.arms.shape[0], p=s.probs / s.probs.sum())
    new_batch = (t % p.batch) == 0
    return jnp.where(new_batch, draw, s.arm)


def _exp3_update(p, s, t, arm, reward):
    # a batch closes at its last round with the mean of its rewards (see exp3_params for
    # the official code's one-round offset); with batch = 1 that is every round
    closes = (t % p.batch) == ((1 if p.code_offset else p.batch - 1) % p.batch)
    total = (s.acc + reward) / p.batch
    r = (total + p.shift) / p.scale
    G = s.G.at[arm].add(r / s.probs[arm])
    probs = (1 - p.gamma) * jax.nn.softmax(p.eta * G) + p.gamma / p.arms.shape[0]
    return Exp3State(G=jnp.where(closes, G, s.G), probs=jnp.where(closes, probs, s.probs), arm=arm,
                     acc=jnp.where(closes, 0.0, s.acc + reward))


EXP3 = core.BanditAgent(name="exp3", init=_exp3_init, act=_exp3_act, update=_exp3_update)


# -------------------------------------------------------------------------------------- AR2


@struct.dataclass
class AR2Params:
    """AR2 (Chen et al., 2021: bandits whose rewards follow an AR(1) process) as the DLB code runs it.

    alpha = rho(A) (the AR coefficient), epoch = ceil(K alpha^-3 sigma^-3), c1 = 24 c0 with
    c0 = sqrt(4 log(1 / (alpha sigma)) + 4 log(epoch) + 2 log(4K)).
    """

    arms: np.ndarray
    alpha: float
    epoch: float  # may exceed int32 (7.5e11 rounds at sigma = 0.001): kept as a float
    c1: float
    sigma: float


@struct.dataclass
class AR2State:
    t0: jax.Array  # rounds played + 1
    epoch_index: jax.Array  # s, from 1
    est: jax.Array  # [K] discounted last-seen rewards (inf: not yet seen)
    tau: jax.Array  # [K] round each arm was last pulled (inf: never)
    tau_trig: jax.Array  # [K] round each arm was triggered (inf: not triggered)
    triggered: jax.Array  # [K] bool
    last: jax.Array  # last pulled arm
    last_last: jax.Array  # the one before


def ar2_params(instance: dlb.DLBInstance, arms) -> AR2Params:
    arms = np.asarray(arms, np.float64)
    alpha = instance_constants(instance, arms)["rho"]
    sigma = float(np.asarray(instance.state_noise_std))
    n_arms = arms.shape[0]
    epoch = math.ceil(n_arms * alpha**-3 * sigma**-3)
    c0 = math.sqrt(4 * math.log(1 / (alpha * sigma)) + 4 * math.log(epoch) + 2 * math.log(4 * n_arms))
    return AR2Params(arms=arms, alpha=alpha, epoch=float(epoch), c1=24 * c0, sigma=sigma)


def _ar2_init(p, key):
    k = p.arms.shape[0]
    inf = jnp.full(k, jnp.inf)
    zero = jnp.zeros((), jnp.int32)
    return AR2State(t0=jnp.ones((), jnp.int32), epoch_index=jnp.ones((), jnp.int32), est=inf, tau=inf, tau_trig=inf,
                    triggered=jnp.zeros(k, bool), last=zero, last_last=zero)


def _explore_until(p, s):
    """The last round of the epoch's initial sweep over the arms (float: epochs can be huge)."""
    return p.arms.shape[0] + (s.epoch_index.astype(float) - 1) * p.epoch


def _ar2_act(p, s, t, key):
    k = p.arms.shape[0]
    t0 = s.t0.astype(float)
    round_robin = (_explore_until(p, s) - t0).astype(jnp.int32)  # the sweep, from arm K-1 down to 0
    i_sup = jnp.where(s.est[s.last] >= s.est[s.last_last], s.last, s.last_last)
    return jnp.where(t0 <= _explore_until(p, s), jnp.clip(round_robin, 0, k - 1), _ar2_choice(p, s, i_sup, key)[0])


def _ar2_choice(p, s, i_sup, key):
    """The arm after the sweep, and the triggered set it updates."""
    k = p.arms.shape[0]
    t0 = s.t0.astype(float)
    # NaN where an arm is unseen (tau = inf), as in the official code: such an arm never triggers
    span = jnp.sqrt((p.alpha**2 - p.alpha ** (2 * (t0 - s.tau + 1))) / (1 - p.alpha**2))
    newly = (jnp.arange(k) != i_sup) & ~s.triggered & (s.est[i_sup] - s.est <= p.c1 * p.sigma * span)
    triggered = s.triggered | newly
    tau_trig = jnp.where(newly, t0, s.tau_trig)
    earliest = triggered & (tau_trig == jnp.min(jnp.where(triggered, tau_trig, jnp.inf)))
    pick = jax.random.choice(key, k, p=earliest / jnp.maximum(earliest.sum(), 1))
    arm = jnp.where(triggered.any() & (s.t0 % 2 == 1), pick, i_sup)
    return arm, triggered, tau_trig


def _ar2_update(p, s, t, arm, reward):
    k = p.arms.shape[0]
    t0 = s.t0.astype(float)
    explore_until = _explore_until(p, s)
    after_sweep = t0 > explore_until
    # the triggered set the action step computed (act is pure; recompute it the same way)
    i_sup = jnp.where(s.est[s.last] >= s.est[s.last_last], s.last, s.last_last)
    _, triggered, tau_trig = _ar2_choice(p, s, i_sup, jax.random.PRNGKey(0))
    triggered = jnp.where(after_sweep, triggered, s.triggered)
    tau_trig = jnp.where(after_sweep, tau_trig, s.tau_trig)
    tau = s.tau.at[arm].set(t0)
    in_sweep = t0 < explore_until
    sweep_est = s.est.at[arm].set(p.alpha ** (k - t0 + tau[arm] - 1) * reward)
    decayed = (s.est * p.alpha).at[arm].set(p.alpha * reward)
    est = jnp.where(in_sweep, sweep_est, decayed)
    next_epoch = ~in_sweep & (jnp.mod(t0, p.epoch) == 0)
    return AR2State(t0=s.t0 + 1, epoch_index=s.epoch_index + next_epoch.astype(jnp.int32), est=est, tau=tau,
                    tau_trig=tau_trig, triggered=triggered, last=arm, last_last=s.last)


AR2 = core.BanditAgent(name="ar2", init=_ar2_init, act=_ar2_act, update=_ar2_update)
