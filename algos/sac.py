"""Soft Actor-Critic (Haarnoja et al., 2018) with automatic temperature, on vmapped environments.

Twin critics with Polyak-averaged targets, a tanh-Gaussian actor, and the
temperature tuned towards the target entropy -|A|. Off-policy data flow (replay,
random prefill, n-step targets) is shared with DDPG in `algos.common.offpolicy`.

    env, spec = envs.make("CartpoleBalance", num_envs=16)
    config = sac.default_config()
    carry, metrics = jax.jit(sac.make_train(config, env))(key)
    action = sac.act(carry.agent, obs, key, deterministic=True)

The losses are public functions so that variants (CIP's causally weighted
entropy) can reuse them: `critic_loss`, `actor_loss`, `temperature_loss` take an
optional per-action-dimension weight on the log-probabilities.
"""

from __future__ import annotations

from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import ml_collections
from flax import struct

from algos.common import hparams as hp_lib
from algos.common import networks, offpolicy, optim
from envs.core import Environment, EnvSpec

HPARAMS = ("actor_lr", "critic_lr", "alpha_lr", "gamma", "tau", "init_temperature", "reward_scale")
RANGES = {
    **offpolicy.RANGES, "alpha_lr": hp_lib.NON_NEGATIVE, "init_temperature": hp_lib.POSITIVE,
    "reward_scale": hp_lib.POSITIVE, "actor_update_interval": hp_lib.AT_LEAST_ONE,
    "target_update_interval": hp_lib.AT_LEAST_ONE, "target_entropy_per_dim": hp_lib.ANY,
}


def default_config() -> ml_collections.ConfigDict:
    """The usual SAC defaults (Haarnoja et al. 2018; CIP's reference code)."""
    c = ml_collections.ConfigDict()
    # numeric hyperparameters (vmappable, see HPARAMS)
    c.actor_lr = 3e-4
    c.critic_lr = 3e-4
    c.alpha_lr = 3e-4
    c.gamma = 0.99
    c.tau = 0.005
    c.init_temperature = 1.0
    c.reward_scale = 1.0
    # structure
    c.total_env_steps = 100_000
    c.learning_starts = 5_000
    c.replay_capacity = 1_000_000
    c.batch_size = 256
    c.nstep = 1
    c.rollout_length = 1  # environment steps per env per iteration
    c.replay_ratio = 1.0  # gradient updates per environment step
    c.actor_update_interval = 1  # critic updates per actor/temperature update
    c.target_update_interval = 1
    c.hidden_sizes = (256, 256)
    c.activation = "relu"
    c.num_critics = 2
    c.target_entropy_per_dim = -1.0  # target entropy = this x |A|
    c.max_grad_norm = 0.0  # 0: no clipping
    offpolicy.add_critic_config(c)
    return c


@struct.dataclass
class SACState(offpolicy.ActorCriticState):
    """`offpolicy.ActorCriticState` (tanh-Gaussian actor, ensemble critic) and the temperature."""

    log_alpha: jax.Array
    alpha_opt: tuple
    target_entropy: float = struct.field(pytree_node=False, default=0.0)
    actor_update_interval: int = struct.field(pytree_node=False, default=1)
    target_update_interval: int = struct.field(pytree_node=False, default=1)


def init(key: jax.Array, spec: EnvSpec, config, hparams: Mapping[str, jax.Array] | None = None) -> SACState:
    """Fresh networks, optimisers and temperature; `hparams` overrides numeric config values."""
    hp = hp_lib.resolve(config, HPARAMS, hparams)
    actor = networks.TanhGaussianPolicy(spec.action_size, tuple(config.hidden_sizes), config.activation,
                                        dtype=offpolicy.compute_dtype(config))
    critic = offpolicy.make_critic(config)
    log_alpha = jnp.log(hp["init_temperature"])
    return SACState(
        **offpolicy.init_actor_critic(key, spec, config, actor, critic, hp),
        log_alpha=log_alpha, alpha_opt=optim.adam(config.max_grad_norm or None).init(log_alpha),
        target_entropy=float(config.target_entropy_per_dim * spec.action_size),
        actor_update_interval=int(config.actor_update_interval),
        target_update_interval=int(config.target_update_interval),
    )


unit_action = offpolicy.unit_action


def act(state: SACState, obs: jax.Array, key: jax.Array, deterministic: bool = False) -> jax.Array:
    """A sampled action (or tanh of the mean when `deterministic`), in the environment's box."""
    mean, log_std = state.actor.apply(state.actor_params, obs)
    unit = jnp.tanh(mean) if deterministic else networks.tanh_gaussian_sample(mean, log_std, key)[0]
    return networks.to_action_box(unit, state.action_low, state.action_high)


def _weighted(log_prob: jax.Array, weights: jax.Array | None) -> jax.Array:
    """Sum per-dimension log-probabilities [.., A], weighted where `weights` [A] are given."""
    return jnp.sum(log_prob if weights is None else log_prob * weights, axis=-1)


def critic_loss(critic_params, state: SACState, batch: offpolicy.NStepBatch, key: jax.Array,
                log_prob_weights: jax.Array | None = None) -> tuple[jax.Array, dict]:
    """Soft Bellman error of every critic against min_i Q'_i(s', a') - alpha log pi(a'|s').

    A distributional critic is fitted instead to the projected distribution of that target
    (`offpolicy.distributional_critic_loss`).
    """
    mean, log_std = state.actor.apply(state.actor_params, batch.next_obs)
    next_action, next_log_prob = networks.tanh_gaussian_sample(mean, log_std, key)
    alpha = jnp.exp(state.log_alpha)
    entropy_bonus = -alpha * _weighted(next_log_prob, log_prob_weights)
    if state.critic.distributional:
        return offpolicy.distributional_critic_loss(critic_params, state, batch, next_action, entropy_bonus,
                                                    state.hp["reward_scale"])
    next_q = state.critic.apply(state.target_critic_params, batch.next_obs, next_action).min(axis=0)
    next_v = next_q + entropy_bonus
    target = jax.lax.stop_gradient(state.hp["reward_scale"] * batch.reward + batch.discount * next_v)
    q = state.critic.apply(critic_params, batch.obs, unit_action(state, batch.action))
    loss = 0.5 * jnp.mean(jnp.sum((q - target) ** 2, axis=0))
    return loss, {"critic_loss": loss, "q": q.mean()}


def actor_loss(actor_params, state: SACState, obs: jax.Array, key: jax.Array,
               log_prob_weights: jax.Array | None = None) -> tuple[jax.Array, dict]:
    """E[alpha log pi(a|s) - min_i Q_i(s, a)] with a ~ pi reparameterised; aux has the log-probs."""
    mean, log_std = state.actor.apply(actor_params, obs)
    action, log_prob = networks.tanh_gaussian_sample(mean, log_std, key)
    log_pi = _weighted(log_prob, log_prob_weights)
    q = offpolicy.q_values(state, state.critic_params, obs, action).min(axis=0)
    alpha = jnp.exp(state.log_alpha)
    loss = jnp.mean(alpha * log_pi - q)
    return loss, {"actor_loss": loss, "entropy": -log_pi.mean(), "log_pi": log_pi}


def temperature_loss(log_alpha: jax.Array, log_pi: jax.Array, target_entropy: float) -> jax.Array:
    """-log alpha * E[log pi + target entropy]: raises alpha while the entropy is below target."""
    return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_pi + target_entropy))


def update(state: SACState, seq, key: jax.Array, log_prob_weights: jax.Array | None = None,
           actor_bonus: Callable | None = None) -> tuple[SACState, dict]:
    """One critic update, and (every `actor_update_interval`) an actor, temperature and target update.

    `seq` is a `Transition` of sampled sequences [B, nstep] from `algos.common.replay`.
    `actor_bonus(actor_params, state, batch, key) -> (bonus, info)` is subtracted from the
    actor loss (CIP's empowerment); its key is its own, so SAC's sampling is unchanged by
    it. `log_prob_weights` [A] weight the entropy terms.
    """
    hp = state.hp
    tx = state.tx
    batch = offpolicy.nstep_batch(seq, hp["gamma"])
    k_critic, k_actor = jax.random.split(key)
    grads, critic_info = jax.grad(critic_loss, has_aux=True)(state.critic_params, state, batch, k_critic,
                                                              log_prob_weights)
    critic_params, critic_opt = optim.gradient_step(tx, state.critic_params, state.critic_opt, grads, hp["critic_lr"])
    state = state.replace(critic_params=critic_params, critic_opt=critic_opt, updates=state.updates + 1)

    def total_actor_loss(actor_params, s: SACState) -> tuple[jax.Array, dict]:
        loss, info = actor_loss(actor_params, s, batch.obs, k_actor, log_prob_weights)
        if actor_bonus is None:
            return loss, info
        bonus, bonus_info = actor_bonus(actor_params, s, batch, jax.random.fold_in(k_actor, 1))
        return loss - bonus, {**info, **bonus_info}

    def actor_and_temperature(s: SACState) -> tuple[SACState, dict]:
        grads, info = jax.grad(total_actor_loss, has_aux=True)(s.actor_params, s)
        actor_params, actor_opt = optim.gradient_step(tx, s.actor_params, s.actor_opt, grads, hp["actor_lr"])
        alpha_grad = jax.grad(temperature_loss)(s.log_alpha, info.pop("log_pi"), s.target_entropy)
        log_alpha, alpha_opt = optim.gradient_step(optim.adam(s.max_grad_norm or None), s.log_alpha, s.alpha_opt,
                                                   alpha_grad, hp["alpha_lr"])  # the temperature is not decayed
        return s.replace(actor_params=actor_params, actor_opt=actor_opt, log_alpha=log_alpha, alpha_opt=alpha_opt), info

    def skip(s: SACState) -> tuple[SACState, dict]:
        info = jax.eval_shape(lambda: jax.grad(total_actor_loss, has_aux=True)(s.actor_params, s)[1])
        info.pop("log_pi")
        return s, jax.tree.map(lambda x: jnp.full(x.shape, jnp.nan, x.dtype), info)

    if state.actor_update_interval == 1:
        state, actor_info = actor_and_temperature(state)
    else:
        state, actor_info = jax.lax.cond(state.updates % state.actor_update_interval == 0,
                                         actor_and_temperature, skip, state)
    do_target = (state.updates % state.target_update_interval == 0).astype(jnp.float32)
    target = optim.polyak(state.target_critic_params, state.critic_params, do_target * hp["tau"])
    state = state.replace(target_critic_params=target)
    return state, {**critic_info, **actor_info, "alpha": jnp.exp(state.log_alpha)}


def make_learner(config, env: Environment):
    """SAC as an off-policy `Learner` (see `algos.common.offpolicy`); `env` must be batched."""
    return offpolicy.make_learner(config, env, init=init, act=act, update=update)


def make_train(config, env: Environment):
    """`train(key, hparams=None) -> (carry, metrics [iterations, ...])` for the whole budget."""
    return offpolicy.make_train(config, env, init=init, act=act, update=update)


def num_iterations(config, num_envs: int) -> int:
    return offpolicy.num_iterations(config, num_envs)
