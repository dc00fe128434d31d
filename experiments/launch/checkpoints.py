"""Checkpoints of the whole training carry, with a fingerprint, through orbax.

Each checkpoint holds, under one step (the training iteration it was taken after):
  - `carry`: every leaf of the vmapped training carry (parameters, optimiser
    states, normalisers, replay buffer, environment states, keys), so a resumed
    run continues bit for bit;
  - `history`: the metrics so far, name -> [members, iterations];
  - `meta`: the iteration and a CRC-32 fingerprint of the carry's bytes.

A step that fails to restore, or whose restored bytes do not match the
fingerprint, is reported, moved aside to `<dir>/../corrupt_checkpoints/` (kept, not
deleted), and the next older one is tried. A step that reads fine but holds a carry of
other shapes than the run's is not damage but a changed run: `CheckpointMismatch` says so
and nothing is moved. orbax writes each step to a temporary directory and
renames it when complete, so a process killed mid-save leaves no partial step.
"""

from __future__ import annotations

import shutil
import time
import warnings
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp


def _nonempty(leaves: list) -> dict[str, Any]:
    """The leaves orbax can store, by position; zero-size leaves (e.g. MJX's empty
    actuator-activation arrays) carry no data and are rebuilt from the structure."""
    return {f"{i:05d}": leaf for i, leaf in enumerate(leaves) if np.size(leaf) > 0}


class CheckpointMismatch(ValueError):
    """A readable checkpoint whose carry has other shapes than the run's: the run changed, the data did not break."""


class Restored(NamedTuple):
    iteration: int
    carry: Any  # leaves [members, ...] on the device
    history: dict[str, np.ndarray]  # name -> [members, iteration]


def fingerprint(tree: Any) -> int:
    """CRC-32 over the bytes, dtypes and shapes of every leaf (host arrays)."""
    crc = 0
    for leaf in jax.tree.leaves(tree):
        a = np.ascontiguousarray(np.asarray(leaf))
        crc = zlib.crc32(f"{a.dtype.str}{a.shape}".encode(), crc)
        crc = zlib.crc32(a.tobytes(), crc)
    return crc


class CheckpointStore:
    """Save and restore training carries under `directory`, keeping the newest `keep`."""

    def __init__(self, directory: str | Path, keep: int = 3):
        self.directory = Path(directory).absolute()
        self.keep = keep
        self.saves = 0  # saves made through this store
        self._manager = self._open()

    def _open(self) -> ocp.CheckpointManager:
        options = ocp.CheckpointManagerOptions(max_to_keep=self.keep, create=True, enable_async_checkpointing=False)
        return ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, iteration: int, carry: Any, history: dict[str, np.ndarray]) -> None:
        host_carry = jax.device_get(carry)
        meta = {"iteration": int(iteration), "fingerprint": fingerprint(host_carry), "saved_at": time.time()}
        args = ocp.args.Composite(
            carry=ocp.args.StandardSave(_nonempty(jax.tree.leaves(host_carry))),
            history=ocp.args.StandardSave({k: np.asarray(v) for k, v in history.items()}),
            meta=ocp.args.JsonSave(meta),
        )
        self._manager.save(int(iteration), args=args, force=True)
        self._manager.wait_until_finished()
        self.saves += 1

    def restore_latest(self, abstract_carry: Any, sharding: jax.sharding.Sharding | None = None) -> Restored | None:
        """The newest checkpoint that restores and matches its fingerprint; None if there is none.

        `abstract_carry` is the carry's structure (`jax.eval_shape` of the init);
        `sharding` places every restored leaf (default: the first device).
        """
        sharding = sharding or jax.sharding.SingleDeviceSharding(jax.devices()[0])
        leaves, treedef = jax.tree.flatten(abstract_carry)
        target = _nonempty([jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding) for x in leaves])
        for step in reversed(self.steps()):
            self._check_shapes(step, target)
            try:
                restored = self._manager.restore(step, args=ocp.args.Composite(
                    carry=ocp.args.StandardRestore(target),
                    history=ocp.args.StandardRestore(),
                    meta=ocp.args.JsonRestore(),
                ))
                meta = restored["meta"]
                stored = restored["carry"]
                carry = jax.tree.unflatten(treedef, [
                    stored[f"{i:05d}"] if x.size else jax.device_put(np.zeros(x.shape, x.dtype), sharding)
                    for i, x in enumerate(leaves)
                ])
                found = fingerprint(jax.device_get(carry))
                if found != meta["fingerprint"] or meta["iteration"] != step:
                    raise ValueError(f"fingerprint {found} does not match the saved {meta['fingerprint']}")
            except Exception as e:  # noqa: BLE001 -- any failure to read a step means: fall back
                self._set_aside(step, e)
                continue
            history = {k: np.asarray(v) for k, v in restored["history"].items()}
            return Restored(iteration=step, carry=carry, history=history)
        return None

    def _check_shapes(self, step: int, target: dict) -> None:
        """Raise `CheckpointMismatch` if the step's stored leaves are readable and differ from `target` in shape.

        Unreadable metadata is left to the restore, which sets the step aside as damaged.
        """
        try:
            stored = self._manager.item_metadata(step)["carry"].tree
        except Exception:  # noqa: BLE001 -- unreadable: the restore reports it
            return
        if not isinstance(stored, dict):
            return
        found = {k: tuple(getattr(v, "shape", ())) for k, v in stored.items()}
        wanted = {k: tuple(v.shape) for k, v in target.items()}
        if found != wanted:
            differ = [k for k in sorted(found.keys() | wanted.keys()) if found.get(k) != wanted.get(k)][:5]
            detail = "; ".join(f"leaf {k}: stored {found.get(k)}, this run {wanted.get(k)}" for k in differ)
            raise CheckpointMismatch(
                f"checkpoint {self.directory / str(step)} holds a training state of other shapes than this run's "
                f"({len(found)} leaves stored, {len(wanted)} expected; {detail}): the run's config or code changed "
                "since it was saved. Nothing was moved; rerun with the run's own config, or use another directory")

    def _set_aside(self, step: int, error: Exception) -> None:
        aside = self.directory.parent / "corrupt_checkpoints" / f"{step}_{time.strftime('%Y%m%d-%H%M%S')}"
        message = (f"checkpoint {self.directory / str(step)} is unreadable or corrupt "
                   f"({type(error).__name__}: {str(error)[:300]}); moved to {aside}, trying an older one")
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        aside.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self.directory / str(step)), str(aside))
        # reload, not close and reopen: closing tore down orbax's event loop, which then printed
        # "Event loop is closed" tracebacks by the dozen on every later save
        self._manager.reload()

    def close(self) -> None:
        self._manager.close()
