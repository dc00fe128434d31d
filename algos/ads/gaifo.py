"""GAIfO (Torabi et al., 2018), ADS's adversarial baseline: a discriminator on (s, s') pairs.

D(s, s') is an MLP logit trained with the binary cross-entropy to tell the
demonstrations' transitions (label 1) from the agent's (label 0), plus the gradient
penalty of the ADS code (weight 10 on (|grad D| - 1)^2 at random interpolations of an
expert and an agent input). The agent's reward for a transition is
log D - log(1 - D), which is the logit itself.

The ADS code feeds the discriminator one observation (passed through the critic's
trunk) rather than a transition; `input="observation"` gives that variant.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from algos.common import networks, optim

GRADIENT_PENALTY = 10.0


class Discriminator(NamedTuple):
    params: Any
    opt_state: Any


def _net(hidden_sizes: tuple[int, ...]) -> networks.MLP:
    return networks.MLP(tuple(hidden_sizes), 1, "relu")


def features(obs: jax.Array, next_obs: jax.Array, input: str) -> jax.Array:
    """The discriminator's input: [s, s'] ("transition") or s' alone ("observation")."""
    if input == "transition":
        return jnp.concatenate([obs, next_obs], axis=-1)
    if input == "observation":
        return next_obs
    raise ValueError(f"GAIfO input must be 'transition' or 'observation', got {input!r}")


def init(key: jax.Array, input_dim: int, hidden_sizes: tuple[int, ...]) -> Discriminator:
    params = _net(hidden_sizes).init(key, jnp.zeros((input_dim,), jnp.float32))
    return Discriminator(params=params, opt_state=optim.adam().init(params))


def logit(params, x: jax.Array, hidden_sizes: tuple[int, ...]) -> jax.Array:
    """[..., input_dim] -> [...]: the discriminator's logit, which is also the reward."""
    return _net(hidden_sizes).apply(params, x)[..., 0]


def loss(params, expert: jax.Array, agent: jax.Array, key: jax.Array, hidden_sizes: tuple[int, ...],
         penalty: float = GRADIENT_PENALTY) -> tuple[jax.Array, dict]:
    """BCE (expert 1, agent 0) plus the gradient penalty; `expert`, `agent` [B, input_dim]."""
    d = lambda x: logit(params, x, hidden_sizes)  # noqa: E731
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(d(expert), 1.0)) + jnp.mean(
        optax.sigmoid_binary_cross_entropy(d(agent), 0.0))
    mix = jax.random.uniform(key, (expert.shape[0], 1))
    mixed = mix * expert + (1.0 - mix) * agent
    grads = jax.vmap(jax.grad(lambda x: logit(params, x, hidden_sizes)))(mixed)
    gp = penalty * jnp.mean((jnp.linalg.norm(grads, axis=-1) - 1.0) ** 2)
    return bce + gp, {"disc_loss": bce, "disc_grad_penalty": gp}


def update(disc: Discriminator, expert: jax.Array, agent: jax.Array, key: jax.Array, hidden_sizes: tuple[int, ...],
           lr: jax.Array) -> tuple[Discriminator, dict]:
    grads, info = jax.grad(loss, has_aux=True)(disc.params, expert, agent, key, hidden_sizes)
    params, opt_state = optim.gradient_step(optim.adam(), disc.params, disc.opt_state, grads, lr)
    return Discriminator(params=params, opt_state=opt_state), info
