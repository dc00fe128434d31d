"""Networks shared by every agent (flax.linen)."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from worldmodels.initializers import householder_q, orthogonal  # noqa: F401  (re-exported)
from worldmodels.layers import Conv

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "tanh": nn.tanh,
    "elu": nn.elu,
    "silu": nn.silu,
    "swish": nn.swish,
    "gelu": nn.gelu,
}


class TorchDense(nn.Module):
    """A dense layer initialised as PyTorch's `nn.Linear` is: kernel and bias uniform in +-1/sqrt(fan_in).

    For networks that follow a PyTorch reference (AIME's), whose behaviour at the start of
    training depends on that initialisation.
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        bound = 1.0 / math.sqrt(x.shape[-1])
        uniform = lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)  # noqa: E731
        kernel = self.param("kernel", uniform, (x.shape[-1], self.features))
        bias = self.param("bias", uniform, (self.features,))
        return x @ kernel + bias


class MLP(nn.Module):
    """Dense layers with an activation between them; the last layer is linear.

    `hidden_sizes` are the widths of the hidden layers, `out_dim` that of the output.
    Orthogonal initialisation (scale sqrt(2) hidden, `out_scale` last) as in
    PPO implementations, or `initializer="torch"`: PyTorch's default (`TorchDense`);
    `layer_norm` adds LayerNorm after each hidden layer. `dtype` is the dtype the layers
    compute in (bfloat16 for mixed precision); parameters and the output stay float32.
    """

    hidden_sizes: Sequence[int]
    out_dim: int
    activation: str = "tanh"
    out_scale: float = 1.0
    layer_norm: bool = False
    initializer: str = "orthogonal"
    dtype: Any = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]

        def dense(width, scale):
            if self.initializer == "torch":
                return TorchDense(width)
            return nn.Dense(width, kernel_init=orthogonal(scale), dtype=self.dtype)

        for width in self.hidden_sizes:
            x = dense(width, math.sqrt(2.0))(x)
            if self.layer_norm:
                x = nn.LayerNorm(dtype=self.dtype)(x)
            x = act(x)
        return dense(self.out_dim, self.out_scale)(x).astype(jnp.float32)


class ResidualMLP(nn.Module):
    """SimBa's trunk (Lee et al., 2025, *SimBa: Simplicity Bias for Scaling Up Parameters in Deep RL*).

    A linear embedding of width `hidden_sizes[0]`, then one pre-LayerNorm residual block
    `x + Dense_w(act(Dense_4w(LayerNorm(x))))` per entry of `hidden_sizes`, a last
    LayerNorm, and the linear output. The skip paths keep the gradient's scale as the
    network deepens, which is what lets high update-to-data ratios keep learning.
    """

    hidden_sizes: Sequence[int]
    out_dim: int
    activation: str = "relu"
    out_scale: float = 1.0
    dtype: Any = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        width = self.hidden_sizes[0]
        x = nn.Dense(width, kernel_init=orthogonal(1.0), dtype=self.dtype)(x)
        for _ in self.hidden_sizes:
            h = nn.LayerNorm(dtype=self.dtype)(x)
            h = act(nn.Dense(4 * width, kernel_init=nn.initializers.he_normal(), dtype=self.dtype)(h))
            x = x + nn.Dense(width, kernel_init=nn.initializers.he_normal(), dtype=self.dtype)(h)
        x = nn.LayerNorm(dtype=self.dtype)(x)
        return nn.Dense(self.out_dim, kernel_init=orthogonal(self.out_scale), dtype=self.dtype)(x).astype(jnp.float32)


TRUNKS = ("mlp", "layernorm", "residual")  # the critic bodies `EnsembleCritic` builds


class GaussianActorCritic(nn.Module):
    """Separate actor and critic MLPs; a diagonal Gaussian with state-independent log-std.

    Returns `(mean [.., A], log_std [A], value [..])`.
    """

    action_dim: int
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    init_log_std: float = 0.0
    # 0.01: a near-zero initial mean, so early actions are the Gaussian's noise alone;
    # ~1: a random state-dependent controller from the start (as Brax's PPO initialises)
    actor_out_scale: float = 0.01

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        mean = MLP(self.hidden_sizes, self.action_dim, self.activation, out_scale=self.actor_out_scale, name="actor")(obs)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,))
        value = MLP(self.hidden_sizes, 1, self.activation, out_scale=1.0, name="critic")(obs)
        return mean, log_std, value[..., 0]


class TanhNormalActorCritic(nn.Module):
    """Brax's PPO policy: a = tanh(u), u ~ N(loc, scale^2), scale = softplus(.) + `min_scale`, state-dependent.

    Returns `(loc [.., A], log_scale [.., A], value [..])` of the Gaussian *before* the tanh.
    """

    action_dim: int
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    actor_out_scale: float = 1.0
    min_scale: float = 1e-3

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        out = MLP(self.hidden_sizes, 2 * self.action_dim, self.activation, out_scale=self.actor_out_scale,
                  name="actor")(obs)
        loc, raw = jnp.split(out, 2, axis=-1)
        log_scale = jnp.log(jax.nn.softplus(raw) + self.min_scale)
        value = MLP(self.hidden_sizes, 1, self.activation, out_scale=1.0, name="critic")(obs)
        return loc, log_scale, value[..., 0]


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, x: jax.Array) -> jax.Array:
    """Log-density of a diagonal Gaussian, summed over the last axis."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    return jnp.sum(log_std + 0.5 * jnp.log(2.0 * jnp.pi * jnp.e), axis=-1)


class TanhGaussianPolicy(nn.Module):
    """SAC's actor: an MLP giving the mean and a bounded, state-dependent log-std.

    Returns `(mean [.., A], log_std [.., A])` of the Gaussian *before* the tanh;
    `log_std` is squashed into [log_std_min, log_std_max] smoothly, as in DrQ and
    the SAC reference implementations.
    """

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    dtype: Any = None

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = MLP(self.hidden_sizes, 2 * self.action_dim, self.activation, out_scale=0.01, dtype=self.dtype)(obs)
        mean, raw = jnp.split(out, 2, axis=-1)
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (jnp.tanh(raw) + 1.0)
        return mean, log_std


class GaussianMLP(TanhGaussianPolicy):
    """The same network read as a diagonal Gaussian over a vector (a forward model's s' - s): `(mean, log_std)`."""


class MeanStdPolicy(nn.Module):
    """AIME's reference policy (argmax-ai/aime, `aime/models/policy.py`): a mean MLP and a separate std MLP,
    std = softplus(.) + `min_std`, PyTorch's default initialisation (an initial std near softplus(0) = 0.69).

    Returns `(mean, log_std)` of the Gaussian before the tanh, like `TanhGaussianPolicy`.
    """

    action_dim: int
    hidden_sizes: Sequence[int] = (128, 128)
    activation: str = "elu"
    min_std: float = 1e-6

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean = MLP(self.hidden_sizes, self.action_dim, self.activation, initializer="torch", name="mean")(obs)
        raw = MLP(self.hidden_sizes, self.action_dim, self.activation, initializer="torch", name="std")(obs)
        return mean, jnp.log(jax.nn.softplus(raw) + self.min_std)


def gaussian_kl(mean: jax.Array, log_std: jax.Array, prior_std: float) -> jax.Array:
    """KL(N(mean, exp(log_std)^2) || N(0, prior_std^2)) per dimension [.., A].

    Between two tanh-squashed Gaussians the KL is that of their Gaussians (tanh is a
    bijection), which is how AIME-v2 scores its policy's entropy against TanhNormal(0, 0.8742).
    """
    var = jnp.exp(2.0 * log_std)
    return jnp.log(prior_std) - log_std + (var + mean**2) / (2.0 * prior_std**2) - 0.5


class DrQEncoder(nn.Module):
    """DrQ-v2's image encoder (Yarats et al., 2021, `drqv2.py`): uint8 frames [..., H, W, C] ->
    [..., 32 x H' x W'] (35 x 35 at 84 x 84): frames / 255 - 0.5, a 3x3 stride-2 convolution and
    three 3x3 stride-1 ones of 32 channels, ReLU after each, orthogonal init with ReLU gain."""

    channels: int = 32

    @nn.compact
    def __call__(self, frames: jax.Array) -> jax.Array:
        batch = frames.shape[:-3]
        x = frames.reshape(-1, *frames.shape[-3:]).astype(jnp.float32) / 255.0 - 0.5
        for stride in (2, 1, 1, 1):
            x = nn.relu(Conv(self.channels, (3, 3), strides=(stride, stride), kernel_init=orthogonal(math.sqrt(2.0)))(x))
        return x.reshape(*batch, -1)


class DeterministicPolicy(nn.Module):
    """DDPG's actor: `tanh(MLP(obs))`, an action in [-1, 1]^A.

    With `feature_dim`, a DrQ-v2 trunk (Dense -> LayerNorm -> tanh) comes first.
    """

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    feature_dim: int | None = None
    dtype: Any = None

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        if self.feature_dim:
            obs = jnp.tanh(nn.LayerNorm()(nn.Dense(self.feature_dim)(obs)))
        return jnp.tanh(MLP(self.hidden_sizes, self.action_dim, self.activation, dtype=self.dtype)(obs))


class EnsembleCritic(nn.Module):
    """`num_critics` independent Q(s, a) MLPs (twin critics by default), one vmapped module.

    Returns Q-values of shape [num_critics, ...], or with `num_atoms` > 1 the logits of a
    categorical distribution over the fixed support `linspace(v_min, v_max, num_atoms)`
    (C51, Bellemare et al. 2017), [num_critics, ..., num_atoms]. With `feature_dim`, a
    DrQ-v2 trunk (Dense -> LayerNorm -> tanh), shared by the critics, embeds the
    observation before the action is concatenated. `trunk` names each critic's body
    (one of `TRUNKS`); `dtype` the dtype it computes in.
    """

    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    num_critics: int = 2
    feature_dim: int | None = None
    trunk: str = "mlp"
    num_atoms: int = 1
    v_min: float = -10.0
    v_max: float = 10.0
    dtype: Any = None

    @property
    def distributional(self) -> bool:
        return self.num_atoms > 1

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        if self.feature_dim:
            obs = jnp.tanh(nn.LayerNorm()(nn.Dense(self.feature_dim)(obs)))
        if self.trunk not in TRUNKS:
            raise ValueError(f"unknown critic trunk {self.trunk!r}; expected one of {TRUNKS}")
        body = ResidualMLP if self.trunk == "residual" else MLP
        extra = {} if self.trunk == "residual" else {"layer_norm": self.trunk == "layernorm"}
        ensemble = nn.vmap(
            body,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num_critics,
        )
        q = ensemble(tuple(self.hidden_sizes), self.num_atoms, self.activation, dtype=self.dtype, name="q",
                     **extra)(jnp.concatenate([obs, action], axis=-1))
        return q if self.distributional else q[..., 0]


def _tanh_gaussian_log_prob_u(u: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """Per-dimension log-density of a = tanh(u), from u; log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))."""
    z = (u - mean) * jnp.exp(-log_std)
    log_prob_u = -0.5 * z**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    return log_prob_u - 2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))


def tanh_gaussian_sample(mean: jax.Array, log_std: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Sample a = tanh(u), u ~ N(mean, exp(log_std)^2); returns (a [.., A], log pi(a) per dimension [.., A]).

    The per-dimension log-density is kept (not summed) so that weighted variants
    (CIP's causality-aware entropy) can reuse it.
    """
    u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
    return jnp.tanh(u), _tanh_gaussian_log_prob_u(u, mean, log_std)


def tanh_gaussian_log_prob(mean: jax.Array, log_std: jax.Array, action: jax.Array,
                           bound: float = 1.0 - 1e-6) -> jax.Array:
    """Per-dimension log pi(a) [.., A] of a given action a in [-1, 1] (clipped to +-`bound` for atanh)."""
    return _tanh_gaussian_log_prob_u(jnp.arctanh(jnp.clip(action, -bound, bound)), mean, log_std)


def to_action_box(unit_action: jax.Array, low: float, high: float) -> jax.Array:
    """Map an action in [-1, 1] to the environment's box [low, high]."""
    return low + 0.5 * (unit_action + 1.0) * (high - low)
