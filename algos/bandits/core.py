"""The bandit agent interface and the scanned, vmappable run with exact regret."""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from envs import dlb

Params = Any
AgentState = Any


class BanditAgent(NamedTuple):
    name: str
    init: Callable[[Params, jax.Array], AgentState]
    act: Callable[[Params, AgentState, jax.Array, jax.Array], jax.Array]
    update: Callable[[Params, AgentState, jax.Array, jax.Array, jax.Array], AgentState]
    # False: `act` ignores its key, so no key is split per round (a hash less per run-round;
    # the results are the same, as the key never reaches them).
    acts_at_random: bool = True


class RunResult(NamedTuple):
    """Per segment of `horizon / segments` rounds: sums of the exact per-round regrets, [S]."""

    regret: jax.Array  # J* - E[y_t]: the paper's regret, the transient from x0 included
    steady_regret: jax.Array  # <h, u* - u_t>: the official code's measure
    arm_counts: jax.Array  # [K] pulls of each arm


class Carry(NamedTuple):
    agent_state: AgentState
    env_state: object
    key: jax.Array
    arm_counts: jax.Array  # [K]


def start(agent: BanditAgent, params: Params, instance: dlb.DLBInstance, reference_arms: jax.Array,
          env_key: jax.Array, agent_key: jax.Array) -> Carry:
    """The state of a run before its first round. `env_key` alone draws the noise, so runs of
    different agents with the same `env_key` see the same noise (common random numbers)."""
    env = dlb.DynamicalLinearBandit(instance, reference_arms)
    k_init, k_loop = jax.random.split(agent_key)
    return Carry(agent.init(params, k_init), env.reset(env_key), k_loop,
                 jnp.zeros(np.shape(params.arms)[0], jnp.int32))


def advance(agent: BanditAgent, params: Params, instance: dlb.DLBInstance, reference_arms: jax.Array,
            carry: Carry, segments: int, rounds_per_segment: int) -> tuple[Carry, RunResult]:
    """Play `segments * rounds_per_segment` rounds; jit- and vmap-able.

    The agent picks among `params.arms` [K, d]; regret is measured against the best of
    `reference_arms` (the instance's action set: the same array, except for agents such
    as a fixed expert allocation that play outside it). Returns per-segment regret sums.
    """
    env = dlb.DynamicalLinearBandit(instance, reference_arms)
    best = dlb.optimum(instance, reference_arms)
    arms = jnp.asarray(params.arms, float)
    values = arms @ dlb.markov_parameter(instance)

    def round_(c: Carry, _):
        t = c.env_state.inner.t
        key, k_act = jax.random.split(c.key) if agent.acts_at_random else (c.key, c.key)
        arm = agent.act(params, c.agent_state, t, k_act).astype(jnp.int32)
        env_state = env.step(c.env_state, arms[arm])
        state = agent.update(params, c.agent_state, t, arm, env_state.reward)
        regrets = (best.value - env_state.metrics["expected_reward"], best.value - values[arm])
        pulled = (jnp.arange(c.arm_counts.shape[0]) == arm).astype(c.arm_counts.dtype)  # not a scatter under vmap
        return Carry(state, env_state, key, c.arm_counts + pulled), regrets

    def segment(c: Carry, _):
        c, (regret, steady) = jax.lax.scan(round_, c, None, length=rounds_per_segment)
        return c, (regret.sum(), steady.sum())

    carry, (regret, steady) = jax.lax.scan(segment, carry, None, length=segments)
    return carry, RunResult(regret=regret, steady_regret=steady, arm_counts=carry.arm_counts)


def run(agent: BanditAgent, params: Params, instance: dlb.DLBInstance, reference_arms: jax.Array,
        env_key: jax.Array, agent_key: jax.Array, horizon: int, segments: int) -> RunResult:
    """One whole run of `horizon` rounds as per-segment regret sums [segments]; jit/vmap-able.

    Call it under `jax.enable_x64(True)` for float64 sums, as `run_many` does.
    """
    if horizon % segments:
        raise ValueError(f"horizon {horizon} must be a multiple of segments {segments}")
    carry = start(agent, params, instance, reference_arms, env_key, agent_key)
    return advance(agent, params, instance, reference_arms, carry, segments, horizon // segments)[1]


def trajectory(agent: BanditAgent, params: Params, instance: dlb.DLBInstance, reference_arms,
               env_key: jax.Array, agent_key: jax.Array, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The arms [T] an agent pulls and the rewards [T] it sees in one run (float64; for checks)."""
    with jax.enable_x64(True):
        ref = jnp.asarray(reference_arms, float)
        env = dlb.DynamicalLinearBandit(instance, ref)
        arms = jnp.asarray(params.arms, float)

        def round_(c, _):
            state, env_state, key = c
            t = env_state.inner.t
            key, k_act = jax.random.split(key)
            arm = agent.act(params, state, t, k_act).astype(jnp.int32)
            env_state = env.step(env_state, arms[arm])
            return (agent.update(params, state, t, arm, env_state.reward), env_state, key), (arm, env_state.reward)

        @jax.jit
        def go():
            c = start(agent, params, instance, ref, env_key, agent_key)
            return jax.lax.scan(round_, (c.agent_state, c.env_state, c.key), None, length=horizon)[1]

        pulled, rewards = go()
        return np.asarray(pulled), np.asarray(rewards)


def run_many(agent: BanditAgent, params: Params, instance: dlb.DLBInstance, reference_arms, env_keys: jax.Array,
             agent_keys: jax.Array, horizon: int, segments: int, params_batched: bool = False,
             instance_batched: bool = False, chunks: int = 1,
             on_chunk: Callable[[int], None] | None = None) -> RunResult:
    """`run` vmapped over keys [R] (and params/instance leaves [R, ...] where batched), in float64.

    The horizon is played in `chunks` jitted calls (`on_chunk(rounds)` after each, e.g.
    for a progress bar); the result does not depend on `chunks`. Returns NumPy arrays
    with a leading run axis [R, ...].
    """
    if horizon % segments or segments % chunks:
        raise ValueError(f"horizon {horizon} must divide into segments {segments}, and those into chunks {chunks}")
    with jax.enable_x64(True):
        axes = (0 if params_batched else None, 0 if instance_batched else None)
        ref = jnp.asarray(reference_arms, float)
        init = jax.jit(jax.vmap(lambda p, i, ke, ka: start(agent, p, i, ref, ke, ka), in_axes=(*axes, 0, 0)))
        step = jax.jit(jax.vmap(
            lambda p, i, c: advance(agent, p, i, ref, c, segments // chunks, horizon // segments),
            in_axes=(*axes, 0)))
        carry = init(params, instance, env_keys, agent_keys)
        parts = []
        for _ in range(chunks):
            carry, part = step(params, instance, carry)
            parts.append(jax.device_get(part))
            if on_chunk is not None:
                on_chunk(horizon // chunks)
        return RunResult(regret=np.concatenate([p.regret for p in parts], axis=1),
                         steady_regret=np.concatenate([p.steady_regret for p in parts], axis=1),
                         arm_counts=np.asarray(parts[-1].arm_counts))


def cumulative(per_segment: np.ndarray) -> np.ndarray:
    """Cumulative regret at the end of each segment, [..., S] (float64 on the host)."""
    return np.cumsum(np.asarray(per_segment, np.float64), axis=-1)


def block_ends(rho: float, horizon: int, epsilon: float = 1e-6) -> np.ndarray:
    """DynLin-UCB's rounds that end a block (0-indexed), as the official code builds them.

    Block m lasts 1 + floor(log m / log(1/rho)) rounds; the first also holds round 0,
    where the first action is drawn at random. With rho < epsilon every round ends a
    block (LinUCB's schedule).
    """
    rho = abs(rho)
    if rho < epsilon:
        return np.arange(horizon, dtype=np.int64)
    ends, m, total = [], 0, 0
    while total < horizon:
        m += 1
        total += 1 + math.floor(np.log(m) / np.log(1 / rho))
        ends.append(total)
    return np.asarray(ends, np.int64)
