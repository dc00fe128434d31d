"""Numeric hyperparameters as pytree leaves, so a grid of them is one `vmap`.

Each agent names its numeric hyperparameters (learning rates, discount, noise,
...). `resolve` turns the config's values, with any overrides, into float32
arrays that live in the agent state; `train(key, hparams)` accepts a partial
dict of overrides, so

    jax.vmap(train)(keys, {"actor_lr": jnp.array([1e-4, 3e-4, 1e-3])})

trains three learning rates in one compiled program. Structural settings (widths,
batch sizes, buffer sizes) stay in the config and change the program.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import jax
import jax.numpy as jnp

HParams = dict[str, jax.Array]


def resolve(config, names: Sequence[str], overrides: Mapping[str, jax.Array] | None = None) -> HParams:
    """`{name: float32 array}` from `config`, each replaced by `overrides[name]` where given."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(f"unknown hyperparameters {unknown}; this agent's numeric ones are {sorted(names)}")
    return {n: jnp.asarray(overrides[n] if n in overrides else config[n], jnp.float32) for n in names}
