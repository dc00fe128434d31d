"""Weight initialisers that XLA:CPU can run under `vmap` on a 2-core machine without hanging.

They live here, below `algos`, because the world model's GRU needs one as much as the agents'
networks do (`algos.common.networks` re-exports them).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp


def householder_q(z: jax.Array) -> jax.Array:
    """The Q [n, m] of z = QR (z [n, m], n >= m) with R's diagonal positive, by Householder reflections.

    Written with matrix-vector products only. XLA:CPU runs `jnp.linalg.qr` as a LAPACK
    kernel that splits a batch of matrices over the intra-op thread pool and waits for
    it; two such kernels running at once (the layers of a vmapped initialisation) each
    hold one of a 2-core machine's two pool threads while waiting for the other, and the
    process hangs for good (a native backtrace of a hung launcher run, 2026-11-26: both
    pool threads in `lapack_sgeqrf_ffi` -> `ParallelBatchMap` -> `BlockingCounter::Wait`).
    Q with a positive R diagonal is unique, so this gives what `jax.random.orthogonal`
    gives from the same z, up to rounding.
    """
    n, m = z.shape
    rows = jnp.arange(n)

    def reflect(k, carry):
        r, vs = carry
        x = jnp.where(rows >= k, r[:, k], 0.0)
        alpha = -jnp.where(r[k, k] >= 0, 1.0, -1.0) * jnp.linalg.norm(x)
        v = x.at[k].add(-alpha)
        v = v / jnp.maximum(jnp.linalg.norm(v), jnp.finfo(z.dtype).tiny)
        return r - 2.0 * jnp.outer(v, v @ r), vs.at[:, k].set(v)

    r, vs = jax.lax.fori_loop(0, m, reflect, (z, jnp.zeros_like(z)))

    def accumulate(i, q):  # Q = H_0 H_1 ... H_{m-1} I[:, :m], applied from the right end
        v = vs[:, m - 1 - i]
        return q - 2.0 * jnp.outer(v, v @ q)

    q = jax.lax.fori_loop(0, m, accumulate, jnp.eye(n, m, dtype=z.dtype))
    return q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0).astype(z.dtype)


def orthogonal(scale: float = 1.0, column_axis: int = -1) -> Callable:
    """`jax.nn.initializers.orthogonal` without LAPACK (see `householder_q`): same distribution and,
    for the same key, the same matrix up to rounding."""

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        if len(shape) < 2:
            raise ValueError(f"orthogonal initialisation needs at least 2 dimensions, got shape {tuple(shape)}")
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        z = jax.random.normal(key, (max(n_rows, n_cols), min(n_rows, n_cols)), dtype)
        q = householder_q(z)
        q = q.T if n_rows < n_cols else q
        rest = tuple(d for i, d in enumerate(shape) if i != column_axis % len(shape))
        q = jnp.moveaxis(q.reshape(rest + (n_cols,)), -1, column_axis)
        return jnp.asarray(scale, dtype) * q

    return init
