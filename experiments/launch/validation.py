"""Refuse a bad experiment config before anything compiles, naming the valid choices.

    algo = validation.check(config)   # the algorithm's module, or raises ConfigError

Checked: top-level keys against `configs.base.base_config`; the algorithm and the
task against the registries; `agent` keys and value types against the algorithm's
`default_config()`; `env` overrides against the task; the `grid` against the
algorithm's numeric hyperparameters; counts that must be positive; the optional
logging backends being installed.
"""

from __future__ import annotations

import difflib
import importlib.util
import numbers
from types import ModuleType
from typing import Any, Iterable

import ml_collections

import envs
from experiments.launch.algorithms import ALGOS
from experiments.launch.config import base_config


class ConfigError(ValueError):
    """A config the launcher refuses; the message names what is wrong and the valid choices."""


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _type_ok(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, numbers.Integral):
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if isinstance(default, numbers.Real):
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list))
    if isinstance(default, str):
        return isinstance(value, str)
    return True


def _check_section(section: str, given: ml_collections.ConfigDict, reference: ml_collections.ConfigDict,
                   owner: str) -> None:
    for key in given.keys():
        if key not in reference:
            raise ConfigError(
                f"unknown key '{section}.{key}' for {owner}.{_suggest(key, reference.keys())} "
                f"Valid keys: {sorted(reference.keys())}"
            )
        value, default = given[key], reference[key]
        if isinstance(default, ml_collections.ConfigDict):
            if section == "" and key in ("agent", "env", "grid"):
                continue  # checked against the algorithm and the task
            if not isinstance(value, ml_collections.ConfigDict):
                raise ConfigError(f"'{section}.{key}' must be a config section, got {value!r}")
            _check_section(f"{section}.{key}".lstrip("."), value, default, owner)
        elif not _type_ok(value, default):
            raise ConfigError(
                f"'{f'{section}.{key}'.lstrip('.')}' = {value!r} has type {type(value).__name__}; "
                f"{owner} expects {type(default).__name__} (default {default!r})"
            )


def check(config: ml_collections.ConfigDict) -> ModuleType:
    """Validate `config` and return the algorithm's module. Raises `ConfigError`."""
    if "algo" not in config or config.algo not in ALGOS:
        algo = config.get("algo")
        raise ConfigError(f"unknown algo {algo!r}.{_suggest(str(algo), ALGOS)} Valid algos: {sorted(ALGOS)}")
    algo = ALGOS[config.algo]
    _check_section("", config, base_config(config.algo, algo.default_config()), "the launcher")
    _check_section("agent", config.agent, algo.default_config(), f"algo {config.algo!r}")

    tasks = [t for names in envs.list_tasks().values() for t in names]
    if config.task not in tasks:
        raise ConfigError(f"unknown task {config.task!r}.{_suggest(config.task, tasks)} Valid tasks: {tasks}")
    try:
        env, _ = envs.make(config.task, **config.env.to_dict())
    except (ValueError, TypeError) as e:
        raise ConfigError(f"config.env: {e}") from e
    try:
        algo.make_learner(config.agent, env)  # builds closures only; refuses inconsistent sizes
    except ValueError as e:
        raise ConfigError(f"config.agent: {e}") from e

    for name, values in config.grid.items():
        if name not in algo.HPARAMS:
            raise ConfigError(
                f"grid key {name!r} is not a numeric hyperparameter of {config.algo!r}."
                f"{_suggest(name, algo.HPARAMS)} Vmappable ones: {list(algo.HPARAMS)}; structural settings "
                "(widths, sizes) are swept as separate programs by experiments.launch.sweep"
            )
        if not isinstance(values, (tuple, list)) or not values or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values
        ):
            raise ConfigError(f"grid.{name} must be a non-empty list of numbers, got {values!r}")

    for name in ("num_seeds", "chunk_iterations", "keep_checkpoints"):
        if int(config[name]) < 1:
            raise ConfigError(f"config.{name} must be >= 1, got {config[name]}")
    if config.eval_episodes < 0 or config.num_devices < 0 or config.checkpoint_interval_s < 0:
        raise ConfigError("config.eval_episodes, num_devices and checkpoint_interval_s must be >= 0")
    for switch, module in (("tensorboard", "tensorboardX"), ("wandb", "wandb")):
        if config.log[switch] and importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"config.log.{switch}=True needs the {module!r} package: pip install -e '.[{switch}]'"
            )
    return algo
