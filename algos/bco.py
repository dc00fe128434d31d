"""AIME's baselines: BCO(0) and behavioural cloning with the true actions (the oracle).

BCO(0) (Torabi et al., 2018), as the AIME reference builds it (`train_bco.py`,
`bco.yaml`): an inverse dynamics model reads `stack + 1` consecutive observations and
predicts the action that led to the last one; it learns on the embodiment data. It then
labels the demonstrations, and a policy that reads the `stack` observations before that
action learns to reproduce the labels. Both are MLPs (2 x 128, ELU) with a tanh output,
trained with the mean squared error and Adam (lr 1e-3, batch 50). The reference stops
each stage by early stopping on a validation split; here each stage runs a fixed number
of updates (`idm_updates`, `policy_updates`). BC with actions trains the same policy on
the demonstrations' true actions.

Actions live in [-1, 1] inside the networks and are mapped to the environment's box.
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


def default_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.stack = 5
    c.hidden_sizes = (128, 128)
    c.activation = "elu"
    c.idm_lr = 1e-3
    c.policy_lr = 1e-3
    c.batch_size = 50
    c.idm_updates = 10_000
    c.policy_updates = 10_000
    return c


RANGES = {
    "stack": hp_lib.AT_LEAST_ONE, "hidden_sizes": hp_lib.AT_LEAST_ONE, "idm_lr": hp_lib.POSITIVE,
    "policy_lr": hp_lib.POSITIVE, "batch_size": hp_lib.AT_LEAST_ONE, "idm_updates": hp_lib.AT_LEAST_ONE,
    "policy_updates": hp_lib.AT_LEAST_ONE,
}


class Regressor(NamedTuple):
    params: Any
    opt_state: Any


def _net(config, action_dim: int) -> networks.MLP:
    return networks.MLP(tuple(config.hidden_sizes), action_dim, config.activation)


def predict(config, params, inputs: jax.Array, action_dim: int) -> jax.Array:
    """tanh(MLP(inputs)): an action in [-1, 1]^A."""
    return jnp.tanh(_net(config, action_dim).apply(params, inputs))


def to_unit(action: jax.Array, low: float, high: float) -> jax.Array:
    return 2.0 * (action - low) / (high - low) - 1.0


def windows(data: sequences.Sequences, key: jax.Array, batch_size: int, stack: int):
    """(observations [B, stack + 1, ...], the action that led to the last one [B, A], valid [B])."""
    obs, prev_actions, mask = sequences.sample_windows(data, key, batch_size, stack + 1)
    return jnp.swapaxes(obs, 0, 1), prev_actions[-1], mask.min(0)


def flat(obs: jax.Array) -> jax.Array:
    """[B, k, *obs_shape] -> [B, k * obs_dim]."""
    return obs.reshape(obs.shape[0], -1)


def fit(config, key: jax.Array, input_dim: int, action_dim: int, lr: float, num_updates: int, batch_fn):
    """Fit tanh(MLP) by MSE on `batch_fn(key) -> (inputs [B, D], targets [B, A], weights [B])`.

    Returns (params, losses [num_updates]). Pure; `jit` and `vmap` over keys accept it.
    """
    net = _net(config, action_dim)
    tx = optax.adam(lr)
    k_init, k_run = jax.random.split(key)
    params = net.init(k_init, jnp.zeros((1, input_dim)))

    def loss(p, inputs, targets, weights):
        err = ((jnp.tanh(net.apply(p, inputs)) - targets) ** 2).mean(-1)
        return (err * weights).sum() / jnp.maximum(weights.sum(), 1.0)

    def body(state, k):
        inputs, targets, weights = batch_fn(k)
        value, grads = jax.value_and_grad(loss)(state.params, inputs, targets, weights)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        return Regressor(optax.apply_updates(state.params, updates), opt_state), value

    state, losses = jax.lax.scan(body, Regressor(params, tx.init(params)), jax.random.split(k_run, num_updates))
    return state.params, losses


def train_idm(config, key, embodiment: sequences.Sequences, low: float, high: float):
    """The inverse dynamics model on embodiment data: (params, losses)."""
    obs_dim, action_dim = embodiment.obs.shape[-1], embodiment.prev_actions.shape[-1]

    def batch(k):
        obs, action, valid = windows(embodiment, k, config.batch_size, config.stack)
        return flat(obs), to_unit(action, low, high), valid

    return fit(config, key, (config.stack + 1) * obs_dim, action_dim, config.idm_lr, config.idm_updates, batch)


def train_policy(config, key, demos: sequences.Sequences, label_fn, action_dim: int):
    """A stacked-observation policy on demonstrations labelled by `label_fn(obs [B, stack + 1, ...], true_action)`."""
    obs_dim = demos.obs.shape[-1]

    def batch(k):
        obs, action, valid = windows(demos, k, config.batch_size, config.stack)
        return flat(obs[:, :-1]), jax.lax.stop_gradient(label_fn(obs, action)), valid

    return fit(config, key, config.stack * obs_dim, action_dim, config.policy_lr, config.policy_updates, batch)


def train_bco(config, key, embodiment, demos, low: float, high: float):
    """BCO(0): returns (idm_params, policy_params, metrics)."""
    k_idm, k_pol = jax.random.split(key)
    action_dim = embodiment.prev_actions.shape[-1]
    idm_params, idm_losses = train_idm(config, k_idm, embodiment, low, high)
    policy_params, policy_losses = train_policy(
        config, k_pol, demos, lambda obs, _: predict(config, idm_params, flat(obs), action_dim), action_dim)
    return idm_params, policy_params, {"idm_loss": idm_losses, "policy_loss": policy_losses}


def train_bc(config, key, demos_with_actions, low: float, high: float):
    """BC with the demonstrations' true actions (the oracle): (policy_params, losses)."""
    action_dim = demos_with_actions.prev_actions.shape[-1]
    return train_policy(config, key, demos_with_actions, lambda _, action: to_unit(action, low, high), action_dim)


def controller(config, policy_params, obs_dim: int, action_dim: int, low: float, high: float):
    """The stacked-observation policy in the environment: `(init(batch), step(carry, obs, key))`.

    The stack starts filled with the first observation, as the reference's
    `StackPolicyActor` does.
    """

    def init_carry(batch: int):
        return jnp.zeros((batch, config.stack, obs_dim)), jnp.zeros((batch,), bool)

    def step(carry, obs, key):
        stack, started = carry
        stack = jnp.where(started[:, None, None], jnp.concatenate([stack[:, 1:], obs[:, None]], axis=1),
                          jnp.repeat(obs[:, None], config.stack, axis=1))
        action = networks.to_action_box(predict(config, policy_params, flat(stack), action_dim), low, high)
        return (stack, jnp.ones_like(started)), action

    return init_carry, step
