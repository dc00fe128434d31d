"""Pixel observations: frames from MuJoCo's warp renderer, checked against MuJoCo's own ray caster.

The reference is `mujoco.mj_ray` (MuJoCo's C library, not warp): a ray through each pixel's
centre from the camera placed by `mj_forward` must hit where the rendered depth says, at the
same distance. WalkerWalk has capsules and a camera that tracks the body, so a frame drawn
against stale poses or from a misplaced camera fails it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import envs
from envs import backends, render

SIZE = 24
STACK = 2


@pytest.fixture(scope="module")
def walker_pixels():
    """WalkerWalk from pixels with depth, unbatched: its auto-reset renders a reset beside each step."""
    env, spec = envs.make("WalkerWalk", obs="pixels", size=SIZE, depth=True, episode_length=50)
    return env, spec, jax.jit(env.reset), jax.jit(env.step)


@pytest.fixture(scope="module")
def walker_model(walker_pixels):
    return backends.mujoco_model(walker_pixels[0])


@pytest.fixture(scope="module")
def walker_renderer(walker_model):
    r = render.Renderer(walker_model, camera="side", size=16)
    return r, jax.jit(r), jax.jit(jax.vmap(jax.vmap(r)))


def _ray_depth(m: mujoco.MjModel, qpos: np.ndarray, camera: int, size: int) -> np.ndarray:
    """Z-depth [size, size] of the first surface through each pixel centre (0 where nothing is hit)."""
    d = mujoco.MjData(m)
    d.qpos[:] = qpos
    mujoco.mj_forward(m, d)
    tan = np.tan(np.deg2rad(m.cam_fovy[camera]) / 2)
    out = np.zeros((size, size))
    geom = np.zeros(1, np.int32)
    for row in range(size):
        for col in range(size):
            u = ((col + 0.5) / size * 2 - 1) * tan
            v = (1 - (row + 0.5) / size * 2) * tan
            ray = np.array([u, v, -1.0])  # camera frame: looking down -z, y up
            direction = d.cam_xmat[camera].reshape(3, 3) @ (ray / np.linalg.norm(ray))
            dist = mujoco.mj_ray(m, d, d.cam_xpos[camera], direction, None, 1, -1, geom)
            if dist >= 0:
                out[row, col] = dist / np.linalg.norm(ray)  # along the ray -> along the camera axis
    return out


def test_depth_matches_mujoco_ray_casting_after_steps(walker_pixels, walker_model):
    env, spec, reset, step = walker_pixels
    state = reset(jax.random.PRNGKey(1))
    keys = jax.random.split(jax.random.PRNGKey(2), 8)
    for k in keys:
        state = step(state, jax.random.uniform(k, spec.action_shape, minval=-1, maxval=1))
    qpos = np.asarray(backends.physics_data(state.inner).qpos, np.float64)
    ref = _ray_depth(walker_model, qpos, camera=0, size=SIZE)
    depth = np.asarray(state.info["depth"])[..., 0]
    assert depth.shape == (SIZE, SIZE) and depth.dtype == np.float32
    hit = ref > 0
    assert 0.1 < hit.mean() < 0.9  # floor and body below, sky above: a frame with something in it
    np.testing.assert_array_equal(depth > 0, hit)
    np.testing.assert_allclose(depth[hit], ref[hit], rtol=1e-4, atol=1e-4)


def test_pixel_env_spec_and_frame_stack(walker_pixels):
    env, spec, reset, step = walker_pixels
    assert spec.obs_shape == (SIZE, SIZE, 3) and spec.obs_dtype == "uint8"
    stacked, sspec = envs.make("CartpoleSwingup", obs="pixels", size=16, frame_stack=STACK, num_envs=2,
                               episode_length=3)
    assert sspec.obs_shape == (16, 16, 3 * STACK) and sspec.num_envs == 2

    def play(env, key):
        def body(s, k):
            nxt = env.step(s, jax.random.uniform(k, (2, *sspec.action_shape), minval=-1, maxval=1))
            return nxt, (s.obs, nxt.obs, nxt.info["final_obs"], nxt.done, nxt.info["state_obs"])
        return jax.lax.scan(body, env.reset(key), jax.random.split(key, 7))[1]

    before, after, final, done, state_obs = jax.jit(lambda k: play(stacked, k))(jax.random.PRNGKey(0))
    before, after, final, done = map(np.asarray, (before, after, final, done))
    assert after.dtype == np.uint8 and after.shape == (7, 2, 16, 16, 3 * STACK)
    assert done[2].all() and done[5].all() and not done[[0, 1, 3, 4, 6]].any()  # 3-step episodes
    # the stack shifts by one frame a step, into the ended episode's last observation too
    np.testing.assert_array_equal(final[..., :3], before[..., 3:])
    kept = ~done.astype(bool)
    np.testing.assert_array_equal(after[kept][..., :3], before[kept][..., 3:])
    # a new episode's stack holds its first frame twice
    np.testing.assert_array_equal(after[done.astype(bool)][..., :3], after[done.astype(bool)][..., 3:])
    # a picture (cart, pole, floor against a black sky), not a blank buffer; at 16x16 the cart's
    # few millimetres a step under random actions change no pixel, so motion is tested on the walker
    assert len(np.unique(after[..., :3].reshape(-1, 3), axis=0)) >= 4
    # the physics is the state environment's: same observations for the same keys and actions
    plain, _ = envs.make("CartpoleSwingup", num_envs=2, episode_length=3)

    def play_states(key):
        def body(s, k):
            nxt = plain.step(s, jax.random.uniform(k, (2, *sspec.action_shape), minval=-1, maxval=1))
            return nxt, nxt.obs
        return jax.lax.scan(body, plain.reset(key), jax.random.split(key, 7))[1]

    np.testing.assert_array_equal(np.asarray(state_obs), np.asarray(jax.jit(play_states)(jax.random.PRNGKey(0))))


def test_frame_changes_when_the_body_moves_and_only_then(walker_renderer, walker_model):
    _, one, _ = walker_renderer
    q = jnp.asarray(walker_model.qpos0, jnp.float32)
    no_mocap = (jnp.zeros((0, 3)), jnp.zeros((0, 4)))
    frame = np.asarray(one(q, *no_mocap))
    assert frame.shape == (16, 16, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(one(q, *no_mocap)), frame)
    bent = q.at[3].add(1.0)  # the right hip
    moved = np.asarray(one(bent, *no_mocap))
    assert (moved != frame).any(axis=-1).sum() >= 3


def test_frame_is_the_same_under_vmap_as_alone(walker_renderer, walker_model):
    _, one, nested = walker_renderer
    rng = np.random.default_rng(0)
    q = jnp.asarray(walker_model.qpos0 + 0.3 * rng.standard_normal((2, 3, walker_model.nq)), jnp.float32)
    batch = np.asarray(nested(q, jnp.zeros((2, 3, 0, 3)), jnp.zeros((2, 3, 0, 4))))
    assert batch.shape == (2, 3, 16, 16, 3)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(batch[i, j], np.asarray(one(q[i, j], jnp.zeros((0, 3)), jnp.zeros((0, 4)))))
    assert not np.array_equal(batch[0, 0], batch[1, 2])


def test_bad_pixel_settings_are_refused_with_the_valid_choices(walker_model):
    with pytest.raises(render.RenderError, match=r"no camera 'top'.*0 \(side\), 1 \(back\)"):
        render.Renderer(walker_model, camera="top")
    with pytest.raises(render.RenderError, match="no camera 5"):
        render.Renderer(walker_model, camera=5)
    with pytest.raises(render.RenderError, match="size must be an integer from 8 to 1024"):
        render.Renderer(walker_model, size=4)
    with pytest.raises(render.RenderError, match="not a MuJoCo task"):
        envs.make("PointReach", obs="pixels")
    with pytest.raises(render.RenderError, match="PointPush has no camera"):
        envs.make("PointPush", obs="pixels")
    with pytest.raises(ValueError, match=r"\['size'\] apply to obs='pixels' only"):
        envs.make("WalkerWalk", size=32)
    with pytest.raises(ValueError, match="normalize_obs is for state observations"):
        envs.make("WalkerWalk", obs="pixels", normalize_obs=True)
    with pytest.raises(ValueError, match="obs must be 'state' or 'pixels'"):
        envs.make("WalkerWalk", obs="rgb")
    with pytest.raises(ValueError, match="frame_stack must be an integer >= 1"):
        envs.make("WalkerWalk", obs="pixels", frame_stack=0)


@pytest.fixture(scope="module")
def pixel_embodiment():
    """Three 12-step episodes of 64x64 CartpoleSwingup frames, acted from the state behind them."""
    from envs import datasets

    env, spec = envs.make("CartpoleSwingup", obs="pixels", size=64, episode_length=12, reset_mode="none")

    def policy(state_obs, key):  # [E, 5] here, not [E, 64, 64, 3]: a state-based controller plus noise
        return jnp.clip(jnp.tanh(state_obs[..., :1] * 10.0) + jax.random.uniform(key, state_obs[..., :1].shape,
                                                                                   minval=-1, maxval=1), -1, 1)

    data = datasets.record(env, policy, jax.random.PRNGKey(0), 3, "embodiment", policy_input=envs.state_observation)
    return data, spec


def test_pixel_dataset_round_trip_is_exact_and_checked(pixel_embodiment, tmp_path):
    from envs import datasets

    data, _ = pixel_embodiment
    assert data.obs.dtype == np.uint8 and data.obs.shape == (3, 13, 64, 64, 3)
    assert len(np.unique(data.obs.reshape(-1, 3), axis=0)) >= 4  # frames, not a blank buffer
    path = datasets.save(data, tmp_path / "embodiment.npz")
    back = datasets.load(path)
    assert back.metadata["obs_dtype"] == "uint8"
    np.testing.assert_array_equal(back.obs, data.obs)
    np.testing.assert_array_equal(back.actions, data.actions)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["obs"] = arrays["obs"].astype(np.float32)  # frames silently widened
    np.savez(tmp_path / "wide.npz", **arrays)
    with pytest.raises(datasets.DatasetError, match="array 'obs' is float32, the metadata says uint8"):
        datasets.load(tmp_path / "wide.npz")


def test_cnn_world_model_elbo_rises_on_a_tiny_pixel_dataset(pixel_embodiment):
    """AIME's visual world model (the reference's CNN encoder, sigmoid decoder, frames in [0, 1])
    learns a few episodes of 64x64 CartpoleSwingup frames."""
    from envs import sequences
    from worldmodels import rssm, training

    data, spec = pixel_embodiment
    seqs = sequences.from_dataset(data)
    assert seqs.obs.dtype == jnp.uint8
    c = training.default_config()
    c.model.encoder, c.model.deter, c.model.hidden, c.model.stoch = "cnn", 32, 32, 8
    c.batch_size, c.seq_len, c.lr, c.free_nats = 4, 8, 1e-3, 0.0
    model = rssm.make_rssm(c.model, spec.obs_shape, spec.action_size)
    state = training.init(model, c, jax.random.PRNGKey(1))
    decoded = model.decode(state.params, jnp.zeros((2, model.feature_dim))).mean
    assert float(decoded.min()) > 0.0 and float(decoded.max()) < 1.0  # a sigmoid's range, as the reference's
    chunk = jax.jit(training.make_chunk(model, c, seqs, 20))
    score = jax.jit(lambda p: training.evaluate(model, c, p, seqs, jax.random.PRNGKey(2), num_windows=8,
                                                       context=4)["elbo"])
    before = float(score(state.params))
    state, metrics = chunk(state, jax.random.PRNGKey(3))
    after = float(score(state.params))
    assert np.isfinite(np.asarray(metrics["loss"])).all()
    assert after > before + 0.03 * abs(before), (before, after)  # 20 updates gave +9% (-99.8k -> -90.9k)
