"""Running mean and variance of a stream of arrays, as pure functions over a pytree.

Batches are merged with Chan et al.'s parallel update, which is exact (up to float32
rounding) for any batch sizes, so statistics pooled over a batch of vmapped
environments equal those of the flattened stream.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RunningStats:
    """count: number of samples seen, shape (); mean, m2: shape `feature_shape`.

    `m2` is the sum of squared deviations from the mean, so var = m2 / count.
    """

    count: jax.Array
    mean: jax.Array
    m2: jax.Array

    @property
    def var(self) -> jax.Array:
        return self.m2 / jnp.maximum(self.count, 1.0)

    @property
    def std(self) -> jax.Array:
        return jnp.sqrt(self.var)


def init(feature_shape: tuple[int, ...]) -> RunningStats:
    zeros = jnp.zeros(feature_shape, jnp.float32)
    return RunningStats(count=jnp.zeros((), jnp.float32), mean=zeros, m2=zeros)


def update(stats: RunningStats, x: jax.Array) -> RunningStats:
    """Fold in `x` of shape (*batch, *feature_shape); all leading axes are samples."""
    feature_ndim = stats.mean.ndim
    x = jnp.asarray(x, jnp.float32).reshape((-1, *x.shape[x.ndim - feature_ndim :]))
    n_b = jnp.asarray(x.shape[0], jnp.float32)
    mean_b = x.mean(axis=0)
    m2_b = ((x - mean_b) ** 2).sum(axis=0)
    total = stats.count + n_b
    delta = mean_b - stats.mean
    mean = stats.mean + delta * (n_b / total)
    m2 = stats.m2 + m2_b + delta**2 * (stats.count * n_b / total)
    return RunningStats(count=total, mean=mean, m2=m2)


def normalize(stats: RunningStats, x: jax.Array, clip: float | None = 10.0, eps: float = 1e-6) -> jax.Array:
    """(x - mean) / std, with std floored at `eps` for constant features, then clipped."""
    z = (x - stats.mean) / jnp.maximum(stats.std, eps)
    if clip is not None:
        z = jnp.clip(z, -clip, clip)
    return z


def denormalize(stats: RunningStats, z: jax.Array, eps: float = 1e-6) -> jax.Array:
    return z * jnp.maximum(stats.std, eps) + stats.mean
