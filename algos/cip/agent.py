"""CIP (Cao et al., ICLR 2025): Causal Information Prioritization on SAC.

Every `discovery_every` environment steps (first at `discovery_first`), the reward row of
a causal graph over [state, action, reward] is discovered on the latest
`discovery_window` transitions of replay (`algos.cip.discovery`), giving state
weights w_s, action weights w_a and the mask of state dimensions that drive the
reward. Between discoveries, each update:

- replaces `augment_fraction` of the sampled batch by counterfactuals: the state
  dimensions outside the mask are swapped with another sampled transition's, in s and
  s' alike, keeping the action, reward and done flags (`algos.cip.augment`). On-the-fly
  swaps of uniformly sampled pairs are what a replay holding real and synthetic
  transitions in that proportion would give, with the current mask;
- weights SAC's per-dimension log-probabilities by w_a (blended by
  `entropy_weighting`: 1 the paper's, 0 plain SAC) in the critic target, the actor loss
  and the temperature loss (ACE's causality-aware entropy);
- trains an inverse model q(a | s, s') and a forward model p(s' | s, a) (a Gaussian over s' - s) by
  maximum likelihood on replayed (s, a, s'), and gives the actor the empowerment bonus
  lambda * E[sum_i w_i (log q(a_i|s,s') - log pi(a_i|s))], lambda = `empowerment_scale` * alpha after
  `empowerment_warmup` updates. With `empowerment="forward_model"` (the default) a ~ pi(.|s) and
  s' ~ p(.|s, a) come from the same transition under the current policy (both reparameterised), so
  with unit weights the bonus is the Barber-Agakov lower bound H(pi) + E log q on I(s'; a | s), the
  variational empowerment of the paper. `"replay_next_state"` (what we ran before 2026-12-03) pairs a
  fresh a ~ pi with the replayed s': -KL(pi || q(.|s, s'_replay)), a pull towards past actions, not
  a mutual information; the released code's term is inert (no gradient reaches the actor);
- every `reset_interval` updates (past `reset_first`), ACE's gradient-dormancy reset: with
  beta the fraction of the actor's hidden neurons whose weight-gradient norm is below
  `dormant_threshold` x their layer's mean, eta = clip(1 - beta, 0.2, 0.9) and every
  network (actor, critics, target critics, inverse and forward models) becomes eta * theta + (1 -
  eta) * theta_fresh; the Adam states start afresh.

`behaviour="released"` reproduces the authors' released code as a control: there the
weights, the counterfactuals and the inverse model never reach training (see
the released code, github HYeCao/CIP), so it is SAC with ACE's resets; discovery is skipped since it
would change nothing. All numeric switches are hyperparameters (`HPARAMS`), so CIP, its
ablations and plain SAC (`parts_on` = 0, or the three parts at 0) can train as one vmapped
program.
"""

from __future__ import annotations

import math
from typing import Mapping

import jax
import jax.numpy as jnp
import ml_collections
from flax import struct

from algos import sac
from algos.common import hparams as hp_lib
from algos.common import networks, offpolicy, optim
from algos.cip import augment, discovery
from envs.core import Environment, EnvSpec

CIP_HPARAMS = ("inverse_lr", "augment_fraction", "entropy_weighting", "empowerment_scale", "parts_on")
HPARAMS = sac.HPARAMS + CIP_HPARAMS
BEHAVIOURS = ("paper", "released")
DISCOVERY = ("lingam", "reward_last")
EMPOWERMENT = ("forward_model", "replay_next_state")
RANGES = {
    **sac.RANGES, "discovery_every": hp_lib.AT_LEAST_ONE, "discovery_first": hp_lib.NON_NEGATIVE,
    "discovery_window": hp_lib.Range(2), "causal_threshold": hp_lib.NON_NEGATIVE, "augment_fraction": hp_lib.UNIT,
    "entropy_weighting": hp_lib.UNIT, "empowerment_scale": hp_lib.NON_NEGATIVE, "inverse_lr": hp_lib.POSITIVE,
    "parts_on": hp_lib.UNIT, "empowerment_warmup": hp_lib.NON_NEGATIVE, "inverse_hidden_sizes": hp_lib.AT_LEAST_ONE,
    "reset_interval": hp_lib.NON_NEGATIVE, "reset_first": hp_lib.NON_NEGATIVE, "dormant_threshold": hp_lib.NON_NEGATIVE,
}


def default_config() -> ml_collections.ConfigDict:
    """SAC with the reference code's settings, and CIP's parts (all on, as in the paper)."""
    c = sac.default_config()
    c.hidden_sizes = (256, 256, 256)
    c.actor_update_interval = 2
    c.target_update_interval = 2
    c.learning_starts = 10_000
    # causal discovery
    c.discovery = "lingam"  # "lingam" (DirectLiNGAM order) | "reward_last" (the reward has no children)
    c.discovery_every = 10_000  # environment steps
    c.discovery_first = 10_000
    c.discovery_window = 10_000  # latest transitions
    c.causal_threshold = 0.05  # |B[r, s]| above this: a state dimension that drives the reward (ours: the code has none)
    c.causal_units = "raw"  # edge strengths in the inputs' units, as causal-learn's; "standardised": per std (before 2026-12-03)
    c.weights_from = "signed"  # softmax of the signed strengths (the paper's and the code's) | "magnitude": of |B|
    # the parts (numeric: vmappable)
    c.augment_fraction = 0.5  # share of each batch made counterfactual (the code's 1:1 mixing)
    c.entropy_weighting = 1.0
    c.empowerment_scale = 0.01  # lambda = this x alpha
    c.inverse_lr = 3e-4
    c.parts_on = 1.0  # scales the three above: a grid over [0, 1] trains plain SAC beside CIP in one program
    # structure of the parts
    c.empowerment_warmup = 2_000  # updates
    c.inverse_hidden_sizes = (256, 256)  # the inverse model's, and the forward model's
    c.empowerment = "forward_model"  # "forward_model" (a lower bound on I(s'; a | s) under pi) | "replay_next_state"
    c.reset_interval = 100_000  # updates; 0: no resets
    c.reset_first = 5_000
    c.dormant_threshold = 0.05
    c.behaviour = "paper"  # "paper" | "released" (the authors' code, as a control)
    return c


@struct.dataclass
class CIPState:
    sac: sac.SACState
    inverse_params: dict
    inverse_opt: tuple
    weights: discovery.CausalWeights
    mask: jax.Array  # [S] bool: state dimensions kept in counterfactuals
    hp: dict  # CIP's numeric hyperparameters
    env_steps: jax.Array
    discoveries: jax.Array
    resets: jax.Array
    forward_params: dict
    forward_opt: tuple
    inverse: networks.TanhGaussianPolicy = struct.field(pytree_node=False)
    forward: networks.GaussianMLP = struct.field(pytree_node=False)
    empowerment_warmup: int = struct.field(pytree_node=False)
    empowerment_mode: str = struct.field(pytree_node=False, default="forward_model")


def check_config(config) -> None:
    if config.behaviour not in BEHAVIOURS:
        raise ValueError(f"config.behaviour must be one of {BEHAVIOURS}, got {config.behaviour!r}")
    if config.discovery not in DISCOVERY:
        raise ValueError(f"config.discovery must be one of {DISCOVERY}, got {config.discovery!r}")
    if config.empowerment not in EMPOWERMENT:
        raise ValueError(f"config.empowerment must be one of {EMPOWERMENT}, got {config.empowerment!r}")
    if config.causal_units not in ("raw", "standardised"):
        raise ValueError(f"config.causal_units must be 'raw' or 'standardised', got {config.causal_units!r}")
    if config.weights_from not in ("signed", "magnitude"):
        raise ValueError(f"config.weights_from must be 'signed' or 'magnitude', got {config.weights_from!r}")
    if config.discovery_first < config.discovery_window:
        raise ValueError(f"config.discovery_first ({config.discovery_first}) must be >= config.discovery_window "
                         f"({config.discovery_window}): the first window must be filled with real transitions")
    if config.learning_starts > config.replay_capacity or config.discovery_window > config.replay_capacity:
        raise ValueError("config.replay_capacity must hold the discovery window and the random prefill")
    if not 0.0 <= config.augment_fraction <= 1.0:
        raise ValueError(f"config.augment_fraction must be in [0, 1], got {config.augment_fraction}")


def _uniform_weights(spec: EnvSpec) -> discovery.CausalWeights:
    s, a = spec.obs_shape[-1], spec.action_size
    return discovery.CausalWeights(state=jnp.ones(s), action=jnp.ones(a), reward_row=jnp.zeros(s + a),
                                   order=jnp.arange(s + a + 1, dtype=jnp.int32))


def _inverse_init(inverse: networks.TanhGaussianPolicy, key: jax.Array, spec: EnvSpec) -> dict:
    return inverse.init(key, jnp.zeros((2 * spec.obs_shape[-1],), jnp.float32))


def _forward_init(forward: networks.GaussianMLP, key: jax.Array, spec: EnvSpec) -> dict:
    return forward.init(key, jnp.zeros((spec.obs_shape[-1] + spec.action_size,), jnp.float32))


def init(key: jax.Array, spec: EnvSpec, config, hparams: Mapping[str, jax.Array] | None = None) -> CIPState:
    """SAC's state, an inverse model, uniform weights (until the first discovery)."""
    check_config(config)
    overrides = dict(hparams or {})
    hp = hp_lib.resolve(config, CIP_HPARAMS, {k: v for k, v in overrides.items() if k in CIP_HPARAMS})
    if config.behaviour == "released":  # the code's parts never reach training
        hp = {**hp, **{k: jnp.zeros((), jnp.float32) for k in ("augment_fraction", "entropy_weighting",
                                                                "empowerment_scale")}}
    k_sac, k_inv, k_fwd = jax.random.split(key, 3)
    sac_state = sac.init(k_sac, spec, config, {k: v for k, v in overrides.items() if k not in CIP_HPARAMS})
    inverse = networks.TanhGaussianPolicy(spec.action_size, tuple(config.inverse_hidden_sizes), config.activation)
    forward = networks.GaussianMLP(spec.obs_shape[-1], tuple(config.inverse_hidden_sizes), config.activation)
    inverse_params = _inverse_init(inverse, k_inv, spec)
    forward_params = _forward_init(forward, k_fwd, spec)
    zero = jnp.zeros((), jnp.int32)
    return CIPState(
        sac=sac_state, inverse_params=inverse_params, inverse_opt=sac_state.tx.init(inverse_params),
        weights=_uniform_weights(spec), mask=jnp.ones(spec.obs_shape[-1], bool), hp=hp, env_steps=zero,
        discoveries=zero, resets=zero, forward_params=forward_params, forward_opt=sac_state.tx.init(forward_params),
        inverse=inverse, forward=forward, empowerment_warmup=int(config.empowerment_warmup),
        empowerment_mode=config.empowerment,
    )


def act(state: CIPState, obs: jax.Array, key: jax.Array, deterministic: bool = False) -> jax.Array:
    return sac.act(state.sac, obs, key, deterministic)


def counterfactual_sequences(seq, mask: jax.Array, key: jax.Array, fraction: jax.Array):
    """Replace the first round(`fraction` x B) sequences of `seq` [B, n, ...] by counterfactuals.

    Each is swapped, outside `mask` [S], with a random other sequence of the batch, in
    every obs and next_obs of the sequence; actions, rewards and flags stay.
    """
    b = seq.obs.shape[0]
    partner = jax.random.permutation(key, b)
    obs, next_obs = augment.swap(seq.obs, seq.next_obs, seq.obs[partner], seq.next_obs[partner], mask)
    synthetic = (jnp.arange(b) < jnp.round(fraction * b))[:, None, None]
    return seq.replace(obs=jnp.where(synthetic, obs, seq.obs), next_obs=jnp.where(synthetic, next_obs, seq.next_obs))


def _action_weights(state: CIPState) -> jax.Array:
    """w_a blended with ones by `entropy_weighting` (and `parts_on`): [A]."""
    return 1.0 + state.hp["parts_on"] * state.hp["entropy_weighting"] * (state.weights.action - 1.0)


def inverse_log_prob(state: CIPState, params, obs: jax.Array, next_obs: jax.Array, unit_action: jax.Array):
    """Per-dimension log q(a | s, s') [B, A] of actions in [-1, 1]."""
    mean, log_std = state.inverse.apply(params, jnp.concatenate([obs, next_obs], axis=-1))
    return networks.tanh_gaussian_log_prob(mean, log_std, unit_action)


def inverse_loss(params, state: CIPState, obs, next_obs, unit_action) -> jax.Array:
    """Negative log-likelihood of the replayed actions under q(a | s, s')."""
    return -jnp.mean(jnp.sum(inverse_log_prob(state, params, obs, next_obs, unit_action), axis=-1))


def forward_loss(params, state: CIPState, obs, unit_action, next_obs) -> jax.Array:
    """Negative log-likelihood of the replayed s' - s under the forward model's Gaussian p(. | s, a)."""
    mean, log_std = state.forward.apply(params, jnp.concatenate([obs, unit_action], axis=-1))
    return -jnp.mean(networks.gaussian_log_prob(mean, log_std, next_obs - obs))


def predicted_next_state(state: CIPState, params, obs: jax.Array, unit_action: jax.Array, key: jax.Array) -> jax.Array:
    """s' ~ p(. | s, a) from the forward model, reparameterised (gradients reach a): [B, S]."""
    mean, log_std = state.forward.apply(params, jnp.concatenate([obs, unit_action], axis=-1))
    return obs + mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)


def empowerment_bonus(state: CIPState, sac_state: sac.SACState, actor_params, obs: jax.Array, next_obs: jax.Array,
                      w_a: jax.Array, key: jax.Array) -> jax.Array:
    """E[sum_i w_i (log q(a_i|s,s') - log pi(a_i|s))] over a batch of replayed states s [B, S].

    a ~ pi(.|s) is the policy's reparameterised sample. With `empowerment_mode="forward_model"`, s' is the
    forward model's sample for (s, a), so with unit weights this is the Barber-Agakov bound
    H(pi(.|s)) + E log q(a|s,s') <= I(s'; a | s) under the current policy. With "replay_next_state",
    s' is the replayed `next_obs` and the bonus is -KL(pi || q(.|s, s'_replay)) <= 0, a pull towards
    the actions that reached past next states. (Taken at the replayed actions instead,
    -log pi(a_replay|s) has no upper bound: the policy runs from them and its entropy diverged on
    CheetahRun after 29k-35k updates, in all three seeds.)
    """
    k_act, k_next = jax.random.split(key)
    mean, log_std = sac_state.actor.apply(actor_params, obs)
    action, log_pi = networks.tanh_gaussian_sample(mean, log_std, k_act)
    if state.empowerment_mode == "forward_model":
        next_obs = predicted_next_state(state, jax.lax.stop_gradient(state.forward_params), obs, action, k_next)
    log_q = inverse_log_prob(state, jax.lax.stop_gradient(state.inverse_params), obs, next_obs, action)
    return jnp.mean(jnp.sum(w_a * (log_q - log_pi), axis=-1))


def update(state: CIPState, seq, key: jax.Array) -> tuple[CIPState, dict]:
    """One CIP update on sampled sequences `seq` [B, nstep] (see the module docstring).

    SAC's part uses `key` exactly as `sac.update` does, so with the switches at 0 and
    uniform weights the SAC state evolves as plain SAC's.
    """
    hp = state.hp
    k_swap = jax.random.fold_in(key, 1)
    real = seq
    seq = counterfactual_sequences(seq, state.mask, k_swap, hp["parts_on"] * hp["augment_fraction"])
    w_a = _action_weights(state)
    coef = jnp.where(state.sac.updates >= state.empowerment_warmup, hp["parts_on"] * hp["empowerment_scale"], 0.0)

    def empowerment(actor_params, s: sac.SACState, batch: offpolicy.NStepBatch, k: jax.Array):
        bonus = empowerment_bonus(state, s, actor_params, batch.obs, batch.next_obs, w_a, k)
        return coef * jax.lax.stop_gradient(jnp.exp(s.log_alpha)) * bonus, {"empowerment": bonus}

    sac_state, info = sac.update(state.sac, seq, key, w_a, empowerment)
    first = jax.tree.map(lambda x: x[:, 0], real)
    unit = sac.unit_action(state.sac, first.action)
    loss, grads = jax.value_and_grad(inverse_loss)(state.inverse_params, state, first.obs, first.next_obs, unit)
    inverse_params, inverse_opt = optim.gradient_step(state.sac.tx, state.inverse_params, state.inverse_opt, grads,
                                                      hp["inverse_lr"])
    f_loss, f_grads = jax.value_and_grad(forward_loss)(state.forward_params, state, first.obs, unit, first.next_obs)
    forward_params, forward_opt = optim.gradient_step(state.sac.tx, state.forward_params, state.forward_opt, f_grads,
                                                      hp["inverse_lr"])
    state = state.replace(sac=sac_state, inverse_params=inverse_params, inverse_opt=inverse_opt,
                          forward_params=forward_params, forward_opt=forward_opt)
    return state, {**info, "inverse_loss": loss, "forward_loss": f_loss, "discoveries": state.discoveries,
                   "resets": state.resets,
                   "causal_state_dims": state.mask.sum(), "max_action_weight": state.weights.action.max()}


def discover(state: CIPState, window, config) -> CIPState:
    """New weights and mask from a window of transitions (leaves [N, ...])."""
    s_dim = window.obs.shape[-1]
    weights = discovery.reward_weights(window.obs, window.action, window.reward,
                                       assume_reward_last=config.discovery == "reward_last",
                                       units=config.causal_units, weights_from=config.weights_from)
    mask = augment.causal_mask(weights.reward_row[:s_dim], config.causal_threshold)
    mask = mask | ~mask.any()  # no dimension found to drive the reward: swap none, rather than all
    return state.replace(weights=weights, mask=mask, discoveries=state.discoveries + 1)


def dormant_fraction(grads, threshold: float) -> jax.Array:
    """Share of hidden neurons whose incoming weight-gradient norm is < `threshold` x their layer's mean.

    `grads` is a flax params tree of one MLP; the output layer (the last Dense) is not counted.
    """
    kernels = [(path, g) for path, g in jax.tree_util.tree_leaves_with_path(grads)
               if getattr(path[-1], "key", None) == "kernel"]
    kernels.sort(key=lambda pg: int(str(pg[0][-2].key).rsplit("_", 1)[-1]))
    dormant, total = 0.0, 0
    for _, g in kernels[:-1]:
        norms = jnp.linalg.norm(g, axis=0)  # one per output neuron
        dormant = dormant + jnp.sum(norms < threshold * norms.mean())
        total += norms.shape[0]
    return dormant / max(total, 1)


def reset(state: CIPState, batch: offpolicy.NStepBatch, key: jax.Array, spec: EnvSpec, config) -> CIPState:
    """ACE's reset: every network moves towards a fresh one by 1 - eta; Adam states restart."""
    k_grad, k_fresh, k_inv = jax.random.split(key, 3)
    w_a = _action_weights(state)
    grads = jax.grad(sac.actor_loss, has_aux=True)(state.sac.actor_params, state.sac, batch.obs, k_grad, w_a)[0]
    eta = jnp.clip(1.0 - dormant_fraction(grads, config.dormant_threshold), 0.2, 0.9)
    fresh = sac.init(k_fresh, spec, config, state.sac.hp)
    fresh_inverse = _inverse_init(state.inverse, k_inv, spec)
    fresh_forward = _forward_init(state.forward, jax.random.fold_in(k_inv, 1), spec)
    mix = lambda old, new: jax.tree.map(lambda o, n: eta * o + (1.0 - eta) * n, old, new)  # noqa: E731
    s = state.sac
    new_sac = s.replace(
        actor_params=mix(s.actor_params, fresh.actor_params), critic_params=mix(s.critic_params, fresh.critic_params),
        target_critic_params=mix(s.target_critic_params, fresh.critic_params), actor_opt=fresh.actor_opt,
        critic_opt=fresh.critic_opt, alpha_opt=fresh.alpha_opt,
    )
    inverse_params = mix(state.inverse_params, fresh_inverse)
    forward_params = mix(state.forward_params, fresh_forward)
    return state.replace(sac=new_sac, inverse_params=inverse_params, inverse_opt=s.tx.init(inverse_params),
                         forward_params=forward_params, forward_opt=s.tx.init(forward_params), resets=state.resets + 1)


def make_hook(config, spec: EnvSpec, schedule: offpolicy.Schedule, data: offpolicy.ReplayAccess):
    """Discovery and resets on their schedules (see `algos.common.offpolicy`)."""
    per_env = math.ceil(config.discovery_window / spec.num_envs)
    released = config.behaviour == "released"

    def hook(state: CIPState, buffer_state, key: jax.Array, iteration: jax.Array) -> CIPState:
        if not released:
            due = schedule.crosses(iteration, config.discovery_every, config.discovery_first)
            state = jax.lax.cond(due, lambda s: discover(s, data.latest(buffer_state, per_env), config),
                                 lambda s: s, state)
        if config.reset_interval:
            due = schedule.crosses(iteration, config.reset_interval, config.reset_first, unit="updates")
            k_sample, k_reset = jax.random.split(key)

            def do_reset(s: CIPState) -> CIPState:
                batch = offpolicy.nstep_batch(data.sample(buffer_state, k_sample), s.sac.hp["gamma"])
                return reset(s, batch, k_reset, spec, config)

            state = jax.lax.cond(due, do_reset, lambda s: s, state)
        return state

    return hook


def make_learner(config, env: Environment):
    """CIP as an off-policy `Learner`; `env` must be batched."""
    check_config(config)
    return offpolicy.make_learner(config, env, init=init, act=act, update=update, make_hook=make_hook)


def make_train(config, env: Environment):
    """`train(key, hparams=None) -> (carry, metrics [iterations, ...])` for the whole budget."""
    check_config(config)
    return offpolicy.make_train(config, env, init=init, act=act, update=update, make_hook=make_hook)


def num_iterations(config, num_envs: int) -> int:
    return offpolicy.num_iterations(config, num_envs)
