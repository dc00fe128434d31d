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

import functools
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from algos.common import evaluation, loop, networks, returns
from algos.common import hparams as hp_lib
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
    # the reference (`train_aime-v2.py`) against what we ran before 2026-12-03 (each a switch):
    c.imagine_from_start = True   # the start state is the first imagined state (R_1 kept, s_0 fitted)
    c.reward_head = "reference"   # "reference": `reward_hidden_sizes`, LayerNorm, swish | "small": 1 x model width, ELU
    c.reward_hidden_sizes = (512, 512)  # the reference's dmlp
    c.imagined_entropy_scale = 0.1  # x the policy's entropy scale, on imagined actions (0: none)
    c.surrogate_gaussian_constant = False  # the reference's log-likelihood drops -0.5 log(2 pi) per dimension
    c.world_model = wm_training.default_config()
    c.imitation = imitation.default_config()
    # AIME's evidence term with AIME-v2's entropy term, -KL(pi || TanhNormal(0, 0.8742)) x 1e-4, mean over (T, B)
    c.imitation.action_prior = "tanh_normal"
    c.imitation.action_prior_scale = 1e-4
    return c


R = hp_lib
RANGES = {
    "reg_ratio": R.UNIT, "gamma": R.UNIT, "lam": R.UNIT, "imagine_horizon": R.AT_LEAST_ONE, "imagine_starts": R.NON_NEGATIVE,
    "value_hidden_sizes": R.AT_LEAST_ONE, "value_lr": R.POSITIVE, "value_tau": R.UNIT, "value_gradient_scale": R.NON_NEGATIVE,
    "batch_size": R.AT_LEAST_ONE, "seq_len": R.Range(2), "num_envs": R.AT_LEAST_ONE, "updates_per_episode": R.AT_LEAST_ONE,
    "num_iterations": R.AT_LEAST_ONE, "eval_every": R.AT_LEAST_ONE, "eval_episodes": R.AT_LEAST_ONE,
    "likelihood_updates": R.AT_LEAST_ONE, "reward_hidden_sizes": R.AT_LEAST_ONE, "imagined_entropy_scale": R.NON_NEGATIVE,
}


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
    likelihood_params: Any    # the surrogate reward's frozen likelihood model (each seed its own)
    iteration: jax.Array


class _Scalar(nn.Module):
    hidden_sizes: tuple[int, ...]
    activation: str = "elu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x):
        return networks.MLP(self.hidden_sizes, 1, self.activation, layer_norm=self.layer_norm)(x)[..., 0]


def reward_head(config) -> _Scalar:
    """The world model's surrogate-reward head: the reference's `dmlp` (2 x 512, LayerNorm, swish, by default), or
    the smaller head we ran before 2026-12-03 (one hidden layer of the model's width, ELU)."""
    if config.reward_head == "reference":
        return _Scalar(tuple(config.reward_hidden_sizes), "swish", layer_norm=True)
    if config.reward_head == "small":
        return _Scalar((config.world_model.model.hidden,))
    raise ValueError(f"reward_head must be 'reference' or 'small', got {config.reward_head!r}")


def _adam(lr, clip):
    return optax.chain(optax.clip_by_global_norm(clip), optax.adam(lr))


class Setup(NamedTuple):
    """What every function of the agent reads: its config, environment, models, data and sizes (`make_setup`)."""

    config: ml_collections.ConfigDict
    env: Environment
    model: Any                # the RSSM (phase 1's)
    likelihood_model: Any     # the action-free RSSM of the surrogate reward
    embodiment: sequences.Sequences
    demos: sequences.Sequences  # observations only
    capacity: int             # online episodes kept
    n_reg: int                # windows per batch from the embodiment data (the regulariser)
    n_online: int
    reward_head: _Scalar
    value_net: _Scalar
    model_tx: optax.GradientTransformation
    value_tx: optax.GradientTransformation
    policy_tx: optax.GradientTransformation

    @property
    def low(self) -> float:
        return float(self.env.spec.action_low)

    @property
    def high(self) -> float:
        return float(self.env.spec.action_high)


def make_setup(config: ml_collections.ConfigDict, env: Environment, model, likelihood_model,
               embodiment: sequences.Sequences, demos: sequences.Sequences) -> Setup:
    imitation.check_config(config.imitation)
    n_reg = int(round(config.batch_size * config.reg_ratio)) if config.regulariser else 0
    return Setup(
        config=config, env=env, model=model, likelihood_model=likelihood_model, embodiment=embodiment, demos=demos,
        capacity=config.num_envs * config.num_iterations, n_reg=n_reg, n_online=config.batch_size - n_reg,
        reward_head=reward_head(config), value_net=_Scalar(tuple(config.value_hidden_sizes)),
        model_tx=_adam(config.world_model.lr, config.world_model.grad_clip),
        value_tx=_adam(config.value_lr, config.imitation.grad_clip), policy_tx=imitation.optimizer(config.imitation),
    )


def init(s: Setup, key: jax.Array, wm_params, policy_params, likelihood_params) -> State:
    """AIME's world model and policy, a fresh reward head and value network, an empty online buffer."""
    k_reward, k_value = jax.random.split(key)
    feat = jnp.zeros((1, s.model.feature_dim))
    model_params = {"rssm": wm_params, "reward": s.reward_head.init(k_reward, feat)}
    value_params = s.value_net.init(k_value, feat)
    steps, capacity = s.env.spec.max_episode_steps, s.capacity
    buffer = Buffer(jnp.zeros((capacity, steps + 1, *s.demos.obs.shape[2:])),
                    jnp.zeros((capacity, steps + 1, s.model.action_dim)), jnp.zeros((capacity, steps + 1)),
                    jnp.zeros((capacity,), jnp.int32), jnp.zeros((), jnp.int32))
    policy = imitation.PolicyState(policy_params, s.policy_tx.init(policy_params), jnp.zeros((), jnp.int32))
    return State(model_params, s.model_tx.init(model_params), policy, value_params, value_params,
                 s.value_tx.init(value_params), buffer, likelihood_params, jnp.zeros((), jnp.int32))


def model_loss(s: Setup, params, obs, prev_actions, mask, rewards, reward_mask, key):
    """The ELBO of windows [T, B, ...] and, with the surrogate reward, the reward head's NLL on the online ones."""
    c, wm_c = s.config, s.config.world_model
    filtered = sequence.observe(s.model, params["rssm"], obs, prev_actions, key)
    loss, metrics = sequence.elbo(s.model, params["rssm"], obs, filtered, mask, wm_c.free_nats, wm_c.kl_balance,
                                  wm_c.kl_scale)
    if c.surrogate_reward:
        predicted = s.reward_head.apply(params["reward"], filtered.features)
        nll = -Normal(predicted, jnp.ones_like(predicted)).log_prob(rewards)
        reward_loss = (nll * mask * reward_mask).sum() / obs.shape[1]
        loss = loss + reward_loss
        metrics["reward_loss"] = reward_loss
    return loss, (metrics, filtered.features)


def imagine(s: Setup, policy_params, model_params, starts, key):
    """Roll the policy `imagine_horizon` (H) steps in the model from `starts` [N, F].

    Returns the features [H + 1, N, F] of s_0 (the start) .. s_H, as the reference's
    `rollout_with_policy` does (`imagine_from_start=False`: s_1 .. s_H only, [H, N, F], what we
    ran before 2026-12-03), and the action-prior term of each imagined action [H, N].
    """
    actor = imitation.make_actor(s.config.imitation, s.model, policy_params, s.low, s.high)

    def step(state, k):
        k_act, k_model = jax.random.split(k)
        action, term = actor(jax.lax.stop_gradient(s.model.features(state)), k_act)
        state, _ = s.model.imagine_step(model_params["rssm"], state, action, k_model)
        return state, (s.model.features(state), term)

    _, (features, terms) = jax.lax.scan(step, s.model.state_from_features(starts),
                                        jax.random.split(key, s.config.imagine_horizon))
    if s.config.imagine_from_start:
        features = jnp.concatenate([starts[None], features], axis=0)
    return features, terms


def lambda_targets(rewards: jax.Array, values: jax.Array, gamma: float, lam: float) -> tuple[jax.Array, jax.Array]:
    """Lambda-returns R_0 .. R_{K-2} [K - 1, N] from the rewards and values at K imagined states [K, N]
    (bootstrapped from the last value), and the discount weights 1, gamma, .. gamma^{K-1} [K, N]
    (`train_aime-v2.py`: `lambda_return(reward[:-1], value[:-1], discount[:-1], value[-1])`, `cum_discount`).
    DMC tasks do not terminate, so every discount is gamma."""
    discounts = jnp.full_like(rewards, gamma)
    lam_returns = returns.lambda_returns(rewards[:-1], values[:-1], discounts[:-1], values[-1], lam)
    weights = jnp.cumprod(jnp.concatenate([jnp.ones_like(discounts[:1]), discounts[:-1]], 0), axis=0)
    return lam_returns, weights


def value_gradient_objective(lam_returns: jax.Array, weights: jax.Array) -> jax.Array:
    """The actor's loss on imagined returns: -mean(weights[:-2] * R[1:]), the reference's slices. With the start
    state imagined first, these are R_1 .. R_{K-2}, the returns of the states the policy's actions reach."""
    return -jnp.mean(weights[:-2] * lam_returns[1:])


def value_targets(s: Setup, features, model_params, value_target):
    """`lambda_targets` of the predicted surrogate reward and the target values along imagined `features` [K, N, F]."""
    rewards = s.reward_head.apply(model_params["reward"], features)
    values = s.value_net.apply(value_target, features)
    return lambda_targets(rewards, values, s.config.gamma, s.config.lam)


def policy_loss(s: Setup, policy_params, model_params, value_target, demo_obs, demo_mask, starts, key):
    """AIME's loss on demonstration windows, plus (with the surrogate reward) the value-gradient loss."""
    c = s.config
    k_aime, k_img = jax.random.split(key)
    loss, (metrics, _) = imitation.loss(c.imitation, s.model, model_params["rssm"], policy_params, demo_obs,
                                        demo_mask, k_aime, s.low, s.high)
    aux = {"aime_loss": loss}
    if c.surrogate_reward:
        features, terms = imagine(s, policy_params, model_params, starts, k_img)
        lam_returns, weights = value_targets(s, features, model_params, value_target)
        value_gradient = value_gradient_objective(lam_returns, weights)
        # the entropy term on imagined actions, inside the value-gradient loss as the reference has it
        entropy = c.imagined_entropy_scale * imitation.action_prior_loss(c.imitation, terms, jnp.ones_like(terms))
        value_gradient = value_gradient + entropy
        loss = loss + c.value_gradient_scale * value_gradient
        aux.update(value_gradient_loss=value_gradient, imagined_entropy_loss=entropy,
                   features=jax.lax.stop_gradient(features), lam_returns=jax.lax.stop_gradient(lam_returns),
                   weights=weights)
    return loss, (metrics, aux)


def update(s: Setup, state: State, key: jax.Array) -> tuple[State, dict]:
    """One world-model, policy and (with the surrogate reward) value update."""
    c = s.config
    k_reg, k_on, k_demo, k_model, k_pol, k_starts = jax.random.split(key, 6)
    b = state.buffer
    online = sequences.sample_windows(sequences.Sequences(b.obs, b.prev_actions, b.lengths), k_on, s.n_online,
                                      c.seq_len, num_episodes=jnp.minimum(b.count, s.capacity), extras=(b.rewards,))
    parts = [(*online, jnp.ones_like(online[2]))]
    if s.n_reg:
        obs, prev, mask = sequences.sample_windows(s.embodiment, k_reg, s.n_reg, c.seq_len)
        parts.insert(0, (obs, prev, mask, jnp.zeros_like(mask), jnp.zeros_like(mask)))
    obs, prev, mask, rewards, reward_mask = (jnp.concatenate(x, axis=1) for x in zip(*parts))
    (_, (m_metrics, features)), grads = jax.value_and_grad(lambda p: model_loss(
        s, p, obs, prev, mask, rewards, reward_mask, k_model), has_aux=True)(state.model_params)
    updates, model_opt = s.model_tx.update(grads, state.model_opt, state.model_params)
    model_params = optax.apply_updates(state.model_params, updates)

    starts = jax.lax.stop_gradient(features.reshape(-1, features.shape[-1]))
    if c.surrogate_reward and c.imagine_starts:
        starts = starts[jax.random.choice(k_starts, starts.shape[0], (c.imagine_starts,), replace=False)]
    demo_obs, _, demo_mask = sequences.sample_windows(s.demos, k_demo, c.imitation.batch_size, c.imitation.seq_len)
    (p_loss, (p_metrics, aux)), p_grads = jax.value_and_grad(lambda p: policy_loss(
        s, p, model_params, state.value_target, demo_obs, demo_mask, starts, k_pol), has_aux=True)(state.policy.params)
    p_updates, p_opt = s.policy_tx.update(p_grads, state.policy.opt_state, state.policy.params)
    policy = imitation.PolicyState(optax.apply_updates(state.policy.params, p_updates), p_opt, state.policy.step + 1)
    metrics = {"model_loss": m_metrics["loss"], "elbo": m_metrics["elbo"], "policy_loss": p_loss,
               "aime_loss": aux["aime_loss"]}
    value_params, value_target, value_opt = state.value_params, state.value_target, state.value_opt
    if c.surrogate_reward:
        metrics["reward_loss"] = m_metrics["reward_loss"]
        metrics["value_gradient_loss"] = aux["value_gradient_loss"]

        def value_loss(params):
            v = s.value_net.apply(params, aux["features"][:-1])
            return 0.5 * jnp.mean((aux["lam_returns"] - v) ** 2 * aux["weights"][:-1])

        v_loss, v_grads = jax.value_and_grad(value_loss)(value_params)
        v_updates, value_opt = s.value_tx.update(v_grads, value_opt, value_params)
        value_params = optax.apply_updates(value_params, v_updates)
        value_target = jax.tree.map(lambda t, o: (1 - c.value_tau) * t + c.value_tau * o, value_target, value_params)
        metrics["value_loss"] = v_loss
    return state._replace(model_params=model_params, model_opt=model_opt, policy=policy, value_params=value_params,
                          value_target=value_target, value_opt=value_opt), metrics


def controller(s: Setup, state: State, explore: bool):
    """The policy in the environment on the model's filtered state (a sample when `explore`, else its mode)."""
    return imitation.controller(s.config.imitation, s.model, state.model_params["rssm"], state.policy.params,
                                s.low, s.high, explore=explore)


def collect(s: Setup, state: State, key: jax.Array) -> tuple[State, dict]:
    """`num_envs` episodes with the exploring policy, labelled with the surrogate reward, into the buffer."""
    c = s.config
    obs, actions, _, done = evaluation.rollout_controller(s.env, controller(s, state, True), key, c.num_envs)
    obs, actions = jnp.swapaxes(obs, 0, 1), jnp.swapaxes(actions, 0, 1)         # [E, T + 1, ...], [E, T, A]
    ended = done.T.argmax(axis=1)
    lengths = jnp.where(done.T.any(axis=1), ended + 1, s.env.spec.max_episode_steps).astype(jnp.int32)
    prev = jnp.concatenate([jnp.zeros_like(actions[:, :1]), actions], axis=1)
    if c.surrogate_reward:
        rewards = surrogate.reward(s.likelihood_model, state.likelihood_params, jnp.swapaxes(obs, 0, 1),
                                   gaussian_constant=c.surrogate_gaussian_constant).T
    else:
        rewards = jnp.zeros(obs.shape[:2])
    b = state.buffer
    slots = (b.count + jnp.arange(c.num_envs)) % s.capacity
    buffer = Buffer(b.obs.at[slots].set(obs), b.prev_actions.at[slots].set(prev), b.rewards.at[slots].set(rewards),
                    b.lengths.at[slots].set(lengths), b.count + c.num_envs)
    return state._replace(buffer=buffer), {"surrogate_reward": rewards[:, 1:].mean()}


def iteration(s: Setup, state: State, key: jax.Array) -> tuple[State, dict]:
    """Collect `num_envs` episodes, then `updates_per_episode` updates; metrics are update means."""
    k_collect, k_update = jax.random.split(key)
    state, c_metrics = collect(s, state, k_collect)
    state, metrics = jax.lax.scan(lambda st, k: update(s, st, k), state,
                                  jax.random.split(k_update, s.config.updates_per_episode))
    metrics = {**jax.tree.map(jnp.mean, metrics), **c_metrics}
    return state._replace(iteration=state.iteration + 1), metrics


def evaluate(s: Setup, state: State, key: jax.Array) -> jax.Array:
    """Deterministic episodes' returns [eval_episodes]."""
    return evaluation.evaluate_controller(s.env, controller(s, state, False), key, s.config.eval_episodes)


def make_learner(s: Setup) -> loop.Learner:
    """AIME-v2 as a `Learner` for the host loop: `init(key, wm_params, policy_params, likelihood_params)`; one
    iteration is `iteration`; every `eval_every` iterations (first before any interaction: zero-shot AIME) the
    policy is evaluated, and the metrics carry the last `eval_return` with its `evaluated_at` iteration."""
    return loop.updates_learner(
        functools.partial(init, s), functools.partial(iteration, s),
        lambda state, key: {"eval_return": evaluate(s, state, key).mean()}, eval_every=s.config.eval_every,
        env_steps_per_iteration=s.config.num_envs * s.env.spec.max_episode_steps)
