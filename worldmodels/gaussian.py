"""Diagonal Gaussians as plain (mean, std) pairs, and the closed-form KL between two."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Normal(NamedTuple):
    """A diagonal Gaussian; `mean` and `std` have the same shape [..., D]."""

    mean: jax.Array
    std: jax.Array

    def sample(self, key: jax.Array) -> jax.Array:
        return self.mean + self.std * jax.random.normal(key, self.mean.shape)

    def log_prob(self, x: jax.Array) -> jax.Array:
        """Per-dimension log-density [..., D] (not summed)."""
        z = (x - self.mean) / self.std
        return -0.5 * z**2 - jnp.log(self.std) - 0.5 * jnp.log(2.0 * jnp.pi)


def kl(p: Normal, q: Normal) -> jax.Array:
    """KL(p || q) per dimension [..., D]:
    log(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2."""
    return (jnp.log(q.std) - jnp.log(p.std)
            + (p.std**2 + (p.mean - q.mean) ** 2) / (2.0 * q.std**2) - 0.5)


def stop_gradient(p: Normal) -> Normal:
    return Normal(jax.lax.stop_gradient(p.mean), jax.lax.stop_gradient(p.std))


def balanced_kl(posterior: Normal, prior: Normal, balance: float | None) -> jax.Array:
    """The KL term the model trains on, per dimension.

    `balance=None`: the plain KL(posterior || prior). A float b (DreamerV2's KL
    balancing, AIME's `kl_rebalance`): b KL(sg(post) || prior) + (1 - b) KL(post || sg(prior)),
    equal in value to the plain KL, but the prior moves towards the posterior b/(1-b)
    times faster than the reverse.
    """
    if balance is None:
        return kl(posterior, prior)
    return (balance * kl(stop_gradient(posterior), prior)
            + (1.0 - balance) * kl(posterior, stop_gradient(prior)))
