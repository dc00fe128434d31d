"""The recurrent state-space model (PlaNet/Dreamer's RSSM), as AIME's `rssmo` builds it.

The state is a deterministic memory h_t (a GRU) and a stochastic latent z_t:

    h_t = GRU(h_{t-1}, swish(LN(W [z_{t-1}, a_{t-1}])))      deterministic path
    p(z_t | h_t)          prior,      from h_t alone
    q(z_t | h_t, e_t)     posterior,  with the embedding e_t of the observation o_t
    p(o_t | h_t, z_t)     decoder,    a unit-variance Gaussian around an MLP's output

Standard deviations are 2 sigmoid(x / 2) + min_std (DreamerV2's bounded form, as in the
reference `RSSMO`). Observations are flat state vectors by default (an MLP encoder of
2 x 512 with LayerNorm and swish, as `rssmo.yaml`); `encoder="cnn"` switches to the
64x64x3 pixel encoder and decoder of Ha and Schmidhuber's World Models, which the
reference uses for its visual setup: frames are read as [0, 1] and decoded through a
sigmoid, as the reference's (not Dreamer's obs / 255 - 0.5 and raw mean).

`RSSM` bundles the flax module with pure functions over explicit parameters
(`init`, `initial_state`, `embed`, `observe_step`, `imagine_step`, `features`,
`decode`): the interface that `worldmodels.sequence` and AIME's phase 2 use, so any
model with the same methods (the exact linear model in the tests) fits there too. The decoder's fixed standard
deviation is `decoder_std` (1 in the reference).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from worldmodels.gaussian import Normal
from worldmodels.initializers import orthogonal
from worldmodels.layers import Conv
from worldmodels.sequence import observation_values


class RSSMState(NamedTuple):
    deter: jax.Array  # [..., deter]
    stoch: jax.Array  # [..., stoch]


class _Dense(nn.Module):
    """`layers` x (Dense -> LayerNorm -> swish), then an optional linear head."""

    width: int
    layers: int
    out_dim: int | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.layers):
            x = nn.silu(nn.LayerNorm()(nn.Dense(self.width)(x)))
        return x if self.out_dim is None else nn.Dense(self.out_dim)(x)


class _PixelEncoder(nn.Module):
    """[..., 64, 64, 3] -> [..., 1024]: four stride-2 4x4 convolutions (32, 64, 128, 256)."""

    width: int = 32

    @nn.compact
    def __call__(self, image: jax.Array) -> jax.Array:
        batch = image.shape[:-3]
        x = image.reshape(-1, *image.shape[-3:])
        for i, mult in enumerate((1, 2, 4, 8)):
            x = Conv(self.width * mult, (4, 4), strides=(2, 2))(x)  # flax's nn.Conv, fast in a scan on a CPU
            x = nn.relu(x) if i < 3 else x
        return x.reshape(*batch, -1)


class _PixelDecoder(nn.Module):
    """[..., F] -> [..., 64, 64, 3] in (0, 1): a 1024 projection, four transposed convolutions
    and a sigmoid, as the reference's `CNNDecoderHa` (`aime/models/base.py`)."""

    width: int = 32

    @nn.compact
    def __call__(self, feature: jax.Array) -> jax.Array:
        batch = feature.shape[:-1]
        x = nn.Dense(32 * self.width)(feature).reshape(-1, 1, 1, 32 * self.width)
        for mult, k in ((4, 5), (2, 5), (1, 6)):
            x = nn.relu(nn.ConvTranspose(self.width * mult, (k, k), strides=(2, 2), padding="VALID")(x))
        x = nn.sigmoid(nn.ConvTranspose(3, (6, 6), strides=(2, 2), padding="VALID")(x))
        return x.reshape(*batch, *x.shape[-3:])


def _bounded_std(raw: jax.Array, min_std: float) -> jax.Array:
    return 2.0 * jax.nn.sigmoid(raw / 2.0) + min_std


class RSSMNet(nn.Module):
    obs_shape: tuple[int, ...]
    action_dim: int
    deter: int = 512
    stoch: int = 30
    hidden: int = 512
    min_std: float = 0.1
    encoder: str = "mlp"  # "mlp" | "identity" | "cnn"
    encoder_hidden: int = 512
    encoder_layers: int = 2
    decoder_hidden: int = 512
    decoder_layers: int = 2
    decoder_std: float = 1.0

    def setup(self):
        if self.encoder == "cnn":
            self.encode, self.decoder = _PixelEncoder(), _PixelDecoder()
        else:
            if self.encoder == "mlp":
                self.encode = _Dense(self.encoder_hidden, self.encoder_layers)
            self.decoder = _Dense(self.decoder_hidden, self.decoder_layers, out_dim=self.obs_shape[-1])
        self.pre_memory = _Dense(self.hidden, 1)
        # flax's default recurrent init is jax's orthogonal, a batched LAPACK QR under vmap that can
        # deadlock XLA:CPU's pool (worldmodels.initializers); the same distribution without LAPACK
        self.cell = nn.GRUCell(features=self.deter, recurrent_kernel_init=orthogonal())
        self.prior_net = _Dense(self.hidden, 1, out_dim=2 * self.stoch)
        self.posterior_net = _Dense(self.hidden, 1, out_dim=2 * self.stoch)

    def embed(self, obs: jax.Array) -> jax.Array:
        return obs if self.encoder == "identity" else self.encode(obs)

    def recur(self, state: RSSMState, action: jax.Array) -> jax.Array:
        x = self.pre_memory(jnp.concatenate([state.stoch, action], axis=-1))
        deter, _ = self.cell(state.deter, x)
        return deter

    def _normal(self, raw: jax.Array) -> Normal:
        mean, std = jnp.split(raw, 2, axis=-1)
        return Normal(mean, _bounded_std(std, self.min_std))

    def prior(self, deter: jax.Array) -> Normal:
        return self._normal(self.prior_net(deter))

    def posterior(self, deter: jax.Array, emb: jax.Array) -> Normal:
        return self._normal(self.posterior_net(jnp.concatenate([deter, emb], axis=-1)))

    def decode(self, feature: jax.Array) -> jax.Array:
        return self.decoder(feature)

    def __call__(self, obs: jax.Array, action: jax.Array, state: RSSMState):
        """Touches every submodule once (for `init`)."""
        deter = self.recur(state, action)
        posterior = self.posterior(deter, self.embed(obs))
        self.prior(deter)
        return self.decode(jnp.concatenate([deter, posterior.mean], axis=-1))


@dataclasses.dataclass(frozen=True)
class RSSM:
    """Pure functions of an RSSM over explicit `params`; hashable, so a static jit argument."""

    net: RSSMNet

    @property
    def action_dim(self) -> int:
        return self.net.action_dim

    @property
    def feature_dim(self) -> int:
        return self.net.deter + self.net.stoch

    def init(self, key: jax.Array):
        obs = jnp.zeros((1, *self.net.obs_shape))
        return self.net.init(key, obs, jnp.zeros((1, self.action_dim)), self.initial_state((1,)))

    def initial_state(self, batch_shape: tuple[int, ...]) -> RSSMState:
        return RSSMState(jnp.zeros((*batch_shape, self.net.deter)), jnp.zeros((*batch_shape, self.net.stoch)))

    def embed(self, params, obs: jax.Array) -> jax.Array:
        """[..., *obs_shape] -> [..., E]; uint8 frames are read as [0, 1] (`sequence.observation_values`)."""
        return self.net.apply(params, observation_values(obs), method=RSSMNet.embed)

    def observe_step(self, params, state: RSSMState, prev_action: jax.Array, emb: jax.Array, key: jax.Array,
                     sample: bool = True) -> tuple[RSSMState, Normal, Normal]:
        """Filter one step: (state_t, q(z_t | h_t, e_t), p(z_t | h_t)) from state_{t-1}, a_{t-1}, e_t."""
        deter = self.net.apply(params, state, prev_action, method=RSSMNet.recur)
        prior = self.net.apply(params, deter, method=RSSMNet.prior)
        posterior = self.net.apply(params, deter, emb, method=RSSMNet.posterior)
        stoch = posterior.sample(key) if sample else posterior.mean
        return RSSMState(deter, stoch), posterior, prior

    def imagine_step(self, params, state: RSSMState, action: jax.Array, key: jax.Array,
                     sample: bool = True) -> tuple[RSSMState, Normal]:
        """Predict one step without an observation: (state_t, p(z_t | h_t))."""
        deter = self.net.apply(params, state, action, method=RSSMNet.recur)
        prior = self.net.apply(params, deter, method=RSSMNet.prior)
        stoch = prior.sample(key) if sample else prior.mean
        return RSSMState(deter, stoch), prior

    def features(self, state: RSSMState) -> jax.Array:
        return jnp.concatenate([state.deter, state.stoch], axis=-1)

    def state_from_features(self, features: jax.Array) -> RSSMState:
        """The inverse of `features` (to restart imagination from filtered states)."""
        return RSSMState(features[..., : self.net.deter], features[..., self.net.deter:])

    def decode(self, params, features: jax.Array) -> Normal:
        """p(o | s): a Gaussian of fixed std `decoder_std` (1 in the reference's `dmlp` decoder)."""
        mean = self.net.apply(params, features, method=RSSMNet.decode)
        return Normal(mean, jnp.full_like(mean, self.net.decoder_std))


def model_config() -> ml_collections.ConfigDict:
    """The reference `rssmo` world model (AIME's `rssmo.yaml`)."""
    c = ml_collections.ConfigDict()
    c.deter = 512
    c.stoch = 30
    c.hidden = 512
    c.min_std = 0.1
    c.encoder = "mlp"
    c.encoder_hidden = 512
    c.encoder_layers = 2
    c.decoder_hidden = 512
    c.decoder_layers = 2
    # The reference's is 1. It sets the scale below which the model ignores detail in
    # the observations: with small-scale observations a smaller one (or rescaled
    # observations) keeps the effect of an action visible to the model.
    c.decoder_std = 1.0
    return c


def make_rssm(config: ml_collections.ConfigDict, obs_shape: tuple[int, ...], action_dim: int) -> RSSM:
    if config.encoder not in ("mlp", "identity", "cnn"):
        raise ValueError(f"encoder must be 'mlp', 'identity' or 'cnn', got {config.encoder!r}")
    if config.encoder == "cnn" and tuple(obs_shape) != (64, 64, 3):
        raise ValueError(f"the pixel encoder takes 64x64x3 images, got observations of shape {tuple(obs_shape)}")
    if config.encoder != "cnn" and len(obs_shape) != 1:
        raise ValueError(f"state observations must be flat vectors, got shape {tuple(obs_shape)}; "
                         "use encoder='cnn' for images")
    return RSSM(RSSMNet(tuple(obs_shape), int(action_dim), **config.to_dict()))
