"""Dynamical Linear Bandits (Mussi, Metelli and Restelli, ICML 2023).

A hidden state x in R^n evolves linearly under the actions u in a finite set U in R^d:

    y_t     = <omega, x_t> + <theta, u_t> + eps_t        (the observed reward)
    x_{t+1} = A x_t + B u_t + eta_t

with Gaussian noises of standard deviations `reward_noise_std` and
`state_noise_std`, and a stable A (spectral radius rho(A) < 1). A constant action u
reaches the steady state x = (I - A)^{-1} B u, where its mean reward is <h, u> with the
cumulative Markov parameter

    h = theta + B^T (I - A)^{-T} omega,

so the optimal policy plays u* = argmax_{u in U} <h, u> and earns J* = <h, u*> per round
(up to the transient from x_0).

`DLBInstance` is a pytree, so thousands of instances `vmap`. Its leaves are float64
NumPy arrays: computations take JAX's default float, float32, or float64 under
`jax.enable_x64(True)`, which `algos.bandits` uses, because sums over a
million rounds lose too much in float32. `DynamicalLinearBandit`
has the project's environment shape (`reset(key)`, `step(state, action)`); its noise at
round t comes from `fold_in(key, t)` only, so every algorithm run from the same key
sees the same noise (common random numbers, as the official code shares its noise
draws across algorithms).

Regret is computed from the instance, not estimated from noisy rewards:
`expected_regret` (the paper's: J* minus the exact expected reward of the realised
action sequence, transient included) and `steady_state_regret` (the official code's
measure: <h, u* - u_t>, no transient).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Environment, EnvSpec, State


class DLBError(ValueError):
    """A bad DLB instance or action; the message says what and why."""


@struct.dataclass
class DLBInstance:
    """One instance. Shapes: A [n, n], B [n, d], theta [d], omega [n], x0 [n], noise stds []."""

    A: jax.Array
    B: jax.Array
    theta: jax.Array
    omega: jax.Array
    x0: jax.Array
    state_noise_std: jax.Array
    reward_noise_std: jax.Array

    @property
    def state_dim(self) -> int:
        return self.A.shape[-1]

    @property
    def action_dim(self) -> int:
        return self.B.shape[-1]


def spectral_radius(A) -> float:
    """max |eigenvalue| of A (host NumPy)."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(A, np.float64))))) if np.size(A) else 0.0


def make_instance(A, B, theta, omega, x0=None, state_noise_std: float = 0.0,
                  reward_noise_std: float = 0.0) -> DLBInstance:
    """A validated instance: shapes must agree and A must be stable (rho(A) < 1)."""
    A, B = np.atleast_2d(np.asarray(A, np.float64)), np.asarray(B, np.float64)
    theta, omega = np.asarray(theta, np.float64), np.asarray(omega, np.float64)
    n = A.shape[0]
    if A.shape != (n, n):
        raise DLBError(f"A must be square [n, n], got shape {A.shape}")
    if B.ndim != 2 or B.shape[0] != n:
        raise DLBError(f"B must be [n, d] = [{n}, d] to match A, got shape {B.shape}")
    d = B.shape[1]
    if theta.shape != (d,):
        raise DLBError(f"theta must be [d] = [{d}] to match B, got shape {theta.shape}")
    if omega.shape != (n,):
        raise DLBError(f"omega must be [n] = [{n}] to match A, got shape {omega.shape}")
    x0 = np.zeros(n) if x0 is None else np.asarray(x0, np.float64)
    if x0.shape != (n,):
        raise DLBError(f"x0 must be [n] = [{n}], got shape {x0.shape}")
    rho = spectral_radius(A)
    if not rho < 1.0:
        raise DLBError(f"A is not stable: its spectral radius is {rho:.6g} >= 1 (the DLB setting needs rho(A) < 1)")
    if state_noise_std < 0 or reward_noise_std < 0:
        raise DLBError("noise standard deviations must be >= 0")
    for name, value in (("A", A), ("B", B), ("theta", theta), ("omega", omega), ("x0", x0)):
        if not np.all(np.isfinite(value)):
            raise DLBError(f"{name} has non-finite entries")
    return DLBInstance(A=A, B=B, theta=theta, omega=omega, x0=x0, state_noise_std=np.float64(state_noise_std),
                       reward_noise_std=np.float64(reward_noise_std))


def from_state_space(A, B, C, D, noise_std: float, x0=None) -> DLBInstance:
    """The official code's system: y = C x + D u + v (m outputs), reward = 1^T y, x' = A x + B u + w.

    Every component of v [m] and w [n] is N(0, noise_std^2), so omega = C^T 1, theta =
    D^T 1 and the reward noise has std noise_std * sqrt(m).
    """
    C, D = np.atleast_2d(np.asarray(C, np.float64)), np.atleast_2d(np.asarray(D, np.float64))
    if C.shape[0] != D.shape[0]:
        raise DLBError(f"C [m, n] and D [m, d] must have the same m, got {C.shape} and {D.shape}")
    return make_instance(A, B, theta=D.sum(axis=0), omega=C.sum(axis=0), x0=x0, state_noise_std=noise_std,
                         reward_noise_std=noise_std * np.sqrt(C.shape[0]))


def random_instance(seed: int, state_dim: int, action_dim: int, rho: float, noise_std: float = 0.1,
                    symmetric: bool = True) -> DLBInstance:
    """A random stable instance whose A has spectral radius exactly `rho` (< 1).

    `symmetric=True`: A = Q diag(s) Q^T with a random orthogonal Q and |s| <= rho, one
    |s_i| = rho, so ||A||_2 = rho as the regret bound assumes. Otherwise a Gaussian
    matrix rescaled to spectral radius rho (||A||_2 may exceed rho). B, theta, omega
    have N(0, 1/n) entries.
    """
    if not 0 <= rho < 1:
        raise DLBError(f"rho must be in [0, 1) for a stable instance, got {rho}")
    rng = np.random.default_rng(seed)
    n, d = state_dim, action_dim
    if symmetric:
        q, _ = np.linalg.qr(rng.normal(size=(n, n)))
        s = rng.uniform(-rho, rho, size=n)
        s[0] = rho
        A = q @ np.diag(s) @ q.T
    else:
        M = rng.normal(size=(n, n))
        A = M * (rho / spectral_radius(M)) if rho > 0 else np.zeros((n, n))
    B = rng.normal(size=(n, d)) / np.sqrt(n)
    return make_instance(A, B, theta=rng.normal(size=d) / np.sqrt(d), omega=rng.normal(size=n) / np.sqrt(n),
                         state_noise_std=noise_std, reward_noise_std=noise_std)


def stack(instances: list[DLBInstance]) -> DLBInstance:
    """Instances of the same shapes as one batched instance (leaves [I, ...]) for `vmap`."""
    return jax.tree.map(lambda *xs: np.stack(xs), *instances)


def budget_arms(action_dim: int = 3, total: float = 1.5, cap: float = 1.0, floor: float = 0.0) -> np.ndarray:
    """The paper's action set: budget allocations over `action_dim` campaigns, [K, d].

    For every order of the campaigns, give each (after `floor` to all) as much of the
    remaining `total` as its `cap` allows; keep the distinct vectors.
    """
    arms = []
    for order in itertools.permutations(range(action_dim)):
        u = np.full(action_dim, floor, np.float64)
        budget = total - action_dim * floor
        for i in order:
            delta = min(budget, cap - u[i])
            u[i] += delta
            budget -= delta
        arms.append(u)
    return np.unique(np.array(arms), axis=0)


def markov_parameter(instance: DLBInstance) -> jax.Array:
    """h = theta + B^T (I - A)^{-T} omega, [d]: the steady-state reward per unit of action."""
    n = instance.A.shape[-1]
    z = jnp.linalg.solve((jnp.eye(n) - instance.A).T, instance.omega)
    return instance.theta + instance.B.T @ z


class Optimum(NamedTuple):
    arm: jax.Array  # [] index into arms
    action: jax.Array  # [d]
    value: jax.Array  # [] J* = <h, u*>


def optimum(instance: DLBInstance, arms: jax.Array) -> Optimum:
    """The optimal constant arm of the set `arms` [K, d] and its steady-state value."""
    values = jnp.asarray(arms) @ markov_parameter(instance)
    best = jnp.argmax(values)
    return Optimum(arm=best, action=jnp.asarray(arms)[best], value=values[best])


def expected_rewards(instance: DLBInstance, actions: jax.Array) -> jax.Array:
    """Exact E[y_t] of an action sequence `actions` [T, d] played from x0, [T]."""

    def step(mean_x, u):
        return instance.A @ mean_x + instance.B @ u, instance.omega @ mean_x + instance.theta @ u

    return jax.lax.scan(step, instance.x0, actions)[1]


def expected_regret(instance: DLBInstance, arms: jax.Array, actions: jax.Array) -> jax.Array:
    """Per-round regret J* - E[y_t] of `actions` [T, d] (the paper's definition), [T]."""
    return optimum(instance, arms).value - expected_rewards(instance, actions)


def steady_state_regret(instance: DLBInstance, arms: jax.Array, actions: jax.Array) -> jax.Array:
    """Per-round <h, u* - u_t>, [T]: the official code's measure (no transient)."""
    h = markov_parameter(instance)
    return optimum(instance, arms).value - actions @ h


def round_noise(instance: DLBInstance, key: jax.Array, t: jax.Array, dtype=float) -> tuple[jax.Array, jax.Array]:
    """The reward noise [] and state noise [n] of round t: a function of (key, t) only."""
    n = np.shape(instance.A)[-1]
    z = jax.random.normal(jax.random.fold_in(key, t), (n + 1,), dtype)  # one draw: fewer hashes per round
    return instance.reward_noise_std * z[0], instance.state_noise_std * z[1:]


def noise_sequence(instance: DLBInstance, key: jax.Array, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The noises a `DynamicalLinearBandit` reset with `key` draws: reward [T], state [T, n] (float64)."""
    with jax.enable_x64(True):
        eps, eta = jax.jit(jax.vmap(lambda t: round_noise(instance, key, t)))(jnp.arange(horizon, dtype=jnp.int32))
        return np.asarray(eps), np.asarray(eta)


@struct.dataclass
class Hidden:
    x: jax.Array  # [n] the hidden state
    mean_x: jax.Array  # [n] its expectation given the actions so far (for the exact regret)
    t: jax.Array  # [] rounds played
    noise_key: jax.Array


class DynamicalLinearBandit(Environment):
    """The DLB as an environment: `reset(key)`, `step(state, u)`; the reward is `state.reward`.

    `state.metrics["expected_reward"]` is the exact E[y_t] given the actions so far.
    Concrete (non-traced) actions are checked against the arm set; inside `jit` the
    agents choose arms by index and cannot leave it.
    """

    def __init__(self, instance: DLBInstance, arms, horizon: int = 1_000_000):
        self.instance = instance
        self.arms = jnp.asarray(arms, float)
        if self.arms.ndim != 2 or self.arms.shape[1] != instance.B.shape[-1]:
            raise DLBError(f"arms must be [K, d] with d = {instance.B.shape[-1]} (B's columns), "
                           f"got shape {self.arms.shape}")
        self.horizon = horizon

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(name="DynamicalLinearBandit", obs_shape=(0,), action_shape=(self.arms.shape[1],),
                       action_low=float(np.min(self.arms)), action_high=float(np.max(self.arms)),
                       episode_length=self.horizon, action_repeat=1, control_dt=1.0)

    def reset(self, key: jax.Array) -> State:
        zero = jnp.zeros(())
        x0 = jnp.asarray(self.instance.x0, float)
        hidden = Hidden(x=x0, mean_x=x0, t=jnp.zeros((), jnp.int32), noise_key=key)
        return State(inner=hidden, obs=jnp.zeros((0,)), reward=zero, done=zero, truncated=zero,
                     metrics={"expected_reward": zero})

    def step(self, state: State, action: jax.Array) -> State:
        u = jnp.asarray(action, float)
        if u.shape != (self.arms.shape[1],):
            raise DLBError(f"action must have shape ({self.arms.shape[1]},), got {u.shape}")
        if not isinstance(u, jax.core.Tracer) and not isinstance(self.arms, jax.core.Tracer):
            distance = float(jnp.min(jnp.abs(self.arms - u).max(axis=1)))
            if distance > 1e-6:
                raise DLBError(f"action {np.asarray(u).tolist()} is not in the action set; "
                               f"the arms are {np.asarray(self.arms).tolist()}")
        inst, h = self.instance, state.inner
        eps, eta = round_noise(inst, h.noise_key, h.t, h.x.dtype)
        reward = inst.omega @ h.x + inst.theta @ u + eps
        expected = inst.omega @ h.mean_x + inst.theta @ u
        hidden = Hidden(x=inst.A @ h.x + inst.B @ u + eta, mean_x=inst.A @ h.mean_x + inst.B @ u, t=h.t + 1,
                        noise_key=h.noise_key)
        return state.replace(inner=hidden, reward=reward, metrics={"expected_reward": expected})


@struct.dataclass
class HeldTransitions:
    """A DLB's exact transitions over l = 0..L rounds of one held action, each [L + 1, n, n]:
    `power[l]` = A^l, `sum_powers[l]` = P_l = sum_{k<l} A^k, `sum_sums[l]` = sum_{k<l} P_k, and
    `noise_root[l]` R_l with R_l R_l^T = sum_{k<l} A^k A^kT (the state noise over l rounds, per unit std)."""

    power: jax.Array
    sum_powers: jax.Array
    sum_sums: jax.Array
    noise_root: jax.Array


def held_transitions(instance: DLBInstance, max_rounds: int) -> HeldTransitions:
    """`HeldTransitions` for holds of up to `max_rounds` rounds; jit- and vmap-able over instances."""
    A = jnp.asarray(instance.A)
    n = A.shape[-1]
    eye = jnp.eye(n, dtype=A.dtype)

    def step(c, _):
        power, sum_powers, sum_sums, cov = c
        nxt = (A @ power, sum_powers + power, sum_sums + sum_powers, cov + power @ power.T)
        return nxt, c

    _, (power, sum_powers, sum_sums, cov) = jax.lax.scan(
        step, (eye, 0 * eye, 0 * eye, 0 * eye), None, length=max_rounds + 1)
    # cov_l >= I for l >= 1, so its Cholesky factor exists; cov_0 = 0 gets a zero root.
    safe = jnp.where(jnp.arange(max_rounds + 1)[:, None, None] == 0, eye, cov)
    root = jnp.linalg.cholesky(safe) * (jnp.arange(max_rounds + 1) > 0)[:, None, None]
    return HeldTransitions(power=power, sum_powers=sum_powers, sum_sums=sum_sums, noise_root=root)


@struct.dataclass
class HeldState:
    """A DLB between holds, for simulating whole holds of one action at once (`hold`)."""

    m: jax.Array  # [n] the next round's state without that round's incoming noise: x_t - eta_{t-1}
    mean_x: jax.Array  # [n] E[x_t] given the actions so far
    noise_key: jax.Array


def held_reset(instance: DLBInstance, key: jax.Array) -> HeldState:
    x0 = jnp.asarray(instance.x0, float)
    return HeldState(m=x0, mean_x=x0, noise_key=key)


def held_noise(instance: DLBInstance, state: HeldState, first_round: jax.Array, holds: int) -> jax.Array:
    """Standard normals [holds, n + 1] for `holds` consecutive holds from round `first_round`, in one draw.

    A function of (key, first_round) only. Drawn in float32 (then widened): the noise needs no more
    precision, and float32 normals cost half as much as float64 ones on a CPU.
    """
    n = np.shape(instance.A)[-1]
    z = jax.random.normal(jax.random.fold_in(state.noise_key, first_round), (holds, n + 1), jnp.float32)
    return z.astype(state.m.dtype)


def hold(instance: DLBInstance, tables: HeldTransitions, state: HeldState, u: jax.Array, first_round: jax.Array,
         rounds: jax.Array, noise: jax.Array) -> tuple[HeldState, jax.Array, jax.Array]:
    """Play the action u [d] for `rounds` (>= 0) rounds from round `first_round` at once, exactly in distribution.

    Only the last round's reward is drawn, with the state at that round: x_{t1} = A^(l-1) m + P_(l-1) B u
    + (the l state noises since the last draw, one Gaussian of covariance sigma^2 sum_{k<l} A^k A^kT; l - 1
    of them in the first hold, as x_0 has none). The expected rewards of every round of the hold are
    summed in closed form: sum_t E[y_t] = <omega, P_l E[x_t0] + Q_l B u> + l <theta, u>.
    Returns (state after the hold, the last round's reward [], the hold's sum of expected rewards []).
    A hold of 0 rounds changes nothing. `noise` [n + 1]: standard normals (a row of `held_noise`);
    they are not the per-round simulation's (`DynamicalLinearBandit`), only of the same distribution.
    The rounds are arguments, not state, so that runs which share a schedule index the tables once,
    not once per run.
    """
    inst = instance
    rounds = jnp.asarray(rounds, jnp.int32)
    last = jnp.maximum(rounds - 1, 0)
    Bu = inst.B @ u
    z = noise
    noise_terms = rounds - (first_round == 0).astype(jnp.int32)  # x_0 carries no incoming noise
    x_last = (tables.power[last] @ state.m + tables.sum_powers[last] @ Bu
              + inst.state_noise_std * tables.noise_root[jnp.maximum(noise_terms, 0)] @ z[1:])
    reward = inst.omega @ x_last + inst.theta @ u + inst.reward_noise_std * z[0]
    expected_sum = (inst.omega @ (tables.sum_powers[rounds] @ state.mean_x + tables.sum_sums[rounds] @ Bu)
                    + rounds * (inst.theta @ u))
    played = rounds > 0
    new = HeldState(m=jnp.where(played, inst.A @ x_last + Bu, state.m),
                    mean_x=tables.power[rounds] @ state.mean_x + tables.sum_powers[rounds] @ Bu,
                    noise_key=state.noise_key)
    return new, reward, expected_sum
