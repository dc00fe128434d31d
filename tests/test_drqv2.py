"""DrQ-v2 from pixels: the random shift, the encoder trained by the critic alone, and the whole
off-policy loop on uint8 frames."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from algos import ddpg
from algos.common import augmentation, replay
from envs.rollout import random_policy, rollout_from

SIZE = 16


def test_random_shift_keeps_shapes_and_shifts_by_at_most_the_pad():
    frames = jax.random.randint(jax.random.PRNGKey(0), (32, 12, 10, 3), 0, 256).astype(jnp.uint8)
    out = np.asarray(augmentation.random_shift(frames, jax.random.PRNGKey(1), 2))
    assert out.shape == frames.shape and out.dtype == np.uint8
    padded = np.pad(np.asarray(frames), ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    offsets = []
    for i in range(len(out)):
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if np.array_equal(padded[i, dy:dy + 12, dx:dx + 10], out[i])]
        assert found, f"frame {i} is not a crop of its padded frame within the pad"
        offsets.append(found[0])
    assert len(set(offsets)) > 5  # drawn per frame
    np.testing.assert_array_equal(augmentation.random_shift(frames, jax.random.PRNGKey(1), 0), frames)


def _tiny_config():
    c = ddpg.drqv2_config()
    c.hidden_sizes, c.feature_dim, c.batch_size = (32, 32), 8, 16
    c.total_env_steps, c.learning_starts, c.replay_capacity = 48, 16, 48
    c.aug_pad = 1
    c.actor_lr = c.critic_lr = 1e-3
    return c


@pytest.fixture(scope="module")
def pixel_cartpole():
    return envs.make("CartpoleBalance", obs="pixels", size=SIZE, frame_stack=3, num_envs=2)


def test_drqv2_update_trains_the_encoder_through_the_critic_and_fits_a_batch(pixel_cartpole):
    env, spec = pixel_cartpole
    c = _tiny_config()
    state = ddpg.init(jax.random.PRNGKey(0), spec, c)
    assert state.actor.feature_dim == 8 and state.encoder is not None
    buffer = replay.make(64, spec.num_envs, c.batch_size, c.nstep)

    def collect(key):
        _, traj = rollout_from(env, random_policy(spec), env.reset(key), key, 12)
        example = jax.tree.map(lambda x: x[0, 0], traj.replace(metrics={}))
        buf = replay.add_trajectory(buffer, replay.init(buffer, example), traj)
        return replay.sample(buffer, buf, jax.random.PRNGKey(3))

    seq = jax.jit(collect)(jax.random.PRNGKey(2))
    assert seq.obs.dtype == jnp.uint8 and seq.obs.shape == (16, 3, SIZE, SIZE, 9)
    update = jax.jit(ddpg.update)
    losses, s = [], state
    for i in range(30):  # the same batch: the critic and its encoder must fit it
        s, info = update(s, seq, jax.random.PRNGKey(10 + i))
        losses.append(float(info["critic_loss"]))
    assert losses[-1] < 0.5 * losses[0], losses
    moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), s.encoder_params, state.encoder_params)
    assert min(jax.tree.leaves(moved)) > 0.0  # every encoder layer is trained
    # the actor's loss does not reach the encoder: its gradient there is exactly zero
    batch = ddpg.offpolicy.nstep_batch(seq, s.hp["gamma"])

    def actor_through_encoder(encoder_params):
        _, (_, features) = ddpg.encoded_critic_loss((s.critic_params, encoder_params), s, batch, jax.random.PRNGKey(0))
        return ddpg.actor_loss(s.actor_params, s, features, jax.random.PRNGKey(1))[0]

    grads = jax.grad(actor_through_encoder)(s.encoder_params)
    assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads)) == 0.0


def test_drqv2_trains_end_to_end_on_frames_and_refuses_mismatched_observations(pixel_cartpole):
    env, spec = pixel_cartpole
    c = _tiny_config()
    carry, metrics = jax.jit(ddpg.make_train(c, env))(jax.random.PRNGKey(0))
    assert carry.buffer.experience.obs.dtype == jnp.uint8  # frames are stored as bytes
    assert np.isfinite(np.asarray(metrics["critic_loss"])).all() and int(carry.agent.updates) > 0
    actions = ddpg.act(carry.agent, carry.env_state.obs, jax.random.PRNGKey(1), deterministic=True)
    assert actions.shape == (2, *spec.action_shape)
    _, state_spec = envs.make("CartpoleBalance", num_envs=2)
    with pytest.raises(ValueError, match="'drqv2' reads frames"):
        ddpg.init(jax.random.PRNGKey(0), state_spec, c)
    c.encoder = "none"
    with pytest.raises(ValueError, match="'none' states"):
        ddpg.init(jax.random.PRNGKey(0), spec, c)
    c.encoder = "resnet"
    with pytest.raises(ValueError, match="must be one of"):
        ddpg.init(jax.random.PRNGKey(0), spec, c)
