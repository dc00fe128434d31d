"""Numeric hyperparameters as pytree leaves, so a grid of them is one `vmap`.

Each agent names its numeric hyperparameters (learning rates, discount, noise,
...). `resolve` turns the config's values, with any overrides, into float32
arrays that live in the agent state; `train(key, hparams)` accepts a partial
dict of overrides, so

    jax.vmap(train)(keys, {"actor_lr": jnp.array([1e-4, 3e-4, 1e-3])})

trains three learning rates in one compiled program. Structural settings (widths,
batch sizes, buffer sizes) stay in the config and change the program.

Each agent also declares the valid range of every numeric config field (`RANGES`, with the
`Range` values here), so that one check (`range_errors`) refuses a bad value, a NaN
learning rate or a zero budget, before anything compiles.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, NamedTuple, Sequence

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


class Range(NamedTuple):
    """The valid values of a numeric config field: finite, between `low` and `high` (None: unbounded)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False   # True: `low` itself is excluded
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def __str__(self) -> str:
        lo = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{self.low:g}"
        hi = "inf)" if self.high is None else f"{self.high:g}{')' if self.high_open else ']'}"
        return f"{lo}, {hi}"


ANY = Range()
POSITIVE = Range(0.0, low_open=True)
NON_NEGATIVE = Range(0.0)
AT_LEAST_ONE = Range(1.0)
UNIT = Range(0.0, 1.0)


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def range_errors(config, ranges: Mapping[str, Range], prefix: str = "") -> list[str]:
    """A message for every numeric field of `config` outside its range, and for one with no declared range.

    A field of a sequence (e.g. hidden sizes) must have every element in range.
    """
    errors = []
    for key in config.keys():
        value = config[key]
        values = value if isinstance(value, (tuple, list)) else (value,)
        if not values or not all(is_number(v) for v in values):
            continue
        if key not in ranges:
            errors.append(f"{prefix}{key} has no declared valid range (a bug: add it to the agent's RANGES)")
            continue
        bad = [v for v in values if float(v) not in ranges[key]]
        if bad:
            errors.append(f"{prefix}{key} = {value!r} is outside its valid range {ranges[key]}")
    return errors
