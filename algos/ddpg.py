"""DDPG in the DrQ-v2 style (Yarats et al., 2021), on states, or on pixels as DrQ-v2 itself.

A deterministic tanh actor and twin critics
(each with a Dense-LayerNorm-tanh trunk of `feature_dim`), n-step returns, and a
Gaussian exploration noise whose standard deviation follows a linear schedule
from `std_init` to `std_final` over `std_schedule_steps` environment steps. The
same std, with noise clipped at `std_clip`, smooths the target action and the
actor's action. It is ADS's backbone.

`encoder="drqv2"` (`drqv2_config()`) is DrQ-v2 from pixels: DrQ-v2's convolutional encoder
(`networks.DrQEncoder`) before both trunks, trained by the critic's loss alone (the actor
sees its features with the gradient stopped), and a random shift of `aug_pad` pixels
(`augmentation.random_shift`) drawn afresh for every sampled observation and successor.

    env, spec = envs.make("CartpoleBalance", num_envs=16)
    carry, metrics = jax.jit(ddpg.make_train(ddpg.default_config(), env))(key)

    env, spec = envs.make("CartpoleSwingup", obs="pixels", size=84, frame_stack=3, action_repeat=2, num_envs=16)
    carry, metrics = jax.jit(ddpg.make_train(ddpg.drqv2_config(), env))(key)
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import jax
import jax.numpy as jnp
import ml_collections
from flax import struct

from algos.common import hparams as hp_lib
from algos.common import augmentation, networks, offpolicy, optim
from envs.core import Environment, EnvSpec

HPARAMS = ("actor_lr", "critic_lr", "gamma", "tau", "std_init", "std_final", "std_schedule_steps", "std_clip",
           "explore_std")
RANGES = {
    **offpolicy.RANGES, "std_init": hp_lib.NON_NEGATIVE, "std_final": hp_lib.NON_NEGATIVE, "explore_std": hp_lib.NON_NEGATIVE,
    "std_schedule_steps": hp_lib.NON_NEGATIVE, "std_clip": hp_lib.NON_NEGATIVE, "feature_dim": hp_lib.NON_NEGATIVE,
    "aug_pad": hp_lib.NON_NEGATIVE,
}
ENCODERS = ("none", "drqv2")


def default_config() -> ml_collections.ConfigDict:
    """DrQ-v2's settings as ADS uses them (lr 1e-4, hidden 1024, feature 50, nstep 3, update every 2 steps)."""
    c = ml_collections.ConfigDict()
    c.actor_lr = 1e-4
    c.critic_lr = 1e-4
    c.gamma = 0.99
    c.tau = 0.005  # ADS's value (DrQ-v2's own default is 0.01)
    c.std_init = 1.0
    c.std_final = 0.1
    c.std_schedule_steps = 250_000.0  # DrQ-v2's linear(1.0, 0.1, 500k frames) at action repeat 2
    c.std_clip = 0.3
    # exploration: "schedule" (DrQ-v2: the scheduled std explores and smooths) or "constant" (`explore_std`
    # explores, the schedule only smooths the target and actor actions, as the ADS code's `expl_noise`)
    c.exploration = "schedule"
    c.explore_std = 0.4
    c.total_env_steps = 100_000
    c.learning_starts = 4_000
    c.replay_capacity = 1_000_000
    c.batch_size = 256
    c.nstep = 3
    c.rollout_length = 1
    c.replay_ratio = 0.5  # DrQ-v2 updates every 2 environment steps
    c.hidden_sizes = (1024, 1024)
    c.feature_dim = 50
    c.activation = "relu"
    c.num_critics = 2
    c.max_grad_norm = 0.0
    c.encoder = "none"  # "drqv2": DrQ-v2's image encoder, for pixel observations
    c.aug_pad = 4  # the random shift, in pixels, with an encoder
    offpolicy.add_critic_config(c)
    return c


def drqv2_config() -> ml_collections.ConfigDict:
    """DrQ-v2 from pixels (`cfgs/config.yaml` and `cfgs/task/medium.yaml` of facebookresearch/drqv2):
    the encoder, a random shift of 4, target tau 0.01, 4,000 seed frames = 2,000 agent steps at
    action repeat 2. The environment gives the 84 x 84 frames, a stack of 3 and action repeat 2."""
    c = default_config()
    c.encoder = "drqv2"
    c.tau = 0.01
    c.learning_starts = 2_000
    return c


@struct.dataclass
class DDPGState(offpolicy.ActorCriticState):
    """`offpolicy.ActorCriticState` with a deterministic actor; the smoothing std is scheduled from `hp`, the
    exploration std too unless `constant_exploration` (then it is `hp["explore_std"]`)."""

    constant_exploration: bool = struct.field(pytree_node=False, default=False)
    encoder_params: dict = struct.field(default_factory=dict)  # empty on states
    encoder_opt: tuple = ()
    encoder: object = struct.field(pytree_node=False, default=None)  # None: the actor and critics read obs
    aug_pad: int = struct.field(pytree_node=False, default=0)


def encode(state: DDPGState, encoder_params, obs: jax.Array) -> jax.Array:
    """What the actor and critics read: the encoder's features of frames, or the observation itself."""
    return obs if state.encoder is None else state.encoder.apply(encoder_params, obs)


def init(key: jax.Array, spec: EnvSpec, config, hparams: Mapping[str, jax.Array] | None = None) -> DDPGState:
    hp = hp_lib.resolve(config, HPARAMS, hparams)
    encoding = config.get("encoder", "none")
    if encoding not in ENCODERS:
        raise ValueError(f"config.encoder must be one of {ENCODERS}, got {encoding!r}")
    if (encoding == "drqv2") != (spec.obs_dtype == "uint8"):
        raise ValueError(f"config.encoder={encoding!r} does not fit {spec.name}'s {spec.obs_dtype} observations "
                         f"{spec.obs_shape}: 'drqv2' reads frames (envs.make(..., obs='pixels')), 'none' states")
    encoder, encoder_fields = None, {}
    if encoding == "drqv2":
        key, k_encoder = jax.random.split(key)
        encoder = networks.DrQEncoder()
        encoder_params = encoder.init(k_encoder, jnp.zeros(spec.obs_shape, jnp.uint8))
        repr_dim = int(jax.eval_shape(encoder.apply, encoder_params, jnp.zeros(spec.obs_shape, jnp.uint8)).shape[-1])
        spec = dataclasses.replace(spec, obs_shape=(repr_dim,), obs_dtype="float32")  # what the trunks read
        encoder_fields = dict(encoder_params=encoder_params, encoder=encoder, aug_pad=int(config.aug_pad),
                              encoder_opt=offpolicy.optimiser(config).init(encoder_params))
    feature = int(config.feature_dim) or None
    actor = networks.DeterministicPolicy(spec.action_size, tuple(config.hidden_sizes), config.activation, feature,
                                         dtype=offpolicy.compute_dtype(config))
    critic = offpolicy.make_critic(config, feature)
    if config.exploration not in ("schedule", "constant"):
        raise ValueError(f"config.exploration must be 'schedule' or 'constant', got {config.exploration!r}")
    return DDPGState(**offpolicy.init_actor_critic(key, spec, config, actor, critic, hp),
                     constant_exploration=config.exploration == "constant", **encoder_fields)


def exploration_std(state: DDPGState) -> jax.Array:
    """The scheduled std: linear from std_init to std_final over std_schedule_steps env steps."""
    hp = state.hp
    frac = jnp.clip(state.env_steps / jnp.maximum(hp["std_schedule_steps"], 1.0), 0.0, 1.0)
    return hp["std_init"] + frac * (hp["std_final"] - hp["std_init"])


def _noisy(mean: jax.Array, std: jax.Array, key: jax.Array, clip: jax.Array | None) -> jax.Array:
    """mean + N(0, std) noise (clipped at +-clip if given), kept in [-1, 1] with a straight-through gradient."""
    noise = std * jax.random.normal(key, mean.shape)
    if clip is not None:
        noise = jnp.clip(noise, -clip, clip)
    x = mean + noise
    return x + jax.lax.stop_gradient(jnp.clip(x, -1.0, 1.0) - x)


def act(state: DDPGState, obs: jax.Array, key: jax.Array, deterministic: bool = False) -> jax.Array:
    """The actor's action plus scheduled Gaussian noise (none when `deterministic`), in the env's box."""
    mean = state.actor.apply(state.actor_params, encode(state, state.encoder_params, obs))
    std = state.hp["explore_std"] if state.constant_exploration else exploration_std(state)
    unit = mean if deterministic else _noisy(mean, std, key, None)
    return networks.to_action_box(unit, state.action_low, state.action_high)


def critic_loss(critic_params, state: DDPGState, batch: offpolicy.NStepBatch, key: jax.Array):
    """Squared n-step TD error of every critic against min_i Q'_i(s', smoothed mu(s')).

    A distributional critic is fitted instead to the projected distribution of that target
    (`offpolicy.distributional_critic_loss`).
    """
    std, clip = exploration_std(state), state.hp["std_clip"]
    next_action = _noisy(state.actor.apply(state.actor_params, batch.next_obs), std, key, clip)
    if state.critic.distributional:
        return offpolicy.distributional_critic_loss(critic_params, state, batch, next_action)
    next_q = state.critic.apply(state.target_critic_params, batch.next_obs, next_action).min(axis=0)
    target = jax.lax.stop_gradient(batch.reward + batch.discount * next_q)
    q = state.critic.apply(critic_params, batch.obs, offpolicy.unit_action(state, batch.action))
    loss = jnp.mean(jnp.sum((q - target) ** 2, axis=0))
    return loss, {"critic_loss": loss, "q": q.mean()}


def actor_loss(actor_params, state: DDPGState, obs: jax.Array, key: jax.Array):
    """-E[min_i Q_i(s, mu(s) + clipped noise)], as DrQ-v2's actor update."""
    std, clip = exploration_std(state), state.hp["std_clip"]
    action = _noisy(state.actor.apply(actor_params, obs), std, key, clip)
    loss = -jnp.mean(offpolicy.q_values(state, state.critic_params, obs, action).min(axis=0))
    return loss, {"actor_loss": loss}


def encoded_critic_loss(params, state: DDPGState, batch: offpolicy.NStepBatch, key: jax.Array):
    """`critic_loss` on encoded, randomly shifted frames; the gradient reaches the encoder through
    the observation only (the successor's features are a target, as DrQ-v2's `no_grad`).
    params: (critic_params, encoder_params). Also returns the observation's features, stopped."""
    critic_params, encoder_params = params
    k_obs, k_next, k_loss = jax.random.split(key, 3)
    obs = encode(state, encoder_params, augmentation.random_shift(batch.obs, k_obs, state.aug_pad))
    next_obs = jax.lax.stop_gradient(
        encode(state, encoder_params, augmentation.random_shift(batch.next_obs, k_next, state.aug_pad)))
    loss, info = critic_loss(critic_params, state, batch.replace(obs=obs, next_obs=next_obs), k_loss)
    return loss, (info, jax.lax.stop_gradient(obs))


def update(state: DDPGState, seq, key: jax.Array) -> tuple[DDPGState, dict]:
    """One critic (and encoder), actor and target update on sampled sequences `seq` [B, nstep]."""
    hp, tx = state.hp, state.tx
    batch = offpolicy.nstep_batch(seq, hp["gamma"])
    k_critic, k_actor = jax.random.split(key)
    if state.encoder is None:
        grads, critic_info = jax.grad(critic_loss, has_aux=True)(state.critic_params, state, batch, k_critic)
        features = batch.obs
    else:
        (grads, encoder_grads), (critic_info, features) = jax.grad(encoded_critic_loss, has_aux=True)(
            (state.critic_params, state.encoder_params), state, batch, k_critic)
        encoder_params, encoder_opt = optim.gradient_step(tx, state.encoder_params, state.encoder_opt, encoder_grads,
                                                          hp["critic_lr"])  # DrQ-v2's encoder_opt shares the lr
        state = state.replace(encoder_params=encoder_params, encoder_opt=encoder_opt)
    critic_params, critic_opt = optim.gradient_step(tx, state.critic_params, state.critic_opt, grads, hp["critic_lr"])
    state = state.replace(critic_params=critic_params, critic_opt=critic_opt)
    grads, actor_info = jax.grad(actor_loss, has_aux=True)(state.actor_params, state, features, k_actor)
    actor_params, actor_opt = optim.gradient_step(tx, state.actor_params, state.actor_opt, grads, hp["actor_lr"])
    target = optim.polyak(state.target_critic_params, state.critic_params, hp["tau"])
    state = state.replace(actor_params=actor_params, actor_opt=actor_opt, target_critic_params=target,
                          updates=state.updates + 1)
    return state, {**critic_info, **actor_info, "exploration_std": exploration_std(state)}


def make_learner(config, env: Environment):
    """DDPG as an off-policy `Learner` (see `algos.common.offpolicy`); `env` must be batched."""
    return offpolicy.make_learner(config, env, init=init, act=act, update=update)


def make_train(config, env: Environment):
    """`train(key, hparams=None) -> (carry, metrics [iterations, ...])` for the whole budget."""
    return offpolicy.make_train(config, env, init=init, act=act, update=update)


def num_iterations(config, num_envs: int) -> int:
    return offpolicy.num_iterations(config, num_envs)
