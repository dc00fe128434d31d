"""The on-device replay buffer: flashbax's trajectory buffer over `Transition`s.

Each of the `num_envs` environments writes its own time-ordered ring of
`capacity // num_envs` slots; sampling draws `batch_size` sequences of
`sequence_length` consecutive steps uniformly among those fully written (never
across the write head), which is what n-step returns need. The buffer state is a
pytree: it lives in the training carry, is vmapped over seeds and checkpointed
with everything else.

    buffer = replay.make(capacity=100_000, num_envs=16, batch_size=256, sequence_length=3)
    state = replay.init(buffer, example_transition)      # one unbatched Transition
    state = replay.add(buffer, state, step_batch)        # leaves [num_envs, ...]
    seq = replay.sample(buffer, state, key)              # leaves [batch_size, sequence_length, ...]
"""

from __future__ import annotations

import flashbax
import jax

from envs.rollout import Transition

Buffer = flashbax.buffers.trajectory_buffer.TrajectoryBuffer
BufferState = flashbax.buffers.trajectory_buffer.TrajectoryBufferState


def make(capacity: int, num_envs: int, batch_size: int, sequence_length: int = 1) -> Buffer:
    """A buffer of about `capacity` transitions written by `num_envs` parallel environments."""
    per_env = capacity // num_envs
    if per_env < max(2, sequence_length):
        raise ValueError(
            f"replay capacity {capacity} is too small for {num_envs} environments and sequences of "
            f"{sequence_length}: each environment needs at least {max(2, sequence_length)} slots"
        )
    return flashbax.make_trajectory_buffer(
        add_batch_size=num_envs,
        sample_batch_size=batch_size,
        sample_sequence_length=sequence_length,
        period=1,
        min_length_time_axis=sequence_length,
        max_length_time_axis=per_env,
    )


def storable(transition: Transition) -> Transition:
    """What the buffer keeps of a transition: everything but the episode metrics."""
    return transition.replace(metrics={})


def init(buffer: Buffer, example: Transition) -> BufferState:
    """An empty buffer for transitions shaped like `example` (one unbatched step)."""
    return buffer.init(storable(example))


def add(buffer: Buffer, state: BufferState, batch: Transition) -> BufferState:
    """Append one step from every environment (leaves [num_envs, ...])."""
    return buffer.add(state, jax.tree.map(lambda x: x[:, None], storable(batch)))


def add_trajectory(buffer: Buffer, state: BufferState, traj: Transition) -> BufferState:
    """Append a time-major trajectory (leaves [T, num_envs, ...])."""
    return buffer.add(state, jax.tree.map(lambda x: x.swapaxes(0, 1), storable(traj)))


def sample(buffer: Buffer, state: BufferState, key: jax.Array) -> Transition:
    """Uniform sequences of consecutive steps: leaves [batch_size, sequence_length, ...]."""
    return buffer.sample(state, key).experience


def latest(state: BufferState, per_env: int) -> Transition:
    """The `per_env` most recent steps of every environment: leaves [num_envs * per_env, ...].

    Newest first within each environment. The caller must have written at least
    `per_env` steps per environment (older slots are zeros until then).
    """
    capacity = jax.tree.leaves(state.experience)[0].shape[1]
    if per_env > capacity:
        raise ValueError(f"asked for the latest {per_env} steps per environment; the buffer holds {capacity}")
    index = (state.current_index - 1 - jax.numpy.arange(per_env)) % capacity
    return jax.tree.map(lambda x: x[:, index].reshape(-1, *x.shape[2:]), state.experience)
