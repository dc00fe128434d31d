"""Pixel observations: frames per second against the number of worlds, beside raw state stepping.

For each task and number of worlds N it times, in one process and on one device:
  - `state`: the task through `envs.make(task, num_envs=N)`, state observations (the limit);
  - `pixels`: the same through `envs.make(task, obs="pixels", size=S, num_envs=N)`: physics,
    wrappers and one S x S frame per environment step, all in one scanned program;
  - `render`: `envs.render.Renderer` alone on N fixed poses (poses recomputed in JAX from qpos,
    then warp's BVH refit and ray-traced render);
  - `warp_forward`: the alternative pose path, warp's own `mjx.forward` on a warp `Data` holding
    the same qpos, then the same refit and render;
  - `warp_physics` (with --warp-physics, up to --warp-physics-max-worlds): the task's physics on
    MJX's warp implementation instead of JAX (Playground's `impl="warp"`), state observations,
    to decide which one to run. Warp's solver prints a line whenever it hits its iteration
    limit; filter them with `| grep -v iterations`.
It prints frames (or steps) per second and the ratios pixels/state, render/state and
warp_forward/render.

    python -m experiments.benchmarks.render_throughput --tasks WalkerWalk,CheetahRun --worlds 1,16,256
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

import envs
from envs import backends, render
from experiments.benchmarks.env_throughput import time_mjx


def time_frames(fn, args, frames: int, repeats: int = 3) -> tuple[float, float]:
    """(compile seconds, best frames/s) of `fn(*args)`, which renders `frames` frames."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - t0)
    return compile_s, frames / best


def warp_forward_renderer(mj_model: mujoco.MjModel, camera: int, size: int, worlds: int):
    """qpos [worlds, nq] -> packed frames, with warp's full `forward` placing the poses."""
    from mujoco import mjx

    warp_model = mjx.put_model(mj_model, impl="warp")
    data = mjx.make_data(mj_model, impl="warp")
    ctx = mjx.create_render_context(
        mj_model, nworld=worlds, devices=render._warp_devices(), cam_res=(size, size), render_rgb=True,
        render_depth=False, cam_active=[i == camera for i in range(mj_model.ncam)])

    def frames(qpos):
        def one(q):
            d = mjx.forward(warp_model, data.replace(qpos=q))
            d = mjx.refit_bvh(warp_model, d, ctx.pytree())
            return mjx.render(warp_model, d, ctx.pytree())[0]
        return jax.vmap(one)(qpos)

    return frames, ctx  # the context must outlive the compiled program


def warp_physics_rate(task: str, worlds: int, steps: int) -> float:
    """Steps/s of the task's own physics on MJX's warp implementation (Playground, no wrappers)."""
    from mujoco_playground import registry as pg_registry

    env = pg_registry.load(task, config_overrides={"impl": "warp", "naconmax": 64 * worlds, "njmax": 128})
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), worlds))
    return time_mjx(jax.vmap(env.step), state, worlds, env.action_size, steps)[1]


def benchmark_task(task: str, world_counts: list[int], size: int, frame_budget: int, warp_physics_max: int) -> list[dict]:
    rows = []
    for n in world_counts:
        steps = int(max(3, min(200, frame_budget // n)))
        state_env, spec = envs.make(task, num_envs=n)
        state_rate = time_mjx(state_env.step, jax.jit(state_env.reset)(jax.random.PRNGKey(0)), n, spec.action_size,
                              max(steps, 50))[1]
        pixel_env, _ = envs.make(task, obs="pixels", size=size, num_envs=n)
        pixel_state = jax.jit(pixel_env.reset)(jax.random.PRNGKey(0))
        pixel_compile, pixel_rate = time_mjx(pixel_env.step, pixel_state, n, spec.action_size, steps)

        mj_model = backends.mujoco_model(state_env)
        renderer = render.Renderer(mj_model, camera=render.default_camera(envs.registry.body(task)), size=size)
        data = backends.physics_data(pixel_state.inner)
        qpos, mocap = data.qpos, (data.mocap_pos, data.mocap_quat)
        repeat = max(1, steps // 4)

        def render_many(q, mp, mq):
            # `repeat` renders of slightly moved poses, so each is traced again (nothing hoisted)
            return jax.lax.scan(lambda c, i: (c + jax.vmap(renderer)(q + 1e-3 * i, mp, mq).sum(), ()), 0, jnp.arange(repeat))[0]

        render_compile, render_rate = time_frames(render_many, (qpos, *mocap), n * repeat)
        forward_frames, ctx = warp_forward_renderer(mj_model, renderer.camera, size, n)

        def forward_many(q):
            return jax.lax.scan(lambda c, i: (c + forward_frames(q + 1e-3 * i).sum(), ()), 0, jnp.arange(repeat))[0]

        forward_compile, forward_rate = time_frames(forward_many, (qpos,), n * repeat)
        del ctx
        row = {"task": task, "worlds": n, "size": size, "steps": steps, "state_sps": state_rate,
               "pixels_sps": pixel_rate, "pixels_compile_s": pixel_compile, "render_fps": render_rate,
               "render_compile_s": render_compile, "warp_forward_fps": forward_rate,
               "warp_forward_compile_s": forward_compile, "device": jax.devices()[0].device_kind}
        line = (f"{task:12s} N={n:5d}  state {state_rate:>10,.0f} steps/s  pixels {pixel_rate:>8,.0f} steps/s "
                f"({pixel_rate / state_rate:6.4f}x state)  render {render_rate:>8,.0f} frames/s "
                f"({render_rate / state_rate:6.4f}x state)  warp-forward render {forward_rate:>8,.0f} "
                f"({forward_rate / render_rate:4.2f}x render)")
        if n <= warp_physics_max:
            row["warp_physics_sps"] = warp_physics_rate(task, n, max(steps, 20))
            line += f"  warp physics {row['warp_physics_sps']:>9,.0f} steps/s ({row['warp_physics_sps'] / state_rate:5.3f}x jax)"
        print(line, flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="WalkerWalk,CheetahRun")
    parser.add_argument("--worlds", default="1,4,16,64,256,1024,4096")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frame-budget", type=int, default=4096, help="frames per timing (per count)")
    parser.add_argument("--warp-physics", action="store_true", help="also time the physics on impl='warp'")
    parser.add_argument("--warp-physics-max-worlds", type=int, default=256)
    parser.add_argument("--out", default="", help="optional JSON file for the rows")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind}), mujoco {mujoco.__version__}")
    rows = []
    for task in args.tasks.split(","):
        rows += benchmark_task(task, [int(n) for n in args.worlds.split(",")], args.size, args.frame_budget,
                               args.warp_physics_max_worlds if args.warp_physics else 0)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
