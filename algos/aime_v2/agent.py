"""AIME-v2: online imitation from observation with a pretrained world model.

It starts from AIME (the phase-1 world model and the phase-2 policy) and interacts with
the environment, training both as the reference `train_aime-v2.py` does. Each iteration
collects `num_envs` episodes with the policy (sampled actions), labels them with the
surrogate reward, and makes `updates_per_episode` updates, each:

1. **World model**, on a batch of windows mixing the embodiment dataset and the online
   data (`reg_ratio` of the batch from the embodiment data: the *data-driven
   regulariser* against the embodiment knowledge barrier; without it the batch is all
   online data). Loss: the phase-1 ELBO, plus, with the surrogate reward on, the NLL of
   a unit-variance reward head on the online windows' surrogate rewards.
2. **Policy**: AIME's loss on a batch of demonstration windows (the evidence of the
   demonstrations, with a 1e-4 entropy term as AIME-v2's `policy_entropy_scale`), plus,
   with the *surrogate reward* on (against the demonstration knowledge barrier),
   `value_gradient_scale` x a Dreamer-style value-gradient loss: imagine
   `imagine_horizon` steps from the world-model batch's filtered states with
   reparameterised actions, and maximise the lambda-returns of the predicted surrogate
   reward, bootstrapped by a target value network.
3. **Value network**: regress the lambda-returns (discount-weighted), Polyak target
   (tau 0.01 every update).

Both additions off is plain online fine-tuning of AIME. The surrogate reward itself
is in `surrogate.py`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from algos.common import evaluation, networks, returns
from algos.aime import imitation
from algos.aime_v2 import surrogate
from envs.core import Environment
from envs import sequences
from worldmodels import sequence, training as wm_training
from worldmodels.gaussian import Normal


def default_config() -> ml_collections.ConfigDict:
    """The reference's `aime-v2.yaml`."""
    c = ml_collections.ConfigDict()
    c.regulariser = True          # mix embodiment data into the world model's batches
    c.reg_ratio = 0.5             # `embodiment_dataset_reg_sampling_ratio`
    c.surrogate_reward = True     # train the policy on the surrogate reward too
    c.gamma = 0.99
    c.lam = 0.95
    c.imagine_horizon = 15
    c.imagine_starts = 0          # filtered states to imagine from; 0: all of the batch's
    c.value_hidden_sizes = (128, 128)
    c.value_lr = 8e-5
    c.value_tau = 0.01
    c.value_gradient_scale = 0.1
    c.batch_size = 50
    c.seq_len = 50
    c.num_envs = 1                # episodes collected per iteration
    c.updates_per_episode = 100   # `batch_per_epoch`
    c.num_iterations = 1000       # `epoch`
    c.eval_every = 50             # `test_period`, in iterations
    c.eval_episodes = 10
    c.likelihood_updates = 500    # the action-free likelihood model: 5 epochs of 100 batches
    c.world_model = wm_training.default_config()
    c.imitation = imitation.default_config()
    # AIME's evidence term with AIME-v2's small entropy bonus in place of the action prior
    c.imitation.action_kl_scale = 1e-4
    return c


class Buffer(NamedTuple):
    """Online episodes, a ring of `capacity` episodes aligned like `worldmodels.sequences.Sequences`."""

    obs: jax.Array            # [C, T + 1, ...]
    prev_actions: jax.Array   # [C, T + 1, A]
    rewards: jax.Array        # [C, T + 1] surrogate reward of each observation
    lengths: jax.Array        # [C]
    count: jax.Array          # episodes added so far


class State(NamedTuple):
    model_params: Any         # {"rssm": ..., "reward": ...}
    model_opt: Any
    policy: imitation.PolicyState
    value_params: Any
    value_target: Any
    value_opt: Any
    buffer: Buffer
    iteration: jax.Array


class _Scalar(nn.Module):
    hidden_sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, x):
        return networks.MLP(self.hidden_sizes, 1, "elu")(x)[..., 0]


def _adam(lr, clip):
    return optax.chain(optax.clip_by_global_norm(clip), optax.adam(lr))


class AIMEv2(NamedTuple):
    """The agent's pure functions, closed over its config, models and data (see `make`)."""

    init: Any
    iteration: Any
    evaluate: Any
    update: Any
    model_loss: Any


def make(config: ml_collections.ConfigDict, env: Environment, model, likelihood_model, likelihood_params,
         embodiment: sequences.Sequences, demos: sequences.Sequences) -> AIMEv2:
    """Build `init(key, wm_params, policy_params)`, `iteration(state, key)`, `evaluate(state, key)`,
    `update(state, key)` (one update on the current buffer) and `model_loss`; all pure, jit- and vmap-able."""
    imitation.check_config(config.imitation)
    spec = env.spec
    low, high = float(spec.action_low), float(spec.action_high)
    steps = spec.max_episode_steps
    capacity = config.num_envs * config.num_iterations
    n_reg = int(round(config.batch_size * config.reg_ratio)) if config.regulariser else 0
    n_online = config.batch_size - n_reg
    reward_head = _Scalar((config.world_model.model.hidden,))
    value_net = _Scalar(tuple(config.value_hidden_sizes))
    model_tx = _adam(config.world_model.lr, config.world_model.grad_clip)
    value_tx = _adam(config.value_lr, config.imitation.grad_clip)
    policy_tx = imitation.optimizer(config.imitation)
    wm_c = config.world_model

    def init(key, wm_params, policy_params):
        k_reward, k_value = jax.random.split(key)
        feat = jnp.zeros((1, model.feature_dim))
        model_params = {"rssm": wm_params, "reward": reward_head.init(k_reward, feat)}
        value_params = value_net.init(k_value, feat)
        obs_shape = demos.obs.shape[2:]
        buffer = Buffer(jnp.zeros((capacity, steps + 1, *obs_shape)), jnp.zeros((capacity, steps + 1, model.action_dim)),
                        jnp.zeros((capacity, steps + 1)), jnp.zeros((capacity,), jnp.int32), jnp.zeros((), jnp.int32))
        policy = imitation.PolicyState(policy_params, policy_tx.init(policy_params), jnp.zeros((), jnp.int32))
        return State(model_params, model_tx.init(model_params), policy, value_params, value_params,
                     value_tx.init(value_params), buffer, jnp.zeros((), jnp.int32))

    def model_loss(params, obs, prev_actions, mask, rewards, reward_mask, key):
        filtered = sequence.observe(model, params["rssm"], obs, prev_actions, key)
        loss, metrics = sequence.elbo(model, params["rssm"], obs, filtered, mask, wm_c.free_nats, wm_c.kl_balance,
                                      wm_c.kl_scale)
        if config.surrogate_reward:
            predicted = reward_head.apply(params["reward"], filtered.features)
            nll = -Normal(predicted, jnp.ones_like(predicted)).log_prob(rewards)
            reward_loss = (nll * mask * reward_mask).sum() / obs.shape[1]
            loss = loss + reward_loss
            metrics["reward_loss"] = reward_loss
        return loss, (metrics, filtered.features)

    def imagine(policy_params, model_params, starts, key):
        """Roll the policy `imagine_horizon` steps in the model from `starts` [N, F]."""
        actor = imitation.make_actor(config.imitation, model, policy_params, low, high)

        def step(state, k):
            k_act, k_model = jax.random.split(k)
            action, _ = actor(jax.lax.stop_gradient(model.features(state)), k_act)
            state, _ = model.imagine_step(model_params["rssm"], state, action, k_model)
            return state, model.features(state)

        _, features = jax.lax.scan(step, model.state_from_features(starts),
                                   jax.random.split(key, config.imagine_horizon))
        return features  # [H, N, F]

    def value_targets(features, model_params, value_target):
        rewards = reward_head.apply(model_params["reward"], features)
        values = value_net.apply(value_target, features)
        discounts = jnp.full_like(rewards, config.gamma)  # DMC tasks do not terminate
        lam_returns = returns.lambda_returns(rewards[:-1], values[:-1], discounts[:-1], values[-1], config.lam)
        weights = jnp.cumprod(jnp.concatenate([jnp.ones_like(discounts[:1]), discounts[:-1]], 0), axis=0)
        return lam_returns, weights

    def policy_loss(policy_params, model_params, value_target, demo_obs, demo_mask, starts, key):
        k_aime, k_img = jax.random.split(key)
        loss, (metrics, _) = imitation.loss(config.imitation, model, model_params["rssm"], policy_params, demo_obs,
                                            demo_mask, k_aime, low, high)
        aux = {"aime_loss": loss}
        if config.surrogate_reward:
            features = imagine(policy_params, model_params, starts, k_img)
            lam_returns, weights = value_targets(features, model_params, value_target)
            # as the reference: the returns from the second imagined step on, discount-weighted
            value_gradient = -jnp.mean(weights[:-2, :] * lam_returns[1:])
            loss = loss + config.value_gradient_scale * value_gradient
            aux.update(value_gradient_loss=value_gradient, features=jax.lax.stop_gradient(features),
                       lam_returns=jax.lax.stop_gradient(lam_returns), weights=weights)
        return loss, (metrics, aux)

    def update(state: State, key):
        k_reg, k_on, k_demo, k_model, k_pol, k_starts = jax.random.split(key, 6)
        b = state.buffer
        online = sequences.sample_windows(sequences.Sequences(b.obs, b.prev_actions, b.lengths), k_on, n_online,
                                            config.seq_len, num_episodes=jnp.minimum(b.count, capacity),
                                            extras=(b.rewards,))
        parts = [(*online, jnp.ones_like(online[2]))]
        if n_reg:
            obs, prev, mask = sequences.sample_windows(embodiment, k_reg, n_reg, config.seq_len)
            parts.insert(0, (obs, prev, mask, jnp.zeros_like(mask), jnp.zeros_like(mask)))
        obs, prev, mask, rewards, reward_mask = (jnp.concatenate(x, axis=1) for x in zip(*parts))
        (_, (m_metrics, features)), grads = jax.value_and_grad(model_loss, has_aux=True)(
            state.model_params, obs, prev, mask, rewards, reward_mask, k_model)
        updates, model_opt = model_tx.update(grads, state.model_opt, state.model_params)
        model_params = optax.apply_updates(state.model_params, updates)

        starts = jax.lax.stop_gradient(features.reshape(-1, features.shape[-1]))
        if config.surrogate_reward and config.imagine_starts:
            starts = starts[jax.random.choice(k_starts, starts.shape[0], (config.imagine_starts,), replace=False)]
        demo_obs, _, demo_mask = sequences.sample_windows(demos, k_demo, config.imitation.batch_size,
                                                            config.imitation.seq_len)
        (p_loss, (p_metrics, aux)), p_grads = jax.value_and_grad(policy_loss, has_aux=True)(
            state.policy.params, model_params, state.value_target, demo_obs, demo_mask, starts, k_pol)
        p_updates, p_opt = policy_tx.update(p_grads, state.policy.opt_state, state.policy.params)
        policy = imitation.PolicyState(optax.apply_updates(state.policy.params, p_updates), p_opt,
                                       state.policy.step + 1)
        metrics = {"model_loss": m_metrics["loss"], "elbo": m_metrics["elbo"], "policy_loss": p_loss,
                   "aime_loss": aux["aime_loss"]}
        value_params, value_target, value_opt = state.value_params, state.value_target, state.value_opt
        if config.surrogate_reward:
            metrics["reward_loss"] = m_metrics["reward_loss"]
            metrics["value_gradient_loss"] = aux["value_gradient_loss"]

            def value_loss(params):
                v = value_net.apply(params, aux["features"][:-1])
                return 0.5 * jnp.mean((aux["lam_returns"] - v) ** 2 * aux["weights"][:-1])

            v_loss, v_grads = jax.value_and_grad(value_loss)(value_params)
            v_updates, value_opt = value_tx.update(v_grads, value_opt, value_params)
            value_params = optax.apply_updates(value_params, v_updates)
            value_target = jax.tree.map(lambda t, o: (1 - config.value_tau) * t + config.value_tau * o,
                                        value_target, value_params)
            metrics["value_loss"] = v_loss
        return state._replace(model_params=model_params, model_opt=model_opt, policy=policy,
                              value_params=value_params, value_target=value_target, value_opt=value_opt), metrics

    def controller(state: State, explore: bool):
        return imitation.controller(config.imitation, model, state.model_params["rssm"], state.policy.params,
                                    low, high, explore=explore)

    def collect(state: State, key):
        obs, actions, _, done = evaluation.rollout_controller(env, controller(state, True), key, config.num_envs)
        obs, actions = jnp.swapaxes(obs, 0, 1), jnp.swapaxes(actions, 0, 1)         # [E, T + 1, ...], [E, T, A]
        ended = done.T.argmax(axis=1)
        lengths = jnp.where(done.T.any(axis=1), ended + 1, steps).astype(jnp.int32)
        prev = jnp.concatenate([jnp.zeros_like(actions[:, :1]), actions], axis=1)
        if config.surrogate_reward:
            rewards = surrogate.reward(likelihood_model, likelihood_params, jnp.swapaxes(obs, 0, 1)).T
        else:
            rewards = jnp.zeros(obs.shape[:2])
        b = state.buffer
        slots = (b.count + jnp.arange(config.num_envs)) % capacity
        buffer = Buffer(b.obs.at[slots].set(obs), b.prev_actions.at[slots].set(prev), b.rewards.at[slots].set(rewards),
                        b.lengths.at[slots].set(lengths), b.count + config.num_envs)
        return state._replace(buffer=buffer), {"surrogate_reward": rewards[:, 1:].mean()}

    def iteration(state: State, key):
        """Collect `num_envs` episodes, then `updates_per_episode` updates; metrics are update means."""
        k_collect, k_update = jax.random.split(jax.random.fold_in(key, state.iteration))
        state, c_metrics = collect(state, k_collect)
        state, metrics = jax.lax.scan(update, state, jax.random.split(k_update, config.updates_per_episode))
        metrics = {**jax.tree.map(jnp.mean, metrics), **c_metrics}
        return state._replace(iteration=state.iteration + 1), metrics

    def evaluate(state: State, key):
        return evaluation.evaluate_controller(env, controller(state, False), key, config.eval_episodes)

    return AIMEv2(init, iteration, evaluate, update, model_loss)
