"""The world model: shapes, the Gaussian KL, window sampling, and learning a known
linear-Gaussian system down to the Kalman filter's prediction error."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs import sequences
from worldmodels import gaussian, rssm, sequence, training
from worldmodels.gaussian import Normal


def small_config():
    c = training.default_config()
    m = c.model
    m.deter, m.hidden, m.stoch = 32, 64, 8
    m.encoder, m.decoder_hidden, m.decoder_layers = "identity", 64, 1
    c.batch_size, c.seq_len, c.lr, c.free_nats = 16, 20, 3e-3, 0.0
    return c


def test_rssm_shapes_under_jit_and_vmap():
    c = training.default_config().model
    c.deter, c.hidden, c.stoch, c.encoder_hidden, c.decoder_hidden = 16, 16, 4, 16, 16
    model = rssm.make_rssm(c, (5,), 3)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    params = jax.vmap(model.init)(keys)   # two seeds
    # no LAPACK kernel in the vmapped initialisation (flax's GRU default, a batched QR, hung an AIME run)
    assert "lapack" not in jax.jit(jax.vmap(model.init)).lower(keys).as_text()
    obs, actions = jnp.ones((7, 6, 5)), jnp.ones((7, 6, 3))                     # [T, B, ...]
    out = jax.jit(jax.vmap(lambda p: sequence.observe(model, p, obs, actions, jax.random.PRNGKey(1))))(params)
    assert out.features.shape == (2, 7, 6, model.feature_dim) == (2, 7, 6, 20)
    assert out.posterior.mean.shape == out.prior.std.shape == (2, 7, 6, 4)
    assert bool((out.prior.std >= c.min_std).all())
    # the two seeds are different models
    assert not np.allclose(out.features[0], out.features[1])
    predicted = jax.jit(lambda p: sequence.imagine(model, p, model.initial_state((6,)), actions, jax.random.PRNGKey(2)))(
        jax.tree.map(lambda x: x[0], params))
    assert predicted.shape == (7, 6, 5)


def test_pixel_encoder_and_decoder_shapes():
    c = rssm.model_config()
    c.encoder, c.deter, c.hidden = "cnn", 16, 16
    model = rssm.make_rssm(c, (64, 64, 3), 2)
    params = model.init(jax.random.PRNGKey(0))
    images = jnp.zeros((3, 2, 64, 64, 3))
    assert model.embed(params, images).shape == (3, 2, 1024)
    assert model.decode(params, jnp.zeros((3, 2, model.feature_dim))).mean.shape == (3, 2, 64, 64, 3)
    with pytest.raises(ValueError, match="64x64x3"):
        rssm.make_rssm(c, (32, 32, 3), 2)
    c.encoder = "mlp"
    with pytest.raises(ValueError, match="flat vectors"):
        rssm.make_rssm(c, (64, 64, 3), 2)


@pytest.mark.parametrize("p,q", [((0.3, 0.5), (-0.2, 1.3)), ((1.0, 2.0), (0.0, 0.7)), ((0.0, 1.0), (0.0, 1.0))])
def test_gaussian_kl_against_numerical_integration(p, q):
    x = np.linspace(-20, 20, 400_001)
    def density(m, s):
        return np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))
    dp, dq = density(*p), density(*q)
    numeric = np.trapezoid(dp * (np.log(dp + 1e-300) - np.log(dq + 1e-300)), x)
    closed = float(gaussian.kl(Normal(jnp.float32(p[0]), jnp.float32(p[1])), Normal(jnp.float32(q[0]), jnp.float32(q[1]))))
    assert closed == pytest.approx(numeric, abs=1e-5)
    assert closed >= 0.0


def test_kl_balance_keeps_the_value_and_splits_the_gradient():
    post, prior = Normal(jnp.array([0.4, -1.0]), jnp.array([0.5, 0.8])), Normal(jnp.array([0.0, 0.3]), jnp.array([1.0, 1.2]))
    plain = gaussian.kl(post, prior)
    np.testing.assert_allclose(gaussian.balanced_kl(post, prior, 0.8), plain, rtol=1e-6)

    def total(prior_mean, post_mean, balance):
        return gaussian.balanced_kl(Normal(post_mean, post.std), Normal(prior_mean, prior.std), balance).sum()
    g_prior_plain, g_post_plain = jax.grad(total, argnums=(0, 1))(prior.mean, post.mean, None)
    g_prior, g_post = jax.grad(total, argnums=(0, 1))(prior.mean, post.mean, 0.8)
    np.testing.assert_allclose(g_prior, 0.8 * g_prior_plain, rtol=1e-5)
    np.testing.assert_allclose(g_post, 0.2 * g_post_plain, rtol=1e-5)


def test_free_nats_stop_the_kl_gradient_below_the_floor():
    c = small_config()
    model = rssm.make_rssm(c.model, (3,), 2)
    params = model.init(jax.random.PRNGKey(0))
    obs, actions, mask = jnp.zeros((4, 2, 3)), jnp.zeros((4, 2, 2)), jnp.ones((4, 2))

    def kl_loss(p, free_nats):
        filtered = sequence.observe(model, p, obs, actions, jax.random.PRNGKey(1))
        loss, m = sequence.elbo(model, p, obs, filtered, mask, free_nats=free_nats)
        return loss + m["rec"]  # the KL part of the loss alone

    value_and_grad = jax.jit(jax.value_and_grad(kl_loss))
    big = 1e6  # every step's KL is below it
    value, grads = value_and_grad(params, big)
    assert float(value) == pytest.approx(big * 4, rel=1e-6)
    assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads)) == 0.0
    assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(value_and_grad(params, 0.0)[1])) > 0.0


def test_windows_align_observations_with_previous_actions_and_mask_the_end():
    E, T, A = 3, 6, 2
    obs = jnp.arange(E * (T + 1), dtype=jnp.float32).reshape(E, T + 1, 1)
    actions = obs[:, :-1, :].repeat(A, axis=-1) + 0.5       # action t is "obs t + 0.5"
    prev = jnp.concatenate([jnp.zeros((E, 1, A)), actions], axis=1)
    data = sequences.Sequences(obs, prev, jnp.array([6, 2, 6]))
    o, a, mask = sequences.sample_windows(data, jax.random.PRNGKey(0), 256, 4)
    assert o.shape == (4, 256, 1) and a.shape == (4, 256, A) and mask.shape == (4, 256)
    # a_{t-1} led to o_t: prev_action = previous obs + 0.5 wherever t > 0 within an episode
    first_of_episode = (o[..., 0] % (T + 1)) == 0
    np.testing.assert_allclose(np.where(first_of_episode, 0.0, o[..., 0] - 0.5), a[..., 0])
    # the short episode (2 transitions, 3 observations) starts at 0 and masks its 4th step
    short = (o[0, :, 0] >= 7) & (o[0, :, 0] < 14)
    assert short.any()
    np.testing.assert_array_equal(mask[:, short].sum(0), 3.0)
    assert float(mask[:, ~short].min()) == 1.0
    with pytest.raises(ValueError, match="do not fit"):
        sequences.sample_windows(data, jax.random.PRNGKey(0), 4, T + 2)


def linear_gaussian_system(seed=0, episodes=160, steps=40, process_std=0.3, obs_std=1.0):
    """s' = A s + B a + w, o = s + v, with v's std equal to the decoder's (1)."""
    D, A_dim = 4, 2
    rng = np.random.default_rng(seed)
    th = 0.3
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    A = np.zeros((D, D))
    A[:2, :2], A[2:, 2:] = 0.95 * rot, 0.9 * rot.T
    B = rng.normal(size=(D, A_dim)) * 1.5
    s = np.zeros((episodes, steps + 1, D))
    act = rng.uniform(-1, 1, (episodes, steps, A_dim))
    s[:, 0] = rng.normal(size=(episodes, D)) * 3
    for t in range(steps):
        s[:, t + 1] = s[:, t] @ A.T + act[:, t] @ B.T + process_std * rng.normal(size=(episodes, D))
    obs = s + obs_std * rng.normal(size=s.shape)
    prev = np.concatenate([np.zeros((episodes, 1, A_dim)), act], axis=1)
    return obs, prev, (A, B, process_std, obs_std)


def kalman_open_loop_mse(obs, prev, system, context, horizon):
    """The optimal k-step prediction error: a Kalman filter on `context` steps, then open loop."""
    A, B, q, r = system
    D = A.shape[0]
    errors = []
    for o, a in zip(obs, prev):
        m, P = np.zeros(D), 9.0 * np.eye(D)
        for t in range(context):
            if t > 0:
                m, P = A @ m + B @ a[t], A @ P @ A.T + q**2 * np.eye(D)
            G = P @ np.linalg.inv(P + r**2 * np.eye(D))
            m, P = m + G @ (o[t] - m), (np.eye(D) - G) @ P
        err = []
        for k in range(horizon):
            m = A @ m + B @ a[context + k]
            err.append(np.mean((m - o[context + k]) ** 2))
        errors.append(err)
    return np.mean(errors, axis=0)


def test_elbo_rises_and_open_loop_error_nears_the_kalman_optimum_on_a_linear_gaussian_system():
    obs, prev, system = linear_gaussian_system()
    n_train, context, horizon = 128, 10, 10
    train = sequences.Sequences(jnp.asarray(obs[:n_train], jnp.float32), jnp.asarray(prev[:n_train], jnp.float32),
                               jnp.full((n_train,), obs.shape[1] - 1))
    c = small_config()
    model = rssm.make_rssm(c.model, (4,), 2)
    chunk = jax.jit(training.make_chunk(model, c, train, 250))
    test_obs = jnp.asarray(obs[n_train:, :context + horizon].swapaxes(0, 1), jnp.float32)
    test_act = jnp.asarray(prev[n_train:, :context + horizon].swapaxes(0, 1), jnp.float32)
    open_loop = jax.jit(lambda p: sequence.open_loop_error(model, p, test_obs, test_act, context, jax.random.PRNGKey(9)))

    state = training.init(model, c, jax.random.PRNGKey(0))
    before = float(open_loop(state.params).mean())
    state, first = chunk(state, jax.random.PRNGKey(1))
    state, second = chunk(state, jax.random.PRNGKey(2))
    assert float(second["loss"][-50:].mean()) < 0.8 * float(first["loss"][:50].mean())
    assert float(second["elbo"][-50:].mean()) > float(first["elbo"][:50].mean())

    floor = kalman_open_loop_mse(obs[n_train:], prev[n_train:], system, context, horizon).mean()
    after = float(open_loop(state.params).mean())
    assert after < 1.3 * floor, (after, floor)
    assert before > 3 * floor  # an untrained model is far from it


@pytest.mark.parametrize("kernel,strides", [((3, 3), (2, 2)), ((4, 4), (2, 2)), ((3, 3), (1, 1))])
def test_patch_convolution_is_flax_conv(kernel, strides):
    """`layers.Conv` (slices and one matmul on a CPU) has flax's parameters and gives its numbers."""
    import flax.linen as nn

    from worldmodels import layers

    x = jax.random.normal(jax.random.PRNGKey(0), (3, 11, 9, 4))
    ref, ours = nn.Conv(5, kernel, strides=strides, padding="VALID"), layers.Conv(5, kernel, strides=strides)
    params = ref.init(jax.random.PRNGKey(1), x)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool((a == b).all()), params, ours.init(jax.random.PRNGKey(1), x)))
    expected = ref.apply(params, x)
    for method in ("patches", "xla"):
        got = layers.Conv(5, kernel, strides=strides, method=method).apply(params, x)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="does not fit"):
        layers.conv2d_valid(x[:, :2], params["params"]["kernel"], strides, "patches")
