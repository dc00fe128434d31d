"""One warp call for every world: a per-world function that any nesting of `vmap` batches whole.

MuJoCo's warp kernels (physics and rendering) run a fixed number of worlds per call, with
buffers sized for that number at trace time: a render context, or the contact buffer that all
worlds of a call share. Under `vmap(vmap(...))` (members x environments) the number of worlds
is the product of every mapped axis, which no single function sees. `per_world(many)` turns
`many(*arrays)`, whose arguments carry a leading worlds axis, into a function of one world's
arrays; its custom batching rule flattens each vmapped axis into that leading axis, so `many`
is traced once, with the total number of worlds in its arguments' shapes.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def _broadcast(args, in_batched, axis_size):
    return [a if b else jnp.broadcast_to(a, (axis_size, *a.shape)) for a, b in zip(args, in_batched)]


def per_world(many: Callable[..., Any]) -> Callable[..., Any]:
    """`many(*arrays [W, ...]) -> pytree [W, ...]` as a function of one world's arrays, batched
    into a single call of `many` over all worlds, however the vmaps around it are nested."""

    @jax.custom_batching.custom_vmap
    def worlds(*args):
        return many(*args)

    @worlds.def_vmap
    def worlds_batched(axis_size, in_batched, *args):
        args = _broadcast(args, in_batched, axis_size)
        lead = args[0].shape[:2]
        out = worlds(*[a.reshape(lead[0] * lead[1], *a.shape[2:]) for a in args])  # not -1: a size may be 0
        out = jax.tree.map(lambda x: x.reshape(*lead, *x.shape[1:]), out)
        return out, jax.tree.map(lambda _: True, out)

    @jax.custom_batching.custom_vmap
    def one(*args):
        return jax.tree.map(lambda x: x[0], worlds(*[a[None] for a in args]))

    @one.def_vmap
    def one_batched(axis_size, in_batched, *args):
        out = worlds(*_broadcast(args, in_batched, axis_size))
        return out, jax.tree.map(lambda _: True, out)

    return one
