"""Image augmentation for agents learning from pixels."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def random_shift(frames: jax.Array, key: jax.Array, pad: int) -> jax.Array:
    """DrQ-v2's random shift: pad each frame by `pad` pixels (repeating the edge), then crop it back
    at an offset drawn uniformly from [0, 2 pad]^2, one per frame (`RandomShiftsAug`, whose
    bilinear sampling at whole-pixel offsets is this crop).

    frames [B, H, W, C] -> [B, H, W, C]; `pad` 0 returns them unchanged.
    """
    if pad == 0:
        return frames
    b, h, w, c = frames.shape
    padded = jnp.pad(frames, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    offsets = jax.random.randint(key, (b, 2), 0, 2 * pad + 1)
    return jax.vmap(lambda f, o: jax.lax.dynamic_slice(f, (o[0], o[1], 0), (h, w, c)))(padded, offsets)
