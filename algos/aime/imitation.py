"""AIME's phase 2: infer the actions behind observation-only demonstrations by
maximising their evidence under a frozen world model (Zhang et al., NeurIPS 2023).

The demonstration's actions are latent. The policy pi(a | s) over the world model's
state features is their amortised inference model: while the model filters a
demonstration, each a_{t-1} is sampled from pi(. | s_{t-1}) (reparameterised) and drives
the model's step into o_t. Only the policy's parameters move; the loss is the negative
ELBO of the demonstration's observations,

    - sum_t E[log p(o_t | s_t)] + KL(q(z_t | h_t, o_t) || p(z_t | h_t))   [+ an action prior term],

summed over time and averaged over the batch. `action_prior` picks the last term:

- "none" (the default): the released code (argmax-ai/aime, `scripts/train_aime.py` and
  `filter_with_policy` in `aime/models/ssm.py`), which produced the paper's numbers, has no
  action-prior term (without its optional inverse model);
- "uniform": the paper's description, the KL of the policy against a uniform action
  prior, `action_prior_scale` x sum_t KL(pi || U[-1, 1]^A), estimated from the
  reparameterised sample as log pi(a) + A log 2 (what this codebase ran before 2026-12-03);
- "tanh_normal": AIME-v2's entropy term, `action_prior_scale` x the mean over (T, B) of the
  analytic KL(pi || TanhNormal(0, 0.8742)) (argmax-ai/aime-v2, `TanhNormal.entropy`).

`policy="reference"` (the default) is the reference's policy network: separate mean and
std MLPs, std = softplus + 1e-6, PyTorch's initialisation (`networks.MeanStdPolicy`);
`policy="bounded"` is SAC's actor (one MLP, a bounded log-std, an initial std of 0.22).
The reference's effective `nll_reweight` is `none` (`rssmo.yaml` overrides the `dim_wise` of
`aime.yaml`); `dim_wise` would multiply each term by the decoder's standard deviation, which
is 1 for the `rssmo` decoders we use, so either is the identity here.

In the environment the policy acts on the model's filtered state: each step the model
observes o_t (with a_{t-1}) and the policy's mode gives a_t (`controller`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from algos.common import hparams as hp_lib
from algos.common import networks
from envs import sequences
from worldmodels import sequence


def default_config() -> ml_collections.ConfigDict:
    """The reference's `aime.yaml` (phase 2), with the world model frozen."""
    c = ml_collections.ConfigDict()
    c.action_prior = "none"      # "none" (the released code) | "uniform" (the paper) | "tanh_normal" (AIME-v2)
    c.action_prior_scale = 1.0   # its weight (not used with "none")
    c.policy = "reference"       # "reference" (mean and std MLPs, softplus std) | "bounded" (SAC's actor)
    c.lr = 3e-4
    c.grad_clip = 100.0
    c.batch_size = 50
    c.seq_len = 50
    c.num_updates = 50_000       # 500 epochs x 100 batches
    c.num_demos = 100
    c.hidden_sizes = (128, 128)
    c.activation = "elu"
    c.free_nats = 0.0            # the README's `world_model.free_nats=0.0`
    c.kl_balance = None          # and `world_model.kl_rebalance=null`
    c.kl_scale = 1.0
    return c


RANGES = {
    "action_prior_scale": hp_lib.NON_NEGATIVE, "lr": hp_lib.POSITIVE, "grad_clip": hp_lib.POSITIVE,
    "batch_size": hp_lib.AT_LEAST_ONE, "seq_len": hp_lib.Range(2), "num_updates": hp_lib.AT_LEAST_ONE,
    "num_demos": hp_lib.AT_LEAST_ONE, "hidden_sizes": hp_lib.AT_LEAST_ONE, "free_nats": hp_lib.NON_NEGATIVE,
    "kl_balance": hp_lib.UNIT, "kl_scale": hp_lib.NON_NEGATIVE,
}


def check_config(config: ml_collections.ConfigDict) -> None:
    if config.action_prior not in ACTION_PRIORS:
        raise ValueError(f"action_prior must be one of {ACTION_PRIORS}, got {config.action_prior!r}")
    if config.policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {config.policy!r}")


class PolicyState(NamedTuple):
    params: Any
    opt_state: Any
    step: jax.Array


ACTION_PRIORS = ("none", "uniform", "tanh_normal")
POLICIES = ("reference", "bounded")
AIME_V2_PRIOR_STD = 0.8742  # the std of AIME-v2's TanhNormal reference policy (`aimev2/dist.py`)


def policy_net(config: ml_collections.ConfigDict, action_dim: int):
    if config.policy == "bounded":
        return networks.TanhGaussianPolicy(action_dim, tuple(config.hidden_sizes), config.activation)
    return networks.MeanStdPolicy(action_dim, tuple(config.hidden_sizes), config.activation)


def optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(config.lr))


def init(config: ml_collections.ConfigDict, model, key: jax.Array) -> PolicyState:
    params = policy_net(config, model.action_dim).init(key, jnp.zeros((1, model.feature_dim)))
    return PolicyState(params, optimizer(config).init(params), jnp.zeros((), jnp.int32))


def make_actor(config, model, policy_params, low: float, high: float):
    """(features [B, F], key) -> (action in the env box [B, A], the action-prior term of that step [B])
    for `observe_with_actor`: log pi(a) + A log 2 under "uniform", the analytic KL to AIME-v2's
    TanhNormal under "tanh_normal" (both summed over the action dimensions), zero under "none"."""
    net = policy_net(config, model.action_dim)

    def actor(features, key):
        mean, log_std = net.apply(policy_params, features)
        unit, log_prob = networks.tanh_gaussian_sample(mean, log_std, key)
        if config.action_prior == "uniform":
            term = log_prob.sum(-1) + model.action_dim * jnp.log(2.0)
        elif config.action_prior == "tanh_normal":
            term = networks.gaussian_kl(mean, log_std, AIME_V2_PRIOR_STD).sum(-1)
        else:
            term = jnp.zeros(mean.shape[:-1])
        return networks.to_action_box(unit, low, high), term

    return actor


def action_prior_loss(config, term: jax.Array, mask: jax.Array) -> jax.Array:
    """The action-prior term of a batch of windows (`term`, `mask` [T, B]), weighted by its scale."""
    if config.action_prior == "uniform":  # summed over time, averaged over the batch, as the ELBO
        return config.action_prior_scale * (term * mask).sum() / term.shape[1]
    if config.action_prior == "tanh_normal":  # averaged over (T, B), as AIME-v2's entropy term
        return config.action_prior_scale * (term * mask).sum() / jnp.maximum(mask.sum(), 1.0)
    return jnp.zeros(())


def loss(config, model, wm_params, policy_params, obs: jax.Array, mask: jax.Array, key: jax.Array,
         low: float = -1.0, high: float = 1.0):
    """The negative ELBO of demonstration windows `obs` [T, B, ...] (mask [T, B]) and its terms."""
    actor = make_actor(config, model, policy_params, low, high)
    filtered, actions, term = sequence.observe_with_actor(model, wm_params, obs, actor, key)
    value, metrics = sequence.elbo(model, wm_params, obs, filtered, mask, config.free_nats, config.kl_balance,
                                   config.kl_scale)
    metrics["action_prior"] = action_prior_loss(config, term, mask)
    metrics["policy_loss"] = value + metrics["action_prior"]
    return metrics["policy_loss"], (metrics, actions)


def update(config, model, wm_params, state: PolicyState, obs, mask, key, low=-1.0, high=1.0):
    grads, (metrics, _) = jax.grad(
        lambda p: loss(config, model, wm_params, p, obs, mask, key, low, high), has_aux=True)(state.params)
    updates, opt_state = optimizer(config).update(grads, state.opt_state, state.params)
    metrics["grad_norm"] = optax.global_norm(grads)
    return PolicyState(optax.apply_updates(state.params, updates), opt_state, state.step + 1), metrics


def train_step(config, model, wm_params, demos: sequences.Sequences, state: PolicyState, key: jax.Array,
               low: float = -1.0, high: float = 1.0):
    """One update on a fresh batch of demonstration windows (observations only); the world model stays fixed."""
    k_batch, k_loss = jax.random.split(key)
    obs, _, mask = sequences.sample_windows(demos, k_batch, config.batch_size, config.seq_len)
    return update(config, model, wm_params, state, obs, mask, k_loss, low, high)


def make_chunk(config, model, wm_params, demos: sequences.Sequences, num_updates: int,
               low: float = -1.0, high: float = 1.0):
    """`chunk(state, key) -> (state, metrics [num_updates])` on windows of the demonstrations (not jitted).

    `demos` holds observations only (`envs.sequences.observations_only`); the
    world model's parameters stay fixed.
    """
    check_config(config)

    def body(state, key):
        return train_step(config, model, wm_params, demos, state, key, low, high)

    def chunk(state, key):
        return jax.lax.scan(body, state, jax.random.split(jax.random.fold_in(key, state.step), num_updates))

    return chunk


def make_train(config, model, wm_params, demos: sequences.Sequences, low=-1.0, high=1.0):
    """`train(key) -> (PolicyState, metrics [num_updates])`, for `jit` and `vmap` over keys
    (and over `wm_params` with a leading seed axis, by vmapping a closure)."""
    chunk = make_chunk(config, model, wm_params, demos, config.num_updates, low, high)

    def train(key):
        k_init, k_run = jax.random.split(key)
        return chunk(init(config, model, k_init), k_run)

    return train


def controller(config, model, wm_params, policy_params, low: float, high: float, sample_state: bool = True,
               explore: bool = False):
    """The policy in the environment: `(init(batch) -> carry, step(carry, obs, key) -> (carry, action))`.

    The carry is the model's filtered state and the previous action (zero at the
    start); each step observes o_t, then acts with the policy's mode, as the
    reference's `PolicyActor` does (`explore=True`: a sample, as it collects data online).
    """
    net = policy_net(config, model.action_dim)

    def init_carry(batch: int):
        return model.initial_state((batch,)), jnp.zeros((batch, model.action_dim))

    def step(carry, obs, key):
        state, prev_action = carry
        k_state, k_act = jax.random.split(key)
        state, _, _ = model.observe_step(wm_params, state, prev_action, model.embed(wm_params, obs), k_state,
                                         sample=sample_state)
        mean, log_std = net.apply(policy_params, model.features(state))
        unit = networks.tanh_gaussian_sample(mean, log_std, k_act)[0] if explore else jnp.tanh(mean)
        action = networks.to_action_box(unit, low, high)
        return (state, action), action

    return init_carry, step
