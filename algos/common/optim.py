"""Optimisers whose learning rate is a traced value, and target-network updates.

The learning rate is not baked into the optax chain: `gradient_step` multiplies
Adam's direction by a learning rate held in the agent's hyperparameters, so one
compiled program can train a vmapped grid of learning rates.
"""

from __future__ import annotations

import jax
import optax


def adam(max_grad_norm: float | None = None, eps: float = 1e-8, weight_decay: float = 0.0
         ) -> optax.GradientTransformation:
    """Adam with unit step size (and optional global-norm clipping): pair it with `gradient_step`.

    `weight_decay` > 0 adds `weight_decay * params` to Adam's direction, so that `gradient_step`
    takes AdamW's decoupled step `params - lr * (adam + weight_decay * params)` (Loshchilov and
    Hutter, 2019; `optax.adamw`).
    """
    parts = [optax.clip_by_global_norm(max_grad_norm)] if max_grad_norm else []
    decay = [optax.add_decayed_weights(weight_decay)] if weight_decay else []
    return optax.chain(*parts, optax.scale_by_adam(eps=eps), *decay)


def gradient_step(
    tx: optax.GradientTransformation, params, opt_state, grads, learning_rate: jax.Array
) -> tuple[object, object]:
    """One descent step `params - learning_rate * direction`; returns (params, opt_state)."""
    direction, opt_state = tx.update(grads, opt_state, params)
    params = jax.tree.map(lambda p, d: p - learning_rate * d, params, direction)
    return params, opt_state


def polyak(target, online, tau: jax.Array):
    """Soft target update: `(1 - tau) * target + tau * online`, leaf by leaf."""
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)
