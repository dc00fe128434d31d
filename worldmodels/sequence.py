"""Sequence functions over any world model with the `RSSM` interface.

Sequences are time-major: observations [T, B, *obs_shape], actions [T, B, A], masks
[T, B]. `prev_actions[t]` is the action that led to `obs[t]` (zero at an episode's
first step), the reference's `pre_action`.

- `observe`: filter a sequence with the posterior (phase 1, and evaluation).
- `observe_with_actor`: the same filter where each a_{t-1} is drawn from an actor on
  state_{t-1} instead of read from data (AIME's phase 2: the actions are latent).
- `elbo`: the loss and its terms from a filtered sequence.
- `imagine`, `open_loop_error`: predict k steps from a posterior state given actions.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from worldmodels.gaussian import Normal, balanced_kl, kl

Model = Any  # an object with the RSSM interface (see worldmodels.rssm.RSSM)
ActorFn = Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]  # (features, key) -> (action, aux)


class Filtered(NamedTuple):
    features: jax.Array  # [T, B, F] features of state_t (after seeing o_t)
    posterior: Normal    # [T, B, Z]
    prior: Normal        # [T, B, Z]


def observe(model: Model, params, obs: jax.Array, prev_actions: jax.Array, key: jax.Array,
            sample: bool = True) -> Filtered:
    """Filter `obs` [T, B, ...] given `prev_actions` [T, B, A] from the zero state
    (`sample=False`: the posterior means instead of samples)."""
    emb = model.embed(params, obs)

    def step(state, inputs):
        action, e, k = inputs
        state, posterior, prior = model.observe_step(params, state, action, e, k, sample=sample)
        return state, Filtered(model.features(state), posterior, prior)

    keys = jax.random.split(key, obs.shape[0])
    _, out = jax.lax.scan(step, model.initial_state(obs.shape[1:2]), (prev_actions, emb, keys))
    return out


def observe_with_actor(model: Model, params, obs: jax.Array, actor: ActorFn,
                       key: jax.Array) -> tuple[Filtered, jax.Array, jax.Array]:
    """Filter `obs` [T, B, ...] where a_{t-1} = actor(features(state_{t-1})).

    Returns (filtered, actions [T, B, A], aux [T, B, ...]): `actions[t]` drives the step
    into o_t, as `prev_actions[t]` does in `observe`. Gradients flow through the
    reparameterised actions and latents into the actor.
    """
    emb = model.embed(params, obs)

    def step(state, inputs):
        e, k = inputs
        k_act, k_obs = jax.random.split(k)
        action, aux = actor(model.features(state), k_act)
        state, posterior, prior = model.observe_step(params, state, action, e, k_obs)
        return state, (Filtered(model.features(state), posterior, prior), action, aux)

    keys = jax.random.split(key, obs.shape[0])
    _, (out, actions, aux) = jax.lax.scan(step, model.initial_state(obs.shape[1:2]), (emb, keys))
    return out, actions, aux


def observation_values(obs: jax.Array) -> jax.Array:
    """What a model sees and reconstructs of observations: uint8 frames as float32 in [0, 1]
    (the AIME reference divides images by 255, `aime/data.py`), state vectors as they are."""
    return obs.astype(jnp.float32) / 255.0 if obs.dtype == jnp.uint8 else obs


def elbo(model: Model, params, obs: jax.Array, filtered: Filtered, mask: jax.Array,
         free_nats: float = 0.0, kl_balance: float | None = None,
         kl_scale: float = 1.0) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The negative-ELBO loss of a filtered sequence, and its terms.

    Per step, the reconstruction log p(o_t | s_t) and the KL(q || p) are summed over
    dimensions; the loss is summed over (masked) time and averaged over the batch,
    as the reference does. Free nats clamp each step's KL from below (the gradient is
    zero under `free_nats`); `kl_balance` is DreamerV2's balancing. The reported `kl`
    and `elbo` are the true values, unclamped.
    """
    obs = observation_values(obs)
    decoded = model.decode(params, filtered.features)
    rec = decoded.log_prob(obs).reshape(*obs.shape[:2], -1).sum(-1)            # [T, B]
    kl_true = kl(filtered.posterior, filtered.prior).sum(-1)                    # [T, B]
    kl_train = jnp.maximum(balanced_kl(filtered.posterior, filtered.prior, kl_balance).sum(-1), free_nats)
    batch = obs.shape[1]
    rec_term = (rec * mask).sum() / batch
    kl_term = (kl_true * mask).sum() / batch
    loss = -rec_term + kl_scale * (kl_train * mask).sum() / batch
    sq = ((decoded.mean - obs) ** 2).reshape(*obs.shape[:2], -1).mean(-1)
    metrics = {
        "loss": loss, "elbo": rec_term - kl_term, "rec": rec_term, "kl": kl_term,
        "obs_mse": (sq * mask).sum() / jnp.maximum(mask.sum(), 1.0),
    }
    return loss, metrics


def imagine(model: Model, params, state, actions: jax.Array, key: jax.Array, sample: bool = False) -> jax.Array:
    """Open-loop: from `state` [B, ...], apply `actions` [K, B, A]; returns predicted obs means [K, B, ...]."""

    def step(s, inputs):
        a, k = inputs
        s, _ = model.imagine_step(params, s, a, k, sample=sample)
        return s, model.features(s)

    _, features = jax.lax.scan(step, state, (actions, jax.random.split(key, actions.shape[0])))
    return model.decode(params, features).mean


def open_loop_error(model: Model, params, obs: jax.Array, prev_actions: jax.Array, context: int,
                    key: jax.Array) -> jax.Array:
    """Mean squared error [T - context] of open-loop predictions k = 1 .. T - context steps ahead.

    The model filters the first `context` observations, then predicts the rest from
    the true actions alone (prior means, no sampling).
    """
    if not 0 < context < obs.shape[0]:
        raise ValueError(f"context must lie in [1, {obs.shape[0] - 1}], got {context}")
    k_obs, k_img = jax.random.split(key)
    emb = model.embed(params, obs[:context])

    def step(state, inputs):
        a, e, k = inputs
        state, _, _ = model.observe_step(params, state, a, e, k, sample=False)
        return state, None

    state, _ = jax.lax.scan(step, model.initial_state(obs.shape[1:2]),
                            (prev_actions[:context], emb, jax.random.split(k_obs, context)))
    predicted = imagine(model, params, state, prev_actions[context:], k_img)
    err = (predicted - observation_values(obs[context:])) ** 2
    return err.reshape(err.shape[0], -1).mean(-1)
