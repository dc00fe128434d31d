"""Pixels from MJX states: MuJoCo's warp renderer called inside `jit`, `vmap` and `lax.scan`.

The physics stays on the pure-JAX MJX implementation. For a frame, the poses that rendering
reads (geoms, cameras, lights) are recomputed from `qpos` (and the mocap bodies) in pure JAX,
`mjx.kinematics` -> `com_pos` -> `camlight`, copied into a warp `Data`, and rasterised by
`mjx.render`. Recomputing matters: after `mjx.step` a state's `geom_xpos` belong to the
positions before the last integration, one physics substep behind its `qpos`. Measured on a
2-core CPU (64x64, one camera, `experiments/benchmarks/render_throughput.py`): 1,229 frames/s
at 16 worlds this way against 719 with warp's full `mjx.forward` before the render
(WalkerWalk; 1,674 against 785 on CheetahRun); from about 1,000 worlds warp's forward is
7-16% faster. Every pixel's depth is MuJoCo's `mj_ray` distance (`tests/test_render.py`).

Warp's render context is built for a fixed number of worlds, and only a single `vmap` of that
size is batched by MJX. `Renderer.__call__` renders one world and is batched by
`envs.worlds.per_world`, which flattens every vmapped axis (members x environments) into one
batch of worlds; the context of that size is built once, at trace time, so the renderer
composes with any nesting of `vmap`, with `lax.scan` and with `jit`, and frames never leave the
device.

    renderer = Renderer(mj_model, camera=0, size=64)
    frame = renderer(data.qpos, data.mocap_pos, data.mocap_quat)     # uint8 [64, 64, 3]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from envs.worlds import per_world

# The camera the papers render each DeepMind Control domain from: DrQ-v2 (`dmc.py`) and AIME
# (`aime/env.py`, after DreamerV2) both take camera 0, and 2 for the quadruped.
DEFAULT_CAMERAS = {"Quadruped": 2}
SIZES = (8, 1024)  # the square frame sizes accepted, inclusive
_LIGHT_MODES = {0: "fixed", 1: "track", 2: "trackcom"}  # mjtCamLight modes rendered; targetbody ones are refused


class RenderError(ValueError):
    """A camera, size or task the renderer cannot render."""


def camera_names(mj_model: mujoco.MjModel) -> list[str]:
    return [mujoco.mj_id2name(mj_model, mujoco.mjtObj.mjOBJ_CAMERA, i) or f"camera {i}" for i in range(mj_model.ncam)]


def camera_index(mj_model: mujoco.MjModel, camera: int | str, task: str = "this task") -> int:
    """The index of `camera` (an index or a name) in the model, or a `RenderError` naming the valid ones."""
    names = camera_names(mj_model)
    if not names:
        raise RenderError(f"{task} has no camera, so it cannot give pixel observations")
    if isinstance(camera, str) and camera in names:
        return names.index(camera)
    if isinstance(camera, (int, np.integer)) and not isinstance(camera, bool) and 0 <= camera < len(names):
        return int(camera)
    valid = ", ".join(f"{i} ({n})" for i, n in enumerate(names))
    raise RenderError(f"{task} has no camera {camera!r}; its cameras are {valid}")


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not SIZES[0] <= size <= SIZES[1]:
        raise RenderError(f"size must be an integer from {SIZES[0]} to {SIZES[1]} (a square frame), got {size!r}")
    return int(size)


def _warp_devices() -> list[str] | None:
    # Warp names the CPU "cpu", where JAX says "cpu:0"; on a GPU warp's default (cuda:0) is JAX's.
    return ["cpu"] if jax.default_backend() == "cpu" else None


class Renderer:
    """Renders one camera of an MJX model as uint8 RGB [size, size, 3] (and depth [size, size, 1]).

    Host-side object holding static settings and the warp model; its calls are pure and
    traceable. `depth=True` also returns the camera's depth in metres, float32.
    """

    def __init__(self, mj_model: mujoco.MjModel, camera: int | str = 0, size: int = 64, depth: bool = False,
                 task: str = "this task"):
        import warp
        from mujoco import mjx

        warp.config.quiet = True  # else every kernel module loaded prints a line
        self.camera = camera_index(mj_model, camera, task)
        self.size = _check_size(size)
        self.depth = bool(depth)
        modes = sorted(set(np.asarray(mj_model.light_mode).tolist()) - set(_LIGHT_MODES))
        if modes:
            raise RenderError(f"{task}: lights of mode {modes} are not rendered (only {sorted(_LIGHT_MODES.values())})")
        self._mj_model = mj_model
        self._jax_model = mjx.put_model(mj_model, impl="jax")
        self._warp_model = mjx.put_model(mj_model, impl="warp")
        self._warp_data = mjx.make_data(mj_model, impl="warp")
        self._contexts: list = []  # kept alive: compiled programs look them up by key when they run
        self._one = per_world(self.frames)

    def _context(self, worlds: int):
        """A new warp render context for `worlds` worlds (host-side, at trace time).

        A context holds mutable buffers (the ray tracer's bounding volumes, the frame), and
        its refit and render calls are ordered only by a token passed from one to the next.
        Two renders in one program (a step and the reset beside it) with a shared context
        could interleave, and a frame would be traced against the other's poses, so each
        call site gets its own context.
        """
        from mujoco import mjx

        active = [i == self.camera for i in range(self._mj_model.ncam)]
        self._contexts.append(mjx.create_render_context(
            self._mj_model, nworld=worlds, devices=_warp_devices(), cam_res=(self.size, self.size),
            render_rgb=True, render_depth=self.depth, cam_active=active))
        return self._contexts[-1]

    def _lights(self, d) -> tuple[jax.Array, jax.Array]:
        """Light positions and directions [nlight, 3], as MuJoCo's camlight places them (JAX's MJX has none)."""
        m = self._mj_model
        body, mode = np.asarray(m.light_bodyid), np.asarray(m.light_mode)[:, None]
        xmat = d.xmat[body]
        fixed_pos = d.xpos[body] + jnp.einsum("lij,lj->li", xmat, m.light_pos)
        pos = jnp.where(mode == 0, fixed_pos, jnp.where(mode == 1, d.xpos[body] + m.light_pos0,
                                                        d.subtree_com[body] + m.light_poscom0))
        direction = jnp.where(mode == 0, jnp.einsum("lij,lj->li", xmat, m.light_dir), m.light_dir0)
        return pos, direction

    def frames(self, qpos: jax.Array, mocap_pos: jax.Array, mocap_quat: jax.Array):
        """Render W worlds: qpos [W, nq], mocap_pos [W, nmocap, 3], mocap_quat [W, nmocap, 4] ->
        uint8 RGB [W, size, size, 3] (and float32 depth [W, size, size, 1] with `depth`)."""
        from mujoco import mjx

        worlds = qpos.shape[0]
        ctx = self._context(worlds).pytree()
        jm, wd = self._jax_model, self._warp_data

        def pose(q, mp, mq):
            d = mjx.make_data(self._mj_model, impl="jax").replace(qpos=q, mocap_pos=mp, mocap_quat=mq)
            d = mjx.camlight(jm, mjx.com_pos(jm, mjx.kinematics(jm, d)))
            return d

        def render(d):
            light_pos, light_dir = self._lights(d)
            # warp's batching rule gives the (unbatched, scalar) ordering token its per-world axis
            w = wd.replace(geom_xpos=d.geom_xpos, geom_xmat=d.geom_xmat, cam_xpos=d.cam_xpos, cam_xmat=d.cam_xmat,
                           _impl=wd._impl.replace(light_xpos=light_pos, light_xdir=light_dir))
            w = mjx.refit_bvh(self._warp_model, w, ctx)  # the ray tracer's bounding volumes, to these poses
            rgb, depth, _ = mjx.render(self._warp_model, w, ctx)
            return rgb, depth

        packed, depth = jax.vmap(lambda *a: render(pose(*a)))(qpos, mocap_pos, mocap_quat)
        n = self.size * self.size
        if packed.size != worlds * n:  # only this camera is active, so the buffer is its frame
            raise RenderError(f"the renderer returned {packed.shape} for {worlds} frames of {self.size}x{self.size}")
        packed = packed.reshape(worlds, self.size, self.size)
        rgb = jnp.stack([(packed >> s) & 0xFF for s in (16, 8, 0)], axis=-1).astype(jnp.uint8)  # ABGR-packed
        if not self.depth:
            return rgb
        return rgb, depth.reshape(worlds, self.size, self.size, 1)

    def __call__(self, qpos: jax.Array, mocap_pos: jax.Array, mocap_quat: jax.Array):
        """One world: qpos [nq], mocap_pos [nmocap, 3], mocap_quat [nmocap, 4] -> uint8 RGB [size, size, 3]
        (and depth [size, size, 1]); vmap it freely."""
        return self._one(qpos, mocap_pos, mocap_quat)


def default_camera(body: str) -> int:
    """The camera the papers use for a DeepMind Control domain (`envs.registry.body` of the task)."""
    return DEFAULT_CAMERAS.get(body, 0)
