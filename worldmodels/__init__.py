"""Latent dynamics models (RSSM and friends) and their ELBO.

Depends on `envs` only, never on `algos`. Filled by the world-model (AIME) issue.
"""
