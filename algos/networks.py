"""Networks shared by every agent (flax.linen)."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "tanh": nn.tanh,
    "elu": nn.elu,
    "silu": nn.silu,
    "gelu": nn.gelu,
}


class MLP(nn.Module):
    """Dense layers with an activation between them; the last layer is linear.

    `hidden_sizes` are the widths of the hidden layers, `out_dim` that of the output.
    Orthogonal initialisation (scale sqrt(2) hidden, `out_scale` last) as in
    PPO implementations; `layer_norm` adds LayerNorm after each hidden layer.
    """

    hidden_sizes: Sequence[int]
    out_dim: int
    activation: str = "tanh"
    out_scale: float = 1.0
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for width in self.hidden_sizes:
            x = nn.Dense(width, kernel_init=nn.initializers.orthogonal(jnp.sqrt(2.0)))(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = act(x)
        return nn.Dense(self.out_dim, kernel_init=nn.initializers.orthogonal(self.out_scale))(x)


class GaussianActorCritic(nn.Module):
    """Separate actor and critic MLPs; a diagonal Gaussian with state-independent log-std.

    Returns `(mean [.., A], log_std [A], value [..])`.
    """

    action_dim: int
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        mean = MLP(self.hidden_sizes, self.action_dim, self.activation, out_scale=0.01, name="actor")(obs)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,))
        value = MLP(self.hidden_sizes, 1, self.activation, out_scale=1.0, name="critic")(obs)
        return mean, log_std, value[..., 0]


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, x: jax.Array) -> jax.Array:
    """Log-density of a diagonal Gaussian, summed over the last axis."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    return jnp.sum(log_std + 0.5 * jnp.log(2.0 * jnp.pi * jnp.e), axis=-1)
