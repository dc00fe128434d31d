"""AIME-v2's surrogate reward, against the demonstration knowledge barrier (VIPER-style).

A second RSSM, *action-free* (its action input has zero width), learns the expert's
observation sequences alone. The reward of an agent's observation o_t is that model's
per-step evidence for it, filtered along the agent's own trajectory with posterior
means: r_t = symlog(log p(o_t | s_t) - KL(q(z_t | h_t, o_t) || p(z_t | h_t))), and 0 at
an episode's first observation (the reference's `ViperRewardWrapper` and
`likelihood_step`). Expert-like behaviour is likely under it; unrelated motion is not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs import sequences
from worldmodels import sequence
from worldmodels.gaussian import kl


def action_free(demos: sequences.Sequences) -> sequences.Sequences:
    """The demonstrations with zero-width actions, for training the likelihood model."""
    obs = demos.obs
    return sequences.Sequences(obs, jnp.zeros((*obs.shape[:2], 0), obs.dtype), demos.lengths)


def symlog(x: jax.Array) -> jax.Array:
    return jnp.sign(x) * jnp.log1p(jnp.abs(x))


def reward(model, params, obs: jax.Array, use_symlog: bool = True, gaussian_constant: bool = False) -> jax.Array:
    """Surrogate rewards [T, B] of observation sequences `obs` [T, B, ...] from episode starts.

    The reference's Normal drops the Gaussian normalising constant, -0.5 log(2 pi) per observation
    dimension (aimev2 `dist.py`, `remove_constant=True`); symlog is not linear, so keeping it
    (`gaussian_constant=True`, what we ran before 2026-12-03) changes the reward's shape.
    """
    no_actions = jnp.zeros((*obs.shape[:2], 0), obs.dtype)
    filtered = sequence.observe(model, params, obs, no_actions, jax.random.PRNGKey(0), sample=False)
    log_prob = model.decode(params, filtered.features).log_prob(sequence.observation_values(obs))
    if not gaussian_constant:
        log_prob = log_prob + 0.5 * jnp.log(2.0 * jnp.pi)
    rec = log_prob.reshape(*obs.shape[:2], -1).sum(-1)
    evidence = rec - kl(filtered.posterior, filtered.prior).sum(-1)
    r = symlog(evidence) if use_symlog else evidence
    return r.at[0].set(0.0)
