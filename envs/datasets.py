"""Datasets of episodes: one format, one writer, one loader that says what is wrong.

A dataset is a pytree of arrays over `E` episodes of up to `T` agent steps, with a
small metadata record:

    obs      [E, T + 1, *obs_shape]   observations, the first one and every successor
                                      (float32 states, or uint8 frames [H, W, 3 x stack])
    actions  [E, T, *action_shape]    (embodiment data; oracle-only for demonstrations)
    rewards  [E, T]                   (embodiment data; oracle-only for demonstrations)
    lengths  [E]                      valid steps per episode (T unless an episode terminated)

Steps past `lengths[e]` are padding (the last observation repeated, zero actions
and rewards). Two kinds:

- `"demonstrations"`: observation-only expert episodes for imitation from
  observation. The expert's actions and rewards are stored apart (`oracle/...`)
  and `load` returns them only when asked (`oracle=True`), for oracle baselines
  such as behavioural cloning with true actions.
- `"embodiment"`: episodes with observations and actions (random or exploratory
  play), to learn a model of one's own body.

On disk a dataset is one `.npz` file whose `metadata` entry is a JSON record. Arrays are
zlib-compressed; pixel frames stay uint8 on disk and in memory (100 episodes x 1000 steps of
64 x 64 RGB is 1.2 GB in memory, see `docs/environments.md` for the size on disk).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.core import Environment
from envs.rollout import PolicyFn, PolicyInput, observation, rollout_from
from envs.wrappers import VmapWrapper

FORMAT_VERSION = 1
KINDS = ("demonstrations", "embodiment")


class DatasetError(ValueError):
    """A dataset file that is missing, malformed or inconsistent with its metadata."""


@struct.dataclass
class Dataset:
    obs: jax.Array
    actions: jax.Array | None
    rewards: jax.Array | None
    lengths: jax.Array
    metadata: dict[str, Any] = struct.field(pytree_node=False, default_factory=dict)

    @property
    def num_episodes(self) -> int:
        return int(self.obs.shape[0])

    @property
    def episode_steps(self) -> int:
        return int(self.obs.shape[1] - 1)

    def mask(self) -> jax.Array:
        """[E, T] 1.0 on the valid steps of each episode."""
        return (jnp.arange(self.episode_steps)[None, :] < self.lengths[:, None]).astype(jnp.float32)


def record(
    env: Environment, policy_fn: PolicyFn, key: jax.Array, num_episodes: int, kind: str,
    policy_name: str = "", extra_metadata: dict[str, Any] | None = None,
    policy_input: PolicyInput = observation,
) -> Dataset:
    """Run `num_episodes` episodes of `policy_fn` on the unbatched `env` (vmapped) into a `Dataset`.

    Each episode lasts the spec's `max_episode_steps` or until it terminates.
    For `kind="demonstrations"` the actions and rewards are kept as oracle data.
    `policy_input` is what the policy sees of a state: `envs.rollout.state_observation` lets a
    state-based expert act in a pixel environment, whose frames are what gets recorded.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    spec = env.spec
    if spec.num_envs is not None:
        raise ValueError("record vmaps the environment itself: pass an unbatched env.")
    venv = VmapWrapper(env, num_episodes)
    k_reset, k_run = jax.random.split(key)
    first = venv.reset(k_reset)
    steps = spec.max_episode_steps
    _, traj = jax.jit(rollout_from, static_argnums=(0, 1, 4, 5))(venv, policy_fn, first, k_run, steps, policy_input)
    done = np.asarray(traj.done).T  # [E, T]
    ended = done.argmax(axis=1)
    lengths = np.where(done.any(axis=1), ended + 1, steps).astype(np.int32)
    valid = np.arange(steps)[None, :] < lengths[:, None]
    next_obs = np.asarray(traj.next_obs).swapaxes(0, 1)  # [E, T, ...]
    # after an episode ends, repeat its last observation rather than a reset one
    last = next_obs[np.arange(num_episodes), lengths - 1]
    next_obs = np.where(valid.reshape(*valid.shape, *[1] * (next_obs.ndim - 2)), next_obs, last[:, None])
    obs = np.concatenate([np.asarray(first.obs)[:, None], next_obs], axis=1)
    actions = np.asarray(traj.action).swapaxes(0, 1) * valid.reshape(*valid.shape, *[1] * len(spec.action_shape))
    rewards = np.asarray(traj.reward).T * valid
    metadata = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "task": spec.name,
        "obs_shape": list(spec.obs_shape),
        "obs_dtype": spec.obs_dtype,
        "action_shape": list(spec.action_shape),
        "num_episodes": num_episodes,
        "episode_steps": steps,
        "action_repeat": spec.action_repeat,
        "policy": policy_name,
        "returns": rewards.sum(axis=1).astype(float).tolist(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **(extra_metadata or {}),
    }
    return Dataset(obs=obs.astype(spec.obs_dtype), actions=actions.astype(np.float32),
                   rewards=rewards.astype(np.float32), lengths=lengths, metadata=metadata)


def save(dataset: Dataset, path: str | os.PathLike) -> Path:
    """Write `dataset` to `path` (.npz), atomically: a crash leaves no half-written file."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"obs": np.asarray(dataset.obs), "lengths": np.asarray(dataset.lengths)}
    prefix = "oracle/" if dataset.metadata.get("kind") == "demonstrations" else ""
    if dataset.actions is not None:
        arrays[prefix + "actions"] = np.asarray(dataset.actions)
    if dataset.rewards is not None:
        arrays[prefix + "rewards"] = np.asarray(dataset.rewards)
    arrays["metadata"] = np.frombuffer(json.dumps(dataset.metadata).encode(), dtype=np.uint8)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def _require(condition: bool, path: Path, message: str) -> None:
    if not condition:
        raise DatasetError(f"{path}: {message}")


def load(path: str | os.PathLike, oracle: bool = False, kind: str | None = None) -> Dataset:
    """Read and check a dataset file.

    `oracle=True` also returns a demonstration's actions and rewards. `kind`, if
    given, must match the file's. Raises `DatasetError` naming the file and the
    problem: missing file, not a dataset, unknown version, missing arrays, shapes
    that disagree with the metadata, or non-finite values.
    """
    path = Path(path)
    _require(path.exists(), path, "no such dataset file")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise DatasetError(f"{path}: not a readable .npz dataset ({type(e).__name__}: {e})") from e
    _require("metadata" in arrays, path, "no 'metadata' record; was it written by envs.datasets.save?")
    try:
        meta = json.loads(arrays.pop("metadata").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: the metadata record is not valid JSON ({e})") from e
    _require(meta.get("format_version") == FORMAT_VERSION, path,
             f"format_version {meta.get('format_version')!r}, this code reads {FORMAT_VERSION}")
    _require(meta.get("kind") in KINDS, path, f"kind {meta.get('kind')!r} is not one of {KINDS}")
    if kind is not None:
        _require(meta["kind"] == kind, path, f"is a {meta['kind']!r} dataset, expected {kind!r}")
    E, T = meta["num_episodes"], meta["episode_steps"]
    prefix = "oracle/" if meta["kind"] == "demonstrations" else ""
    expected = {
        "obs": (E, T + 1, *meta["obs_shape"]),
        "lengths": (E,),
        prefix + "actions": (E, T, *meta["action_shape"]),
        prefix + "rewards": (E, T),
    }
    for name, shape in expected.items():
        _require(name in arrays, path, f"missing array {name!r} (has {sorted(arrays)})")
        _require(arrays[name].shape == tuple(shape), path,
                 f"array {name!r} has shape {arrays[name].shape}, the metadata implies {tuple(shape)}")
        if np.issubdtype(arrays[name].dtype, np.floating):  # uint8 frames cannot be NaN: no 1 GB mask for them
            _require(bool(np.isfinite(arrays[name]).all()), path, f"array {name!r} has NaN or infinite values")
    obs_dtype = meta.get("obs_dtype", "float32")  # files from before pixels hold states
    _require(arrays["obs"].dtype == np.dtype(obs_dtype), path,
             f"array 'obs' is {arrays['obs'].dtype}, the metadata says {obs_dtype}")
    lengths = arrays["lengths"]
    _require(bool(((lengths >= 1) & (lengths <= T)).all()), path, f"episode lengths must lie in [1, {T}]")
    with_actions = meta["kind"] == "embodiment" or oracle
    return Dataset(
        obs=arrays["obs"], lengths=lengths, metadata=meta,
        actions=arrays[prefix + "actions"] if with_actions else None,
        rewards=arrays[prefix + "rewards"] if with_actions else None,
    )
