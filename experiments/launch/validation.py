"""Refuse a bad experiment config before anything compiles, and hand back what checking it built.

    built = validation.check(config)   # Built(algo, env, spec, eval_env, learner, iterations), or ConfigError

Checked, in this order, before the run directory is touched: top-level keys against
`config.base_config`; the algorithm and the task against the registries; `agent` keys and
value types against the algorithm's `default_config()`; every numeric field against its
declared range (the launcher's, the environment's and the algorithm's `RANGES`: a zero
budget, a negative or NaN learning rate, a discount above 1); the grid against the
algorithm's numeric hyperparameters and their ranges; `env` overrides against the task;
the agent's own consistency checks (run by building its learner); the optional logging
backends being installed. The environments and the learner built here are the run's.
"""

from __future__ import annotations

import difflib
import importlib.util
import numbers
from typing import Any, Iterable, NamedTuple

import ml_collections

import envs
from algos.common import hparams, loop
from experiments.launch.algorithms import ALGOS, Algorithm
from experiments.launch.config import ENV_RANGES, LAUNCHER_RANGES, base_config


class ConfigError(ValueError):
    """A config the launcher refuses; the message names what is wrong and the valid choices."""


class Built(NamedTuple):
    """What a valid config builds: the run uses these, nothing is built twice."""

    algo: Algorithm
    env: envs.Environment  # batched, as training steps it
    spec: envs.EnvSpec
    eval_env: envs.Environment  # unbatched, no auto-reset: one episode per evaluation
    learner: loop.Learner
    num_iterations: int


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


def _check_ranges(config: ml_collections.ConfigDict, algo: Algorithm) -> None:
    errors = (hparams.range_errors(config, LAUNCHER_RANGES, "config.")
              + hparams.range_errors(ml_collections.ConfigDict(
                  {k: v for k, v in config.env.items() if k in ENV_RANGES}), ENV_RANGES, "config.env.")
              + hparams.range_errors(config.agent, algo.ranges, "config.agent."))
    if errors:
        raise ConfigError("; ".join(errors))


def check_grid(config: ml_collections.ConfigDict, algo: Algorithm) -> None:
    for name, values in config.grid.items():
        if name not in algo.hparams:
            raise ConfigError(
                f"grid key {name!r} is not a numeric hyperparameter of {config.algo!r}."
                f"{_suggest(name, algo.hparams)} Vmappable ones: {list(algo.hparams)}; structural settings "
                "(widths, sizes) are swept as separate programs by experiments.launch.sweep"
            )
        if not isinstance(values, (tuple, list)) or not values or not all(hparams.is_number(v) for v in values):
            raise ConfigError(f"grid.{name} must be a non-empty list of numbers, got {values!r}")
        bad = [v for v in values if float(v) not in algo.ranges[name]]
        if bad:
            raise ConfigError(f"grid.{name} has values {bad} outside the valid range {algo.ranges[name]}")


def check_keys(config: ml_collections.ConfigDict) -> Algorithm:
    """The cheap checks (keys, types, ranges, grid); returns the algorithm. Raises `ConfigError`."""
    if "algo" not in config or config.algo not in ALGOS:
        algo = config.get("algo")
        raise ConfigError(f"unknown algo {algo!r}.{_suggest(str(algo), ALGOS)} Valid algos: {sorted(ALGOS)}")
    algo = ALGOS[config.algo]
    _check_section("", config, base_config(config.algo, algo.default_config()), "the launcher")
    _check_section("agent", config.agent, algo.default_config(), f"algo {config.algo!r}")
    _check_ranges(config, algo)
    check_grid(config, algo)
    tasks = [t for names in envs.list_tasks().values() for t in names]
    if config.task not in tasks:
        raise ConfigError(f"unknown task {config.task!r}.{_suggest(config.task, tasks)} Valid tasks: {tasks}")
    for switch, module in (("tensorboard", "tensorboardX"), ("wandb", "wandb")):
        if config.log[switch] and importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"config.log.{switch}=True needs the {module!r} package: pip install -e '.[{switch}]'"
            )
    return algo


def check(config: ml_collections.ConfigDict) -> Built:
    """Validate `config` and build its environments and learner. Raises `ConfigError`."""
    algo = check_keys(config)
    env_kwargs = config.env.to_dict()
    try:
        env, spec = envs.make(config.task, **env_kwargs)
        eval_env, _ = envs.make(config.task, **{**env_kwargs, "num_envs": None, "reset_mode": "none"})
    except (ValueError, TypeError) as e:
        raise ConfigError(f"config.env: {e}") from e
    try:
        learner = algo.make_learner(config.agent, env)  # builds closures only; refuses inconsistent sizes
        iterations = algo.num_iterations(config.agent, spec.num_envs)
    except (ValueError, OSError) as e:  # a dataset the agent reads may be missing or bad
        raise ConfigError(f"config.agent: {e}") from e
    return Built(algo, env, spec, eval_env, learner, iterations)
