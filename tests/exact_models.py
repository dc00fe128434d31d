"""A world model of PointReach that is exact by construction, with the RSSM interface.

The latent is the observation [pos, goal - pos]; the prior is the true dynamics
pos' = pos + 0.1 * gain * a (gain 1 is exact; `params` may set another, to test a model
that is wrong); the posterior reads o_t; the decoder is the identity with unit variance.
"""

from __future__ import annotations

import jax.numpy as jnp

from worldmodels.gaussian import Normal
from worldmodels.rssm import RSSMState


class ExactPointModel:
    action_dim, feature_dim = 2, 4

    def init(self, key):
        return {}

    def initial_state(self, batch_shape):
        return RSSMState(jnp.zeros((*batch_shape, 0)), jnp.zeros((*batch_shape, 4)))

    def embed(self, params, obs):
        return obs

    def _prior(self, params, z, a):
        gain = params.get("gain", 1.0)
        return Normal(z + gain * 0.1 * jnp.concatenate([a, -a], -1), jnp.full(z.shape, 0.05))

    def observe_step(self, params, state, prev_action, emb, key, sample=True):
        prior, posterior = self._prior(params, state.stoch, prev_action), Normal(emb, jnp.full(emb.shape, 0.01))
        return RSSMState(state.deter, posterior.sample(key) if sample else posterior.mean), posterior, prior

    def imagine_step(self, params, state, action, key, sample=True):
        prior = self._prior(params, state.stoch, action)
        return RSSMState(state.deter, prior.sample(key) if sample else prior.mean), prior

    def features(self, state):
        return state.stoch

    def decode(self, params, features):
        return Normal(features, jnp.ones_like(features))
