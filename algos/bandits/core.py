"""The bandit agent interface and the scanned, vmappable run with exact regret."""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import chex
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
    # For agents that hold their arm between known rounds (DynLin-UCB's block ends): params -> the
    # rounds [M] after which the arm may change (host NumPy; entries >= the horizon are padding).
    # `run_many(simulate="holds")` then plays each hold at once (`dlb.hold`). None: any round.
    decision_rounds: Callable[[Params], np.ndarray] | None = None


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


class HoldSchedule(NamedTuple):
    """The holds of a run, by chunk and group: `lengths` [C, N, G] rounds per hold (0: padding) and
    `segment` [C, N], the chunk-local segment each group of G holds lies in."""

    lengths: np.ndarray
    segment: np.ndarray


def hold_schedule(decision_rounds: np.ndarray, horizon: int, segments: int, chunks: int = 1,
                  group: int | None = None) -> HoldSchedule:
    """The holds that play `horizon` rounds: one ends at each decision round and at each segment's last
    round, so that every segment's regret is a sum over whole holds. Each segment's holds are padded
    to whole groups of `group` (default: a power of two up to 64 near the median holds per segment,
    so that padding stays small), and each chunk to the same number of groups.
    """
    if horizon % segments or segments % chunks:
        raise ValueError(f"horizon {horizon} must divide into segments {segments}, and those into chunks {chunks}")
    per = horizon // segments
    rounds = np.asarray(decision_rounds, np.int64)
    ends = np.union1d(rounds[(rounds >= 0) & (rounds < horizon)], np.arange(1, segments + 1) * per - 1)
    lengths = np.diff(ends, prepend=-1)
    which = ends // per
    counts = np.bincount(which, minlength=segments)
    if group is None:
        group = int(2 ** np.floor(np.log2(max(1.0, min(64.0, float(np.median(counts)))))))
    groups = -(-counts // group)  # per segment
    rows = [np.pad(lengths[which == k], (0, groups[k] * group - counts[k])).reshape(-1, group)
            for k in range(segments)]
    per_chunk = segments // chunks
    width = max(groups.reshape(chunks, per_chunk).sum(1))
    out = np.zeros((chunks, width, group), np.int32)
    seg = np.full((chunks, width), per_chunk - 1, np.int32)  # padding groups (all zeros) count nowhere
    for j in range(chunks):
        block = np.concatenate(rows[j * per_chunk:(j + 1) * per_chunk])
        out[j, :len(block)] = block
        seg[j, :len(block)] = np.repeat(np.arange(per_chunk), groups[j * per_chunk:(j + 1) * per_chunk])
    return HoldSchedule(lengths=out, segment=seg)


def advance_holds(agent: BanditAgent, params: Params, instance: dlb.DLBInstance, reference_arms: jax.Array,
                  carry: Carry, lengths: jax.Array, segment: jax.Array, first_round: jax.Array,
                  segments: int, max_hold: int) -> tuple[Carry, RunResult]:
    """`advance` for an agent with `decision_rounds`, one hold at a time from round `first_round`:
    one chunk of a `hold_schedule` (`lengths` [N, G], `segment` [N]; holds <= `max_hold` rounds),
    summed into `segments` per-segment regrets; `carry.env_state` is a `dlb.HeldState`.

    The same algorithm on the same instance, exactly in distribution (its rewards are drawn only
    where the agent reads them, at a hold's last round), and the exact regrets of the arms it
    plays; not the same random numbers as `advance`. The noise of a group of holds is one draw.
    """
    chex.assert_rank(lengths, 2)
    chex.assert_shape(segment, lengths.shape[:1])
    tables = dlb.held_transitions(instance, max_hold)
    best = dlb.optimum(instance, reference_arms)
    arms = jnp.asarray(params.arms, float)
    values = arms @ dlb.markov_parameter(instance)

    def one_hold(c: Carry, hold):
        t0, rounds, noise = hold
        key, k_act = jax.random.split(c.key) if agent.acts_at_random else (c.key, c.key)
        arm = agent.act(params, c.agent_state, t0, k_act).astype(jnp.int32)
        env_state, reward, expected = dlb.hold(instance, tables, c.env_state, arms[arm], t0, rounds, noise)
        state = agent.update(params, c.agent_state, t0 + jnp.maximum(rounds - 1, 0), arm, reward)
        state = jax.tree.map(lambda a, b: jnp.where(rounds > 0, a, b), state, c.agent_state)  # padding: no-op
        regrets = (rounds * best.value - expected, rounds * (best.value - values[arm]))
        pulled = rounds * (jnp.arange(c.arm_counts.shape[0]) == arm).astype(c.arm_counts.dtype)
        return Carry(state, env_state, key, c.arm_counts + pulled), regrets

    def one_group(c: Carry, holds):
        first, rounds = holds
        noise = dlb.held_noise(instance, c.env_state, first[0], rounds.shape[0])
        c, (regret, steady) = jax.lax.scan(one_hold, c, (first, rounds, noise))
        return c, (regret.sum(), steady.sum())

    first = jnp.cumsum(lengths.reshape(-1)).reshape(lengths.shape) - lengths + first_round
    carry, (regret, steady) = jax.lax.scan(one_group, carry, (first, lengths))
    per_segment = lambda x: jax.ops.segment_sum(x, segment, num_segments=segments)  # noqa: E731
    return carry, RunResult(regret=per_segment(regret), steady_regret=per_segment(steady),
                            arm_counts=carry.arm_counts)


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
             on_chunk: Callable[[int], None] | None = None, simulate: str = "rounds") -> RunResult:
    """`run` vmapped over keys [R] (and params/instance leaves [R, ...] where batched), in float64.

    The horizon is played in `chunks` jitted calls (`on_chunk(rounds)` after each, e.g.
    for a progress bar); the result does not depend on `chunks`. Returns NumPy arrays
    with a leading run axis [R, ...]. `simulate="holds"` (agents with `decision_rounds` only)
    plays each of the agent's holds at once (`advance_holds`): the same distribution of
    results, other random numbers, and far fewer steps for DynLin-UCB. Its random numbers are drawn
    per group of holds, so a run's results under holds also depend on the runs batched with it
    (batched params share one group size); under rounds they do not.
    """
    if horizon % segments or segments % chunks:
        raise ValueError(f"horizon {horizon} must divide into segments {segments}, and those into chunks {chunks}")
    if simulate not in ("rounds", "holds"):
        raise ValueError(f"simulate must be 'rounds' or 'holds', got {simulate!r}")
    if simulate == "holds" and agent.decision_rounds is None:
        raise ValueError(f"agent {agent.name!r} has no decision_rounds, so it cannot be simulated by holds")
    with jax.enable_x64(True):
        axes = (0 if params_batched else None, 0 if instance_batched else None)
        ref = jnp.asarray(reference_arms, float)
        if simulate == "holds":
            schedule = _schedules(agent, params, params_batched, len(env_keys), horizon, segments, chunks)
            max_hold = int(schedule.lengths.max())
            step = lambda p, i, c, s: _advance_holds_many(  # noqa: E731
                agent, axes, params_batched, segments // chunks, max_hold, p, i, ref, c, s)
            chunk_rounds = horizon // chunks
            schedules = [(schedule.lengths[..., j, :, :], schedule.segment[..., j, :],
                          np.full(schedule.segment.shape[:-2], j * chunk_rounds, np.int32)) for j in range(chunks)]
        else:
            step = lambda p, i, c, _: _advance_many(  # noqa: E731
                agent, axes, segments // chunks, horizon // segments, p, i, ref, c)
            schedules = [None] * chunks
        carry = _start_many(agent, axes, simulate == "holds", params, instance, ref, env_keys, agent_keys)
        parts = []
        for chunk_schedule in schedules:
            carry, part = step(params, instance, carry, chunk_schedule)
            parts.append(jax.device_get(part))
            if on_chunk is not None:
                on_chunk(horizon // chunks)
        return RunResult(regret=np.concatenate([p.regret for p in parts], axis=1),
                         steady_regret=np.concatenate([p.steady_regret for p in parts], axis=1),
                         arm_counts=np.asarray(parts[-1].arm_counts))


# `run_many`'s jitted steps live at module level, with the agent and the shapes static, so that a
# second call of the same agent on arrays of the same shapes (another instance, seed or horizon
# split alike) reuses the compiled code instead of compiling it again.
#
# XLA:CPU hands some elementwise fusions and small dots to its YNNPACK backend by default. On these
# programs (thousands of runs, each a few 3x3 products per step) those kernels are slower than XLA's
# own: without them DynLin-UCB simulated by holds at 10,000 runs took 1.18x less time on our 2-core CPU
# (`experiments/benchmarks/bandit_throughput.py`), with the same regrets bit for bit
# (`tests/test_bandits.py`). The option applies to these functions alone.
_XLA_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}
_jit = functools.partial(jax.jit, compiler_options=_XLA_OPTIONS)
@functools.partial(_jit, static_argnums=(0, 1, 2))
def _start_many(agent: BanditAgent, axes: tuple, held: bool, params, instance, ref, env_keys, agent_keys) -> Carry:
    def one(p, i, ke, ka):
        c = start(agent, p, i, ref, ke, ka)
        return c._replace(env_state=dlb.held_reset(i, ke)) if held else c
    return jax.vmap(one, in_axes=(*axes, 0, 0))(params, instance, env_keys, agent_keys)


@functools.partial(_jit, static_argnums=(0, 1, 2, 3))
def _advance_many(agent: BanditAgent, axes: tuple, segments: int, rounds_per_segment: int, params, instance, ref,
                  carry: Carry) -> tuple[Carry, RunResult]:
    return jax.vmap(lambda p, i, c: advance(agent, p, i, ref, c, segments, rounds_per_segment),
                    in_axes=(*axes, 0))(params, instance, carry)


@functools.partial(_jit, static_argnums=(0, 1, 2, 3, 4))
def _advance_holds_many(agent: BanditAgent, axes: tuple, params_batched: bool, segments: int, max_hold: int,
                        params, instance, ref, carry: Carry, schedule) -> tuple[Carry, RunResult]:
    return jax.vmap(lambda p, i, c, s: advance_holds(agent, p, i, ref, c, *s, segments, max_hold),
                    in_axes=(*axes, 0, 0 if params_batched else None))(params, instance, carry, schedule)


def _schedules(agent: BanditAgent, params: Params, params_batched: bool, runs: int, horizon: int,
               segments: int, chunks: int) -> HoldSchedule:
    """`hold_schedule` of the params: shared, or per run ([R, ...], one group size, padded alike) if batched."""
    if not params_batched:
        return hold_schedule(agent.decision_rounds(params), horizon, segments, chunks)
    decisions = [agent.decision_rounds(jax.tree.map(lambda x: np.asarray(x)[r], params)) for r in range(runs)]
    size = min(hold_schedule(d, horizon, segments, chunks).lengths.shape[-1] for d in decisions)
    rows = [hold_schedule(d, horizon, segments, chunks, size) for d in decisions]
    width = max(r.segment.shape[-1] for r in rows)
    pad = lambda r: HoldSchedule(  # noqa: E731
        np.pad(r.lengths, ((0, 0), (0, width - r.segment.shape[-1]), (0, 0))),
        np.pad(r.segment, ((0, 0), (0, width - r.segment.shape[-1])), constant_values=segments // chunks - 1))
    return jax.tree.map(lambda *xs: np.stack(xs), *[pad(r) for r in rows])


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
