"""The config flag every launcher command shares: the config file read once, readable refusals.

    config = cli.define_config(DEFAULT)     # before app.run
    ... config.value (the ConfigDict with the command line's overrides), config.path (its file)

`--config=FILE` is taken off the command line and FILE is executed once; its `get_config()`
becomes an absl config-dict flag, so `--config.agent.lr=...` overrides apply to it in any
order relative to `--config=FILE`. An override whose key does not exist is refused first,
with a message that names the valid keys (config_flags alone answers with a traceback
ending in `AttributeError: "'lr'"`).
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import sys
from typing import NamedTuple, Sequence

import ml_collections
from absl import flags
from ml_collections import config_flags

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(__file__)), "backbones", "configs", "ppo.py")


class ConfigFlag(NamedTuple):
    holder: flags.FlagHolder
    path: str  # the config file it was read from

    @property
    def value(self) -> ml_collections.ConfigDict:
        return self.holder.value


def split_config_path(argv: Sequence[str], default: str) -> tuple[str, list[str]]:
    """(the file of `--config=FILE` or `--config FILE`, else `default`; argv without that argument)."""
    rest, path, skip = [], default, False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg.startswith("--config="):
            path = arg.split("=", 1)[1]
        elif arg == "--config" and i + 1 < len(argv):
            path, skip = argv[i + 1], True
        else:
            rest.append(arg)
    return path, rest


def load(path: str) -> ml_collections.ConfigDict:
    """Execute a config file and return its `get_config()`."""
    if not os.path.exists(path):
        raise SystemExit(f"error: config file {path!r} does not exist")
    spec = importlib.util.spec_from_file_location("_experiment_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise SystemExit(f"error: config file {path!r} defines no get_config()")
    return module.get_config()


def unknown_override_message(config: ml_collections.ConfigDict, argv: Sequence[str]) -> str | None:
    """A message for the first `--config.a.b=...` whose key is not in `config`, else None."""
    for arg in argv:
        if not arg.startswith("--config."):
            continue
        dotted = arg[len("--config."):].split("=", 1)[0]
        node, walked = config, []
        for part in dotted.split("."):
            if not isinstance(node, ml_collections.ConfigDict) or part not in node:
                keys = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
                close = difflib.get_close_matches(part, keys, n=3)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                where = ".".join(walked) or "the top level"
                return f"unknown config key {dotted!r}: {where} has no {part!r}.{hint} Valid keys: {keys}"
            node, walked = node[part], walked + [part]
    return None


def define_config(default: str = DEFAULT_CONFIG, argv: list[str] | None = None) -> ConfigFlag:
    """Read the config file named on the command line (or `default`) once and define the `config` flag.

    Edits `argv` (default `sys.argv`) in place: `--config=FILE` is removed, so absl sees only overrides.
    """
    argv = sys.argv if argv is None else argv
    path, rest = split_config_path(argv, default)
    config = load(path)
    message = unknown_override_message(config, rest)
    if message:
        raise SystemExit(f"error: {message}")
    argv[:] = rest
    holder = config_flags.DEFINE_config_dict("config", config, f"Experiment config (from {path}).", lock_config=True)
    return ConfigFlag(holder, path)
