"""Episodes as sequences for sequence models and inverse models, and the windows drawn from them.

`Sequences` holds whole episodes of a dataset (`envs.datasets`); `sample_windows` draws a
batch of fixed-length windows from them (uniform over episodes, then over start steps).
World-model training (`worldmodels.training`), AIME's imitation and the BCO baseline all
read their data through these.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Sequences(NamedTuple):
    """Episodes for sequence models.

    obs          [E, T + 1, *obs_shape]
    prev_actions [E, T + 1, A]   the action that led to obs[:, t]; zero at t = 0
    lengths      [E]             valid transitions per episode (obs valid up to index lengths)
    """

    obs: jax.Array
    prev_actions: jax.Array
    lengths: jax.Array


def _observations(dataset) -> jax.Array:
    """States as float32; frames stay uint8 (a quarter of the memory), read as [0, 1] by the model."""
    obs = np.asarray(dataset.obs)
    return jnp.asarray(obs if obs.dtype == np.uint8 else obs.astype(np.float32))


def from_dataset(dataset) -> Sequences:
    """From an `envs.datasets.Dataset` with actions (an embodiment dataset, or oracle demonstrations)."""
    if dataset.actions is None:
        raise ValueError("this dataset has no actions; a world model learns from embodiment data "
                         "(for demonstrations use observations_only)")
    actions = np.asarray(dataset.actions, np.float32)
    prev = np.concatenate([np.zeros_like(actions[:, :1]), actions], axis=1)
    return Sequences(_observations(dataset), jnp.asarray(prev), jnp.asarray(dataset.lengths))


def observations_only(dataset, action_dim: int) -> Sequences:
    """Demonstrations for AIME's phase 2: observations, with zero placeholders for the unknown actions."""
    obs = _observations(dataset)
    return Sequences(obs, jnp.zeros((*obs.shape[:2], action_dim), jnp.float32), jnp.asarray(dataset.lengths))


def sample_windows(data: Sequences, key: jax.Array, batch_size: int, length: int,
                   num_episodes: jax.Array | int | None = None, extras: tuple[jax.Array, ...] = ()):
    """A batch of windows: (obs [L, B, ...], prev_actions [L, B, A], mask [L, B]).

    Windows start anywhere an episode still has `length` observations; in episodes
    shorter than that they start at 0 and `mask` marks the steps past the end.
    `num_episodes` (traced or not) samples only the first episodes (a buffer being
    filled); `extras`, arrays [E, T + 1, ...] aligned with `obs`, are cut into the same
    windows and returned after the mask.
    """
    num_steps = data.obs.shape[1]
    if length > num_steps:
        raise ValueError(f"windows of {length} steps do not fit episodes of {num_steps} observations")
    k_ep, k_start = jax.random.split(key)
    filled = data.obs.shape[0] if num_episodes is None else num_episodes
    episode = jax.random.randint(k_ep, (batch_size,), 0, filled)
    last_start = jnp.maximum(data.lengths[episode] + 1 - length, 0)
    start = jax.random.randint(k_start, (batch_size,), 0, last_start + 1)
    t = start[:, None] + jnp.arange(length)[None, :]                    # [B, L]
    mask = (t <= data.lengths[episode][:, None]).astype(jnp.float32)
    t = jnp.minimum(t, num_steps - 1)
    cut = [jnp.swapaxes(x[episode[:, None], t], 0, 1) for x in (data.obs, data.prev_actions, *extras)]
    return (cut[0], cut[1], mask.T, *cut[2:])
