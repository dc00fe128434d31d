"""Categorical value distributions over a fixed support (C51: Bellemare, Dabney and Munos, 2017).

A critic with `num_atoms` outputs gives the logits of a distribution over the atoms
`z = linspace(v_min, v_max, num_atoms)`. Its Bellman target moves every atom to
`r + discount * (z + bonus)` and projects the result back onto `z`: each moved atom's
probability is split between its two neighbouring atoms in proportion to closeness,
and atoms outside `[v_min, v_max]` land on the end atoms. FastTD3 (Seo et al., 2025)
trains its critics this way at thousands of environments; the clipped double-Q of its
code takes, sample by sample, the target critic whose distribution has the lower mean.

    z = support(-10.0, 110.0, 101)
    target = project(reward[:, None] + discount[:, None] * z, probs, z)   # [B, N], rows sum to 1
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def support(v_min: float, v_max: float, num_atoms: int) -> jax.Array:
    """The atoms [num_atoms], evenly spaced from `v_min` to `v_max`."""
    if num_atoms < 2 or not v_max > v_min:
        raise ValueError(f"a support needs num_atoms >= 2 and v_max > v_min; got {num_atoms}, [{v_min}, {v_max}]")
    return jnp.linspace(v_min, v_max, num_atoms)


def project(atoms: jax.Array, probs: jax.Array, z: jax.Array) -> jax.Array:
    """Project probabilities `probs` [.., N] sitting at `atoms` [.., N] onto the support `z` [N].

    Written as a triangular kernel, `out_i = sum_j probs_j * max(0, 1 - |b_j - i|)` with
    `b_j` the clipped atom's position in units of the spacing: the same split as C51's
    floor/ceil scatter (an atom exactly on a support point gives it all its mass), and a
    matrix product an accelerator does well rather than a scatter. Mass is kept, and so
    is the mean wherever the atoms fall inside the support.
    """
    chex.assert_equal_shape([atoms, probs])
    chex.assert_axis_dimension(atoms, -1, z.shape[0])
    delta = (z[-1] - z[0]) / (z.shape[0] - 1)
    position = (jnp.clip(atoms, z[0], z[-1]) - z[0]) / delta  # [.., N], in [0, N - 1]
    kernel = jnp.maximum(0.0, 1.0 - jnp.abs(position[..., :, None] - jnp.arange(z.shape[0])))  # [.., N_j, N_i]
    return jnp.einsum("...j,...ji->...i", probs, kernel)


def mean(logits: jax.Array, z: jax.Array) -> jax.Array:
    """The expected value of the distribution with `logits` [.., N] over `z` [N]: [..]."""
    return jax.nn.softmax(logits, axis=-1) @ z


def cross_entropy(logits: jax.Array, target_probs: jax.Array) -> jax.Array:
    """-sum_i target_i log softmax(logits)_i over the last axis: [..]."""
    return -jnp.sum(target_probs * jax.nn.log_softmax(logits, axis=-1), axis=-1)
