"""Training a world model on sequences drawn from a dataset (AIME's phase 1).

`Sequences` holds whole episodes; `sample_windows` draws a batch of fixed-length
windows from them (uniform over episodes, then over start steps). `init`, `update`
and `make_train(model, config, data) -> train(key)` are pure; `train` runs
`config.num_updates` updates in one `lax.scan`, so `jit` and `vmap` over seeds accept it.
Drivers with a progress bar call the jitted `make_chunk` repeatedly instead.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from worldmodels import sequence
from worldmodels.rssm import model_config


class Sequences(NamedTuple):
    """Episodes for sequence models.

    obs          [E, T + 1, *obs_shape]
    prev_actions [E, T + 1, A]   the action that led to obs[:, t]; zero at t = 0
    lengths      [E]             valid transitions per episode (obs valid up to index lengths)
    """

    obs: jax.Array
    prev_actions: jax.Array
    lengths: jax.Array


def from_dataset(dataset) -> Sequences:
    """From an `envs.datasets.Dataset` with actions (an embodiment dataset, or oracle demonstrations)."""
    if dataset.actions is None:
        raise ValueError("this dataset has no actions; a world model learns from embodiment data "
                         "(for demonstrations use observations_only)")
    actions = np.asarray(dataset.actions, np.float32)
    prev = np.concatenate([np.zeros_like(actions[:, :1]), actions], axis=1)
    return Sequences(jnp.asarray(dataset.obs, jnp.float32), jnp.asarray(prev), jnp.asarray(dataset.lengths))


def observations_only(dataset, action_dim: int) -> Sequences:
    """Demonstrations for AIME's phase 2: observations, with zero placeholders for the unknown actions."""
    obs = jnp.asarray(dataset.obs, jnp.float32)
    return Sequences(obs, jnp.zeros((*obs.shape[:2], action_dim), jnp.float32), jnp.asarray(dataset.lengths))


def sample_windows(data: Sequences, key: jax.Array, batch_size: int, length: int,
                   num_episodes: jax.Array | int | None = None, extras: tuple[jax.Array, ...] = ()):
    """A batch of windows: (obs [L, B, ...], prev_actions [L, B, A], mask [L, B]).

    Windows start anywhere an episode still has `length` observations; in episodes
    shorter than that they start at 0 and `mask` marks the steps past the end.
    `num_episodes` (traced or not) samples only the first episodes (a buffer being
    filled); `extras`, arrays [E, T + 1, ...] aligned with `obs`, are cut into the same
    windows and returned after the mask.
    """
    num_steps = data.obs.shape[1]
    if length > num_steps:
        raise ValueError(f"windows of {length} steps do not fit episodes of {num_steps} observations")
    k_ep, k_start = jax.random.split(key)
    filled = data.obs.shape[0] if num_episodes is None else num_episodes
    episode = jax.random.randint(k_ep, (batch_size,), 0, filled)
    last_start = jnp.maximum(data.lengths[episode] + 1 - length, 0)
    start = jax.random.randint(k_start, (batch_size,), 0, last_start + 1)
    t = start[:, None] + jnp.arange(length)[None, :]                    # [B, L]
    mask = (t <= data.lengths[episode][:, None]).astype(jnp.float32)
    t = jnp.minimum(t, num_steps - 1)
    cut = [jnp.swapaxes(x[episode[:, None], t], 0, 1) for x in (data.obs, data.prev_actions, *extras)]
    return (cut[0], cut[1], mask.T, *cut[2:])


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


def make_chunk(model, config: ml_collections.ConfigDict, data: Sequences, num_updates: int):
    """`chunk(state, key) -> (state, metrics [num_updates])`: that many updates in one scan (not jitted)."""

    def body(state, key):
        k_batch, k_loss = jax.random.split(key)
        batch = sample_windows(data, k_batch, config.batch_size, config.seq_len)
        return update(model, config, state, batch, k_loss)

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
