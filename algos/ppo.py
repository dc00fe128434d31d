"""Proximal Policy Optimisation (Schulman et al., 2017) on vmapped environments.

PureJaxRL's layout: one iteration collects `rollout_length` steps from `num_envs`
environments, computes GAE (bootstrapping on time-outs), then runs `update_epochs`
epochs of `num_minibatches` clipped-surrogate updates. Observations are normalised
by running statistics held in the agent state.

    env, spec = envs.make("CartpoleBalance", num_envs=32)   # PPO takes a batched env
    config = ppo.default_config()
    train = ppo.make_train(config, env)
    carry, metrics = jax.jit(train)(key)
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import ml_collections
from flax import struct

from algos.common import hparams as hp_lib
from algos.common import loop, networks, optim
from algos.common.returns import gae
from envs import normalization
from envs.core import Environment, EnvSpec, State
from envs.rollout import Transition, rollout_from


def default_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.rollout_length = 32
    c.total_env_steps = 200_000
    c.update_epochs = 4
    c.num_minibatches = 4
    # Annealed linearly to 0 over the budget. A constant 1e-3 (the default until 2026-12-03) let 3 of 10
    # seeds of the main job fall by 36-54% after first reaching 950 on CartpoleBalance: with no entropy
    # bonus the state-independent std keeps shrinking, so a fixed-size step moves the policy further
    # and further (approx. KL 0.11 at the collapse against 0.01 before). Annealed from 7e-4, 10 of 10
    # seeds held (largest fall 6%); see experiments/backbones/REPORT.md.
    c.learning_rate = 7e-4
    c.anneal_lr = True
    c.max_grad_norm = 0.5
    c.gamma = 0.99
    c.gae_lambda = 0.95
    c.clip_eps = 0.2
    c.entropy_coef = 0.0
    c.value_coef = 0.5
    c.reward_scaling = 1.0
    c.normalize_obs = True
    c.hidden_sizes = (64, 64)
    c.activation = "tanh"
    c.init_log_std = -0.5
    c.actor_out_scale = 0.01  # initial scale of the policy mean's last layer (orthogonal init)
    # "gaussian": a = mean + exp(log_std) eps, a state-independent log-std, clipped by the
    # environment; "tanh_normal": Brax's PPO policy, a = tanh(u), u ~ N(loc, softplus(.) + 1e-3),
    # state-dependent (`init_log_std` then plays no part)
    c.policy = "gaussian"
    # clip the value update to +-clip_eps around the old value (PPO2/PureJaxRL); Brax does not.
    # The clip is in the scaled return's units, so it throttles the critic when returns are large.
    c.clip_value = True
    return c


HPARAMS = ("learning_rate", "gamma", "gae_lambda", "clip_eps", "entropy_coef", "value_coef", "reward_scaling")
R = hp_lib
RANGES = {
    "rollout_length": R.AT_LEAST_ONE, "total_env_steps": R.AT_LEAST_ONE, "update_epochs": R.AT_LEAST_ONE,
    "num_minibatches": R.AT_LEAST_ONE, "learning_rate": R.POSITIVE, "max_grad_norm": R.NON_NEGATIVE,
    "gamma": R.UNIT, "gae_lambda": R.UNIT, "clip_eps": R.POSITIVE, "entropy_coef": R.NON_NEGATIVE,
    "value_coef": R.NON_NEGATIVE, "reward_scaling": R.POSITIVE, "hidden_sizes": R.AT_LEAST_ONE,
    "init_log_std": R.ANY, "actor_out_scale": R.POSITIVE,
}


@struct.dataclass
class PPOState:
    params: dict
    opt_state: tuple
    obs_stats: normalization.RunningStats
    hp: dict
    updates: jax.Array
    net: networks.GaussianActorCritic | networks.TanhNormalActorCritic = struct.field(pytree_node=False)
    action_low: float = struct.field(pytree_node=False)
    action_high: float = struct.field(pytree_node=False)
    normalize_obs: bool = struct.field(pytree_node=False)
    max_grad_norm: float = struct.field(pytree_node=False)
    anneal_updates: int = struct.field(pytree_node=False)  # 0: constant learning rate
    clip_value: bool = struct.field(pytree_node=False, default=True)

    @property
    def tx(self):
        return optim.adam(self.max_grad_norm or None, eps=1e-5)


@struct.dataclass
class Carry:
    agent: PPOState
    env_state: State
    key: jax.Array


def num_iterations(config, num_envs: int) -> int:
    """Training iterations that make up `config.total_env_steps` with `num_envs` environments."""
    return max(1, config.total_env_steps // (num_envs * config.rollout_length))


def init(key: jax.Array, spec: EnvSpec, config, hparams: Mapping[str, jax.Array] | None = None) -> PPOState:
    """Parameters, optimiser and observation statistics; `spec` may be batched."""
    sizes = dict(action_dim=spec.action_size, hidden_sizes=tuple(config.hidden_sizes), activation=config.activation,
                 actor_out_scale=float(config.actor_out_scale))
    if config.policy == "gaussian":
        net = networks.GaussianActorCritic(**sizes, init_log_std=config.init_log_std)
    elif config.policy == "tanh_normal":
        net = networks.TanhNormalActorCritic(**sizes)
    else:
        raise ValueError(f"config.policy must be 'gaussian' or 'tanh_normal', got {config.policy!r}")
    params = net.init(key, jnp.zeros(spec.obs_shape, jnp.float32))
    anneal = num_iterations(config, spec.num_envs or 1) * config.update_epochs * config.num_minibatches
    state = PPOState(
        params=params, opt_state=None, obs_stats=normalization.init(spec.obs_shape),
        hp=hp_lib.resolve(config, HPARAMS, hparams), updates=jnp.zeros((), jnp.int32), net=net,
        action_low=float(spec.action_low), action_high=float(spec.action_high),
        normalize_obs=bool(config.normalize_obs), max_grad_norm=float(config.max_grad_norm),
        anneal_updates=anneal if config.anneal_lr else 0, clip_value=bool(config.clip_value),
    )
    return state.replace(opt_state=state.tx.init(params))


def _normalize(agent: PPOState, obs: jax.Array) -> jax.Array:
    return normalization.normalize(agent.obs_stats, obs) if agent.normalize_obs else obs


def _squashed(agent: PPOState) -> bool:
    return isinstance(agent.net, networks.TanhNormalActorCritic)


def act(agent: PPOState, obs: jax.Array, key: jax.Array, deterministic: bool = False) -> jax.Array:
    """Sample (or, deterministic, the mode's) action.

    Gaussian policy: unclipped (environments clip). Tanh-normal: tanh(u) mapped onto the action box.
    """
    mean, log_std, _ = agent.net.apply(agent.params, _normalize(agent, obs))
    u = mean if deterministic else mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
    if _squashed(agent):
        return networks.to_action_box(jnp.tanh(u), agent.action_low, agent.action_high)
    return u


def _log_prob(agent: PPOState, mean: jax.Array, log_std: jax.Array, action: jax.Array) -> jax.Array:
    """log pi(action) [..], the action as `act` returned it."""
    if _squashed(agent):
        unit = 2.0 * (action - agent.action_low) / (agent.action_high - agent.action_low) - 1.0
        return networks.tanh_gaussian_log_prob(mean, log_std, unit).sum(-1)
    return networks.gaussian_log_prob(mean, log_std, action)


def _entropy(agent: PPOState, mean: jax.Array, log_std: jax.Array, key: jax.Array) -> jax.Array:
    """The policy's entropy [..]; for the tanh-normal, Brax's one-sample estimate -log pi(a), a ~ pi."""
    if _squashed(agent):
        _, log_prob = networks.tanh_gaussian_sample(mean, log_std, key)
        return -log_prob.sum(-1)
    return networks.gaussian_entropy(log_std)


def update(agent: PPOState, traj: Transition, key: jax.Array, config) -> tuple[PPOState, dict]:
    """One PPO update on a [T, N] trajectory collected with `agent`'s policy.

    `config` gives the structure (epochs, minibatches); the numbers come from `agent.hp`.
    """
    hp, apply = agent.hp, agent.net.apply
    obs = _normalize(agent, traj.obs)
    next_obs = _normalize(agent, traj.next_obs)
    mean, log_std, values = apply(agent.params, obs)
    _, _, next_values = apply(agent.params, next_obs)
    old_log_prob = _log_prob(agent, mean, log_std, traj.action)
    advantages, targets = gae(
        traj.reward * hp["reward_scaling"], values, next_values, traj.terminated, traj.done,
        hp["gamma"], hp["gae_lambda"],
    )
    batch = (obs, traj.action, old_log_prob, values, advantages, targets)
    batch_size = obs.shape[0] * obs.shape[1]
    batch = jax.tree.map(lambda x: x.reshape((batch_size, *x.shape[2:])), batch)
    clip_eps = hp["clip_eps"]

    def loss_fn(params, mb, k):
        o, a, logp_old, v_old, adv, tgt = mb
        mean, log_std, v = apply(params, o)
        logp = _log_prob(agent, mean, log_std, a)
        ratio = jnp.exp(logp - logp_old)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        policy_loss = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps) * adv).mean()
        value_loss = (v - tgt) ** 2
        if agent.clip_value:
            v_clipped = v_old + jnp.clip(v - v_old, -clip_eps, clip_eps)
            value_loss = jnp.maximum(value_loss, (v_clipped - tgt) ** 2)
        value_loss = 0.5 * value_loss.mean()
        entropy = _entropy(agent, mean, log_std, k).mean()
        total = policy_loss + hp["value_coef"] * value_loss - hp["entropy_coef"] * entropy
        return total, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
                       "approx_kl": ((ratio - 1) - jnp.log(ratio)).mean()}

    def minibatch_step(carry, mb_and_key):
        params, opt_state, updates = carry
        grads, info = jax.grad(loss_fn, has_aux=True)(params, *mb_and_key)
        lr = hp["learning_rate"]
        if agent.anneal_updates:
            lr = lr * jnp.clip(1.0 - updates / agent.anneal_updates, 0.0, 1.0)
        params, opt_state = optim.gradient_step(agent.tx, params, opt_state, grads, lr)
        return (params, opt_state, updates + 1), info

    def epoch(carry, k):
        perm = jax.random.permutation(k, batch_size)
        k_entropy = jax.random.fold_in(k, 1)  # only the tanh-normal's entropy estimate draws from it
        mbs = jax.tree.map(lambda x: x[perm].reshape((config.num_minibatches, -1, *x.shape[1:])), batch)
        return jax.lax.scan(minibatch_step, carry, (mbs, jax.random.split(k_entropy, config.num_minibatches)))

    (params, opt_state, updates), info = jax.lax.scan(
        epoch, (agent.params, agent.opt_state, agent.updates), jax.random.split(key, config.update_epochs)
    )
    stats = normalization.update(agent.obs_stats, traj.obs) if agent.normalize_obs else agent.obs_stats
    agent = agent.replace(params=params, opt_state=opt_state, updates=updates, obs_stats=stats)
    return agent, jax.tree.map(jnp.mean, info)


def make_learner(config, env: Environment) -> loop.Learner:
    """PPO as a `Learner`: one iteration = one rollout of every environment + one update.

    `env` must be batched (`envs.make(..., num_envs=N)`): the N environments step in
    lock-step and their resets are shared, see `envs.wrappers.AutoReset`.
    """
    spec = env.spec
    if spec.num_envs is None:
        raise ValueError("PPO needs a batched environment: envs.make(task, num_envs=N).")
    if (spec.num_envs * config.rollout_length) % config.num_minibatches:
        raise ValueError(
            f"num_envs x rollout_length = {spec.num_envs * config.rollout_length} is not divisible by "
            f"num_minibatches = {config.num_minibatches}"
        )

    def init_carry(key: jax.Array, hparams: Mapping[str, jax.Array] | None = None) -> Carry:
        k_agent, k_env, k_run = jax.random.split(key, 3)
        return Carry(agent=init(k_agent, spec, config, hparams), env_state=env.reset(k_env), key=k_run)

    def step(carry: Carry) -> tuple[Carry, dict]:
        key, k_roll, k_update = jax.random.split(carry.key, 3)
        policy = lambda obs, k: act(carry.agent, obs, k)  # noqa: E731
        env_state, traj = rollout_from(env, policy, carry.env_state, k_roll, config.rollout_length)
        agent, info = update(carry.agent, traj, k_update, config)
        metrics = {**info, **loop.episode_metrics(traj), "reward": traj.reward.mean()}
        return Carry(agent=agent, env_state=env_state, key=key), metrics

    return loop.Learner(init=init_carry, step=step, env_steps_per_iteration=spec.num_envs * config.rollout_length)


def make_train(config, env: Environment):
    """`train(key, hparams=None) -> (carry, metrics [iterations, ...])` for the whole budget; jit/vmap it."""
    return loop.make_train(make_learner(config, env), num_iterations(config, env.spec.num_envs))
