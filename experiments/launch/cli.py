"""The config flag every launcher command shares, with readable refusals of unknown keys.

`config_flags` alone answers `--config.agent.lr=1e-3` (a key that does not exist)
with a traceback ending in `AttributeError: "'lr'"`. `define_config` checks every
`--config.<path>` override against the config file first and exits with a message
that names the valid keys, before flags are parsed and before anything compiles.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import sys
from typing import Sequence

import ml_collections
from ml_collections import config_flags

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(__file__)), "backbones", "configs", "ppo.py")


def _config_path(argv: Sequence[str], default: str) -> str:
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            return arg.split("=", 1)[1].split(":", 1)[0]
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1].split(":", 1)[0]
    return default


def _load(path: str) -> ml_collections.ConfigDict:
    spec = importlib.util.spec_from_file_location("_experiment_config", path)
    if spec is None or not os.path.exists(path):
        raise SystemExit(f"error: config file {path!r} does not exist")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
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


def define_config(default: str = DEFAULT_CONFIG, argv: Sequence[str] | None = None):
    """`config_flags.DEFINE_config_file("config", ...)`, after refusing unknown override keys."""
    argv = sys.argv if argv is None else argv
    message = unknown_override_message(_load(_config_path(argv, default)), argv)
    if message:
        raise SystemExit(f"error: {message}")
    return config_flags.DEFINE_config_file("config", default, "Experiment config file.", lock_config=True)
