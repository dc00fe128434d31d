"""Training a world model on sequences drawn from a dataset (AIME's phase 1).

The data are `envs.sequences.Sequences` (whole episodes), cut into windows by
`envs.sequences.sample_windows`. `init`, `update`
and `make_train(model, config, data) -> train(key)` are pure; `train` runs
`config.num_updates` updates in one `lax.scan`, so `jit` and `vmap` over seeds accept it.
Drivers with a progress bar call the jitted `make_chunk` repeatedly instead.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from envs.sequences import Sequences, sample_windows
from worldmodels import sequence
from worldmodels.rssm import model_config


def default_config() -> ml_collections.ConfigDict:
    """AIME's phase 1 (`model-only.yaml` composed with `rssmo.yaml`)."""
    c = ml_collections.ConfigDict()
    c.model = model_config()
    c.lr = 3e-4
    c.grad_clip = 100.0
    c.batch_size = 50
    c.seq_len = 50
    c.num_updates = 100_000  # 1000 epochs x 100 batches
    c.free_nats = 1.0
    c.kl_balance = 0.8       # the reference's kl_rebalance; None for the plain KL
    c.kl_scale = 1.0
    return c


class TrainState(NamedTuple):
    params: object
    opt_state: object
    step: jax.Array


def optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(config.lr))


def init(model, config: ml_collections.ConfigDict, key: jax.Array) -> TrainState:
    params = model.init(key)
    return TrainState(params, optimizer(config).init(params), jnp.zeros((), jnp.int32))


def loss_fn(model, config, params, batch, key):
    obs, prev_actions, mask = batch
    filtered = sequence.observe(model, params, obs, prev_actions, key)
    return sequence.elbo(model, params, obs, filtered, mask, config.free_nats, config.kl_balance, config.kl_scale)


def update(model, config: ml_collections.ConfigDict, state: TrainState, batch, key: jax.Array):
    """One Adam step on the negative ELBO of `batch` (a `sample_windows` output)."""
    grads, metrics = jax.grad(lambda p: loss_fn(model, config, p, batch, key), has_aux=True)(state.params)
    updates, opt_state = optimizer(config).update(grads, state.opt_state, state.params)
    metrics["grad_norm"] = optax.global_norm(grads)
    return TrainState(optax.apply_updates(state.params, updates), opt_state, state.step + 1), metrics


def train_step(model, config: ml_collections.ConfigDict, data: Sequences, state: TrainState, key: jax.Array):
    """One update on a fresh batch of `config.batch_size` windows of `data`."""
    k_batch, k_loss = jax.random.split(key)
    batch = sample_windows(data, k_batch, config.batch_size, config.seq_len)
    return update(model, config, state, batch, k_loss)


def make_chunk(model, config: ml_collections.ConfigDict, data: Sequences, num_updates: int):
    """`chunk(state, key) -> (state, metrics [num_updates])`: that many updates in one scan (not jitted)."""

    def body(state, key):
        return train_step(model, config, data, state, key)

    def chunk(state, key):
        return jax.lax.scan(body, state, jax.random.split(jax.random.fold_in(key, state.step), num_updates))

    return chunk


def make_train(model, config: ml_collections.ConfigDict, data: Sequences):
    """`train(key) -> (TrainState, metrics [num_updates])`; `jit` and `vmap` over keys accept it."""
    chunk = make_chunk(model, config, data, config.num_updates)

    def train(key):
        k_init, k_run = jax.random.split(key)
        return chunk(init(model, config, k_init), k_run)

    return train


def evaluate(model, config: ml_collections.ConfigDict, params, data: Sequences, key: jax.Array,
             num_windows: int = 64, context: int = 10) -> dict[str, jax.Array]:
    """Held-out ELBO terms and the open-loop prediction error k = 1 .. seq_len - context steps ahead."""
    k_batch, k_elbo, k_open = jax.random.split(key, 3)
    batch = sample_windows(data, k_batch, num_windows, config.seq_len)
    _, metrics = loss_fn(model, config, params, batch, k_elbo)
    metrics["open_loop_mse"] = sequence.open_loop_error(model, params, batch[0], batch[1], context, k_open)
    return metrics
