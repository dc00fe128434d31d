"""`envs.make(name, **overrides)`: one registry for every task in the project.

Sources:
  - MuJoCo Playground's DeepMind Control Suite ports, always on the pure-JAX MJX
    implementation (`impl="jax"`), never warp;
  - Brax's locomotion tasks on the `mjx` backend;
  - the project's own MJX models (`envs.push`: PointPush, a progress-dependent task);
  - Meta-World's Sawyer tasks (`envs.metaworld`, "mw/<task>"), on MJX's warp physics: their
    models collide cylinders, which the pure-JAX implementation does not implement;
  - the project's own tiny pure-JAX tasks (`envs.toy`).

Overrides are of two kinds. The wrapper settings below apply to every task; any
other key must be a setting of the task itself (a Playground config key, or a Brax
constructor argument), and is refused with the list of valid keys otherwise.
"""

from __future__ import annotations

import difflib
import inspect
import re
from typing import Any

from envs.backends import BackendEnv
from envs.core import Environment, EnvSpec
from envs import toy, wrappers

MJX_TASKS = ("PointPush", "PointPushAround")

BRAX_TASKS = ("halfcheetah", "hopper", "walker2d", "ant", "reacher", "pusher")
TOY_TASKS = {
    "PointReach": lambda **kw: toy.PointReach(name="PointReach", **kw),
    "PointReachTerminal": lambda **kw: toy.PointReach(name="PointReachTerminal", terminate_radius=1.5, **kw),
}

# Settings every task takes, with their defaults (None: the task's own default).
WRAPPER_DEFAULTS: dict[str, Any] = {
    "episode_length": None,  # base steps; DMC and Brax default to 1000
    "action_repeat": None,  # DMC's own config value, else 1
    "reset_mode": "full",  # "full" | "cached" | "none", see wrappers.AutoReset
    "num_envs": None,  # None: unbatched; N: vmapped over N copies
    "normalize_obs": False,  # running mean/var normalisation held in the state
    "obs": "state",  # "state" | "pixels": frames rendered by envs.render (MuJoCo tasks)
    "size": None,  # pixels: square frame size (default 64)
    "camera": None,  # pixels: camera index or name (default: the papers' camera, envs.render.default_camera)
    "frame_stack": None,  # pixels: frames stacked on the channel axis (default 1)
    "depth": None,  # pixels: also the newest frame's depth, in info["depth"] (default False)
}
PIXEL_SETTINGS = {"size": 64, "camera": None, "frame_stack": 1, "depth": False}


def playground_tasks() -> tuple[str, ...]:
    from mujoco_playground import registry as pg_registry

    return tuple(pg_registry.dm_control_suite.ALL_ENVS)


def metaworld_tasks() -> tuple[str, ...]:
    from envs.metaworld.tasks import TASKS

    return tuple(TASKS)


def list_tasks() -> dict[str, tuple[str, ...]]:
    """Registered task names, grouped by source."""
    return {"playground": playground_tasks(), "brax": BRAX_TASKS, "mjx": MJX_TASKS, "metaworld": metaworld_tasks(),
            "toy": tuple(TOY_TASKS)}


def body(task: str) -> str:
    """The robot a task runs on: the DM Control tasks of one domain (WalkerWalk, WalkerRun,
    WalkerStand) share one body and one observation layout, so data of one teach a world
    model of the others; every other task counts as its own body."""
    if task in playground_tasks():
        return re.match(r"[A-Z][a-z]*", task).group(0)
    return task


def make(name: str, **overrides: Any) -> tuple[Environment, EnvSpec]:
    """Build a wrapped, pure-functional environment and its spec.

    Args:
      name: a registered task name, see `list_tasks()`.
      **overrides: wrapper settings (`WRAPPER_DEFAULTS`) or settings of the task.

    Returns:
      `(env, spec)`; `env.reset(key)` and `env.step(state, action)` are jittable.

    Raises:
      ValueError: an unknown task name or an override that the task does not take.
    """
    wrapper_cfg = {k: overrides.pop(k, v) for k, v in WRAPPER_DEFAULTS.items()}
    groups = list_tasks()
    if name in groups["playground"]:
        base, defaults = _make_playground(name, overrides)
    elif name in groups["brax"]:
        base, defaults = _make_brax(name, overrides)
    elif name in MJX_TASKS:
        base, defaults = _make_own_mjx(name, overrides)
    elif name in groups["metaworld"]:
        base, defaults = _make_metaworld(name, overrides)
    elif name in TOY_TASKS:
        base, defaults = _make_toy(name, overrides)
    else:
        known = [n for names in groups.values() for n in names]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        listing = "; ".join(f"{src}: {', '.join(names)}" for src, names in groups.items())
        raise ValueError(f"unknown task {name!r}.{hint} Known tasks — {listing}")

    if wrapper_cfg["obs"] not in ("state", "pixels"):
        raise ValueError(f"obs must be 'state' or 'pixels', got {wrapper_cfg['obs']!r}")
    if wrapper_cfg["obs"] == "state":
        stray = sorted(k for k in PIXEL_SETTINGS if wrapper_cfg[k] is not None)
        if stray:
            raise ValueError(f"{name}: {stray} apply to obs='pixels' only")
    elif wrapper_cfg["normalize_obs"]:
        raise ValueError(f"{name}: normalize_obs is for state observations; pixels are uint8 frames")
    # None means the task's own value; anything else must be a count (0 is not "the default")
    for key in ("episode_length", "action_repeat", "num_envs"):
        value = wrapper_cfg[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{key} must be an integer >= 1 (or None for the task's own value), got {value!r}")
    episode_length = defaults["episode_length"] if wrapper_cfg["episode_length"] is None else wrapper_cfg["episode_length"]
    action_repeat = defaults["action_repeat"] if wrapper_cfg["action_repeat"] is None else wrapper_cfg["action_repeat"]
    env: Environment = base
    env = wrappers.ActionRepeat(env, action_repeat)
    env = wrappers.EpisodeLimit(env, episode_length)
    if wrapper_cfg["obs"] == "pixels":
        pixels = {k: PIXEL_SETTINGS[k] if wrapper_cfg[k] is None else wrapper_cfg[k] for k in PIXEL_SETTINGS}
        env = wrappers.PixelObservation(env, _renderer(name, base, pixels), pixels["frame_stack"])
    if wrapper_cfg["num_envs"] is not None:
        env = wrappers.VmapWrapper(env, wrapper_cfg["num_envs"])
    env = wrappers.AutoReset(env, wrapper_cfg["reset_mode"])
    env = wrappers.EpisodeStatistics(env)
    if wrapper_cfg["normalize_obs"]:
        env = wrappers.NormalizeObservation(env)
    return env, env.spec


def _renderer(name: str, base: Environment, pixels: dict):
    """The task's `envs.render.Renderer` (MuJoCo tasks only; the papers' camera unless one is named)."""
    from envs import render
    from envs.backends import _mj_model

    mj_model = _mj_model(base.base) if isinstance(base, BackendEnv) else None
    if name in metaworld_tasks():
        raise render.RenderError(f"{name}: pixel observations of Meta-World tasks are not built yet (their scenes "
                                 "move bodies per episode, which the renderer does not take); use obs='state'")
    if mj_model is None:
        raise render.RenderError(f"{name} is not a MuJoCo task, so it has no camera to give pixel observations")
    camera = render.default_camera(body(name)) if pixels["camera"] is None else pixels["camera"]
    return render.Renderer(mj_model, camera, pixels["size"], bool(pixels["depth"]), task=name)


def _refuse_unknown(name: str, overrides: dict, accepted: set[str]) -> None:
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        valid = sorted(accepted | set(WRAPPER_DEFAULTS))
        raise ValueError(f"{name} does not take override(s) {unknown}. Valid overrides: {valid}")


def _make_playground(name: str, overrides: dict):
    from mujoco_playground import registry as pg_registry

    config = pg_registry.get_default_config(name)
    if overrides.get("impl", "jax") != "jax":
        raise ValueError(f"{name}: only the pure-JAX MJX implementation is supported (impl='jax').")
    accepted = set(config.keys()) - {"episode_length", "action_repeat"}
    _refuse_unknown(name, overrides, accepted)
    base = pg_registry.load(name, config_overrides={**overrides, "impl": "jax"})
    defaults = {"episode_length": int(config.episode_length), "action_repeat": int(config.action_repeat)}
    return BackendEnv(base, name, base.dt, defaults["episode_length"]), defaults


def _make_brax(name: str, overrides: dict):
    from brax import envs as brax_envs
    from brax.envs.base import PipelineEnv

    if overrides.get("backend", "mjx") != "mjx":
        raise ValueError(f"{name}: only Brax's 'mjx' backend is supported.")
    cls = brax_envs._envs[name]
    accepted = set(inspect.signature(cls.__init__).parameters) | set(inspect.signature(PipelineEnv.__init__).parameters)
    accepted -= {"self", "kwargs", "sys", "backend"}
    _refuse_unknown(name, overrides, accepted)
    base = brax_envs.get_environment(name, **{**overrides, "backend": "mjx"})
    defaults = {"episode_length": 1000, "action_repeat": 1}
    return BackendEnv(base, name, base.dt, defaults["episode_length"]), defaults


def _make_own_mjx(name: str, overrides: dict):
    from envs import push

    config = push.default_config()
    config.update(push.VARIANTS[name])
    if overrides.get("impl", "jax") != "jax":
        raise ValueError(f"{name}: only the pure-JAX MJX implementation is supported (impl='jax').")
    _refuse_unknown(name, overrides, set(config.keys()) - {"episode_length", "action_repeat"})
    base = push.PointPush(config, config_overrides=overrides or None)
    defaults = {"episode_length": int(config.episode_length), "action_repeat": int(config.action_repeat)}
    return BackendEnv(base, name, base.dt, defaults["episode_length"]), defaults


def _make_metaworld(name: str, overrides: dict):
    from envs.metaworld.tasks import TASKS

    if overrides.pop("impl", "warp") != "warp":
        raise ValueError(f"{name}: Meta-World's models run on MJX's warp implementation only (impl='warp'); the "
                         "pure-JAX implementation has no cylinder collisions")
    _refuse_unknown(name, overrides, {"goal_observable", "task_variations", "variations_seed", "reset_variant"})
    base = TASKS[name](**overrides)
    return base, {"episode_length": base.spec.episode_length, "action_repeat": 1}


def _make_toy(name: str, overrides: dict):
    accepted = {"dim", "step_size", "goal_radius"}
    _refuse_unknown(name, overrides, accepted)
    base = TOY_TASKS[name](**overrides)
    return base, {"episode_length": base.spec.episode_length, "action_repeat": 1}
