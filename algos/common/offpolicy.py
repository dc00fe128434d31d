"""The off-policy training loop shared by SAC and DDPG (and the agents built on them).

One iteration steps `num_envs` vmapped environments for `rollout_length` steps with
the agent's exploration policy, appends the steps to the replay buffer, then makes
`updates_per_iteration` gradient updates, each on a fresh batch of sampled
sequences. Before the first iteration, `learning_starts` environment steps of
uniformly random actions fill the buffer (counted in the budget).

An agent passes its functions to `make_learner` explicitly:

    init(key, spec, config, hparams) -> agent_state          (with an `env_steps` leaf)
    act(agent_state, obs, key, deterministic=False) -> action
    update(agent_state, batch, key) -> (agent_state, metrics)   batch: Transition [B, nstep]

and optionally work done on a schedule outside the updates (CIP's causal discovery
and resets), which sees the whole replay buffer:

    make_hook(config, spec, schedule, data) -> hook(agent_state, buffer_state, key, iteration) -> agent_state

`schedule` says how iterations map to environment steps and updates, `data` reads the
buffer (`latest`, `sample`). The hook runs before every iteration's step; see
`algos.common.loop` for why it can branch on `iteration` cheaply.

`ActorCriticState` holds what SAC and DDPG share (actor, critics and their targets, their
optimisers, the numeric hyperparameters and the counters); each agent's state extends it.

The critic's form is config (`add_critic_config`): a scalar or a categorical (C51) value,
an MLP, LayerNorm or residual (SimBa) trunk, and the dtype it computes in. With those and
`num_envs` in the thousands, a large `batch_size` and `updates_per_vector_step`, the same
agents are FastTD3/FastSAC-style massively parallel learners (Seo et al., 2025), and every
agent built on them (CIP on SAC, ADS on DDPG) takes the settings through its config.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from algos.common import distributional, loop, networks, optim, replay
from algos.common import hparams as hp_lib
from algos.common.returns import nstep_return
from envs.core import Environment, EnvSpec, State
from envs.rollout import Transition, random_policy, rollout_from


R = hp_lib
# The ranges of the structural fields every off-policy agent has (see `algos.common.hparams.Range`).
RANGES = {
    "total_env_steps": R.AT_LEAST_ONE, "learning_starts": R.NON_NEGATIVE, "replay_capacity": R.AT_LEAST_ONE,
    "batch_size": R.AT_LEAST_ONE, "nstep": R.AT_LEAST_ONE, "rollout_length": R.AT_LEAST_ONE,
    "replay_ratio": R.POSITIVE, "hidden_sizes": R.AT_LEAST_ONE, "num_critics": R.AT_LEAST_ONE,
    "max_grad_norm": R.NON_NEGATIVE, "actor_lr": R.POSITIVE, "critic_lr": R.POSITIVE, "gamma": R.UNIT,
    "tau": R.UNIT, "num_atoms": R.AT_LEAST_ONE, "v_min": R.ANY, "v_max": R.ANY,
    "updates_per_vector_step": R.NON_NEGATIVE, "weight_decay": R.NON_NEGATIVE,
}
COMPUTE_DTYPES = {"float32": None, "bfloat16": jnp.bfloat16}


# The critic's form and the update count, in every off-policy agent's config; these
# defaults are plain SAC/DDPG (a config saved before they existed reads them from here).
CRITIC_DEFAULTS = {
    "critic_trunk": "mlp",  # "mlp" | "layernorm" (LayerNorm after each hidden layer) | "residual" (SimBa blocks)
    "num_atoms": 1,  # 1: a scalar Q; > 1: a categorical (C51) critic over linspace(v_min, v_max, num_atoms)
    "v_min": -10.0,
    "v_max": 110.0,  # DMC's rewards are in [0, 1]: a value at gamma 0.99 is at most 100
    "compute_dtype": "float32",  # "bfloat16": the networks compute in bfloat16, parameters stay float32
    # > 0: this many gradient updates per step of the vectorised environment (FastTD3's
    # `num_updates`), whatever num_envs is; 0: `replay_ratio` updates per environment step
    "updates_per_vector_step": 0.0,
    # AdamW's decoupled decay of every network's weights (not SAC's temperature); FastTD3 uses 0.1; 0: Adam
    "weight_decay": 0.0,
}


def add_critic_config(c) -> None:
    """Adds `CRITIC_DEFAULTS` to an agent's config."""
    for key, value in CRITIC_DEFAULTS.items():
        c[key] = value


def _critic_setting(config, key: str):
    return config.get(key, CRITIC_DEFAULTS[key])


def compute_dtype(config):
    """The dtype named by `config.compute_dtype` (None: float32)."""
    name = _critic_setting(config, "compute_dtype")
    if name not in COMPUTE_DTYPES:
        raise ValueError(f"config.compute_dtype must be one of {sorted(COMPUTE_DTYPES)}, got {name!r}")
    return COMPUTE_DTYPES[name]


def make_critic(config, feature_dim: int | None = None) -> networks.EnsembleCritic:
    """The critic ensemble `config` describes (see `add_critic_config`)."""
    critic = networks.EnsembleCritic(
        tuple(config.hidden_sizes), config.activation, config.num_critics, feature_dim,
        trunk=_critic_setting(config, "critic_trunk"), num_atoms=int(_critic_setting(config, "num_atoms")),
        v_min=float(_critic_setting(config, "v_min")), v_max=float(_critic_setting(config, "v_max")),
        dtype=compute_dtype(config))
    if critic.distributional:
        distributional.support(critic.v_min, critic.v_max, critic.num_atoms)  # refuses an empty support
    return critic


@struct.dataclass
class ActorCriticState:
    """The fields SAC and DDPG share; their states extend it. Network modules and bounds are static."""

    actor_params: dict
    critic_params: dict
    target_critic_params: dict
    actor_opt: tuple
    critic_opt: tuple
    hp: dict
    env_steps: jax.Array
    updates: jax.Array
    actor: object = struct.field(pytree_node=False)
    critic: object = struct.field(pytree_node=False)
    action_low: float = struct.field(pytree_node=False)
    action_high: float = struct.field(pytree_node=False)
    max_grad_norm: float = struct.field(pytree_node=False)
    weight_decay: float = struct.field(pytree_node=False)

    @property
    def tx(self):
        """The networks' optimiser: Adam, or AdamW where `weight_decay` > 0."""
        return optim.adam(self.max_grad_norm or None, weight_decay=self.weight_decay)


def optimiser(config):
    """The networks' optimiser `config` describes (an agent state's `tx`): Adam, or AdamW where weight_decay > 0."""
    return optim.adam(config.max_grad_norm or None, weight_decay=float(_critic_setting(config, "weight_decay")))


def init_actor_critic(key: jax.Array, spec: EnvSpec, config, actor, critic, hp: dict) -> dict:
    """The `ActorCriticState` fields of fresh `actor` and `critic` modules (targets = the critics), as keywords."""
    k_actor, k_critic = jax.random.split(key)
    obs = jnp.zeros(spec.obs_shape, jnp.float32)
    actor_params = actor.init(k_actor, obs)
    critic_params = critic.init(k_critic, obs, jnp.zeros(spec.action_shape, jnp.float32))
    tx = optimiser(config)
    return dict(actor_params=actor_params, critic_params=critic_params, target_critic_params=critic_params,
                actor_opt=tx.init(actor_params), critic_opt=tx.init(critic_params), hp=hp,
                env_steps=jnp.zeros((), jnp.int32), updates=jnp.zeros((), jnp.int32), actor=actor, critic=critic,
                action_low=float(spec.action_low), action_high=float(spec.action_high),
                max_grad_norm=float(config.max_grad_norm), weight_decay=float(_critic_setting(config, "weight_decay")))


def unit_action(state: ActorCriticState, action: jax.Array) -> jax.Array:
    """Environment action -> the actor's [-1, 1] range."""
    return 2.0 * (action - state.action_low) / (state.action_high - state.action_low) - 1.0


def q_values(state: ActorCriticState, critic_params, obs: jax.Array, action: jax.Array) -> jax.Array:
    """Every critic's Q(s, a) [num_critics, B] (a distributional critic's mean); `action` in [-1, 1]."""
    out = state.critic.apply(critic_params, obs, action)
    if not state.critic.distributional:
        return out
    z = distributional.support(state.critic.v_min, state.critic.v_max, state.critic.num_atoms)
    return distributional.mean(out, z)


@struct.dataclass
class Carry:
    agent: object
    buffer: replay.BufferState
    env_state: State
    key: jax.Array


@struct.dataclass
class NStepBatch:
    """Sampled n-step transitions: the target is `reward + discount * V(next_obs)`. Leaves [B, ...]."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    discount: jax.Array
    next_obs: jax.Array


def nstep_batch(seq: Transition, gamma: jax.Array) -> NStepBatch:
    """Collapse sequences [B, n] into n-step transitions (bootstrapping on time-outs only)."""
    g, discount, last = nstep_return(seq.reward, seq.terminated, seq.done, gamma)
    next_obs = seq.next_obs[jnp.arange(last.shape[0]), last]  # [B, *obs_shape], states or frames
    return NStepBatch(obs=seq.obs[:, 0], action=seq.action[:, 0], reward=g, discount=discount, next_obs=next_obs)


def distributional_critic_loss(critic_params, state: ActorCriticState, batch: NStepBatch, next_action: jax.Array,
                               next_bonus: jax.Array | float = 0.0, reward_scale: jax.Array | float = 1.0
                               ) -> tuple[jax.Array, dict]:
    """C51's loss for every critic: the cross-entropy to the projected target distribution.

    The target moves the atoms z to `reward_scale * r + discount * (z + next_bonus)`
    (`next_bonus` [B]: SAC's -alpha log pi(a'|s'), 0 for DDPG) under the target critic
    whose mean at (s', a') is lowest, sample by sample (FastTD3's clipped double Q), and
    projects them back onto z. `next_action` [B, A] is in [-1, 1].
    """
    critic = state.critic
    z = distributional.support(critic.v_min, critic.v_max, critic.num_atoms)
    next_probs = jax.nn.softmax(critic.apply(state.target_critic_params, batch.next_obs, next_action), axis=-1)
    lowest = jnp.argmin(next_probs @ z, axis=0)  # [B]: the critic with the lowest mean
    probs = jnp.take_along_axis(next_probs, lowest[None, :, None], axis=0)[0]  # [B, N]
    atoms = (reward_scale * batch.reward + batch.discount * next_bonus)[:, None] + batch.discount[:, None] * z
    target = jax.lax.stop_gradient(distributional.project(atoms, probs, z))
    logits = critic.apply(critic_params, batch.obs, unit_action(state, batch.action))  # [C, B, N]
    loss = jnp.mean(jnp.sum(distributional.cross_entropy(logits, target[None]), axis=0))
    return loss, {"critic_loss": loss, "q": distributional.mean(logits, z).mean()}


def check_config(config, num_envs: int | None) -> None:
    if num_envs is None:
        raise ValueError("off-policy agents step a batched environment: envs.make(task, num_envs=N).")
    for name in ("batch_size", "nstep", "rollout_length", "replay_capacity"):
        if int(config[name]) < 1:
            raise ValueError(f"config.{name} must be >= 1, got {config[name]}")


def prefill_iterations(config, num_envs: int) -> int:
    return math.ceil(config.learning_starts / num_envs)


def num_iterations(config, num_envs: int) -> int:
    """Training iterations that, after the random prefill, make up `config.total_env_steps`."""
    remaining = config.total_env_steps - prefill_iterations(config, num_envs) * num_envs
    return max(1, remaining // (num_envs * config.rollout_length))


def updates_per_iteration(config, num_envs: int, steps_per_env: int | None = None) -> int:
    """Gradient updates after an iteration of `steps_per_env` vectorised steps (default `rollout_length`)."""
    steps = config.rollout_length if steps_per_env is None else steps_per_env
    if _critic_setting(config, "updates_per_vector_step"):
        return max(1, round(config.updates_per_vector_step * steps))
    return max(1, round(config.replay_ratio * num_envs * steps))


class Schedule(NamedTuple):
    """How a training iteration maps to environment steps and gradient updates."""

    prefill_env_steps: int
    env_steps_per_iteration: int
    updates_per_iteration: int

    def env_steps_before(self, iteration: jax.Array) -> jax.Array:
        return self.prefill_env_steps + iteration * self.env_steps_per_iteration

    def crosses(self, iteration: jax.Array, every: int, first: int, unit: str = "env_steps") -> jax.Array:
        """Whether a multiple of `every` (>= `first`) of env steps or updates is reached at this iteration.

        Env steps count those done before the iteration (prefill included); updates,
        those made before it. True at most once per multiple.
        """
        if unit == "env_steps":
            done, per = self.env_steps_before(iteration), self.env_steps_per_iteration
            previous = jnp.where(iteration == 0, -1, done - per)
        else:
            done, per = iteration * self.updates_per_iteration, self.updates_per_iteration
            previous = done - per
        return (done >= first) & (jnp.floor_divide(done, every) > jnp.floor_divide(previous, every))


class ReplayAccess(NamedTuple):
    latest: Callable  # (buffer_state, per_env) -> Transition [num_envs * per_env, ...]
    sample: Callable  # (buffer_state, key) -> Transition [batch_size, nstep, ...]


AgentInit = Callable[[jax.Array, EnvSpec, object, Mapping[str, jax.Array] | None], object]
AgentAct = Callable[..., jax.Array]
AgentUpdate = Callable[[object, Transition, jax.Array], tuple[object, dict]]
MakeHook = Callable[[object, EnvSpec, Schedule, ReplayAccess], Callable]


def make_learner(config, env: Environment, *, init: AgentInit, act: AgentAct, update: AgentUpdate,
                 make_hook: MakeHook | None = None) -> loop.Learner:
    """The `Learner` of an off-policy agent given by its functions (see the module docstring)."""
    spec = env.spec
    check_config(config, spec.num_envs)
    num_envs = spec.num_envs
    capacity = min(int(config.replay_capacity), int(config.total_env_steps))
    buffer = replay.make(capacity, num_envs, config.batch_size, config.nstep)
    num_updates = updates_per_iteration(config, num_envs)
    explore = random_policy(spec)

    def add(buf, traj):
        return replay.add_trajectory(buffer, buf, traj)

    def init_carry(key: jax.Array, hparams: Mapping[str, jax.Array] | None = None) -> Carry:
        k_agent, k_env, k_fill, k_run = jax.random.split(key, 4)
        agent_state = init(k_agent, spec, config, hparams)
        env_state = env.reset(k_env)
        unbatched = jax.tree.map(lambda x: x[0], env_state.obs)
        example = Transition(
            obs=unbatched, action=jnp.zeros(spec.action_shape), reward=jnp.zeros(()), next_obs=unbatched,
            done=jnp.zeros(()), truncated=jnp.zeros(()),
        )
        buf = replay.init(buffer, example)
        fill = prefill_iterations(config, num_envs)
        if fill:
            env_state, traj = rollout_from(env, explore, env_state, k_fill, fill)
            buf = add(buf, traj)
            agent_state = agent_state.replace(env_steps=agent_state.env_steps + fill * num_envs)
        return Carry(agent=agent_state, buffer=buf, env_state=env_state, key=k_run)

    def step(carry: Carry) -> tuple[Carry, dict]:
        key, k_roll, k_update = jax.random.split(carry.key, 3)
        policy = lambda obs, k: act(carry.agent, obs, k)  # noqa: E731
        env_state, traj = rollout_from(env, policy, carry.env_state, k_roll, config.rollout_length)
        buf = add(carry.buffer, traj)
        agent_state = carry.agent.replace(env_steps=carry.agent.env_steps + num_envs * config.rollout_length)

        def one_update(a, k):
            k_sample, k_learn = jax.random.split(k)
            return update(a, replay.sample(buffer, buf, k_sample), k_learn)

        agent_state, info = jax.lax.scan(one_update, agent_state, jax.random.split(k_update, num_updates))
        metrics = {**jax.tree.map(jnp.nanmean, info), **loop.episode_metrics(traj), "reward": traj.reward.mean()}
        return Carry(agent=agent_state, buffer=buf, env_state=env_state, key=key), metrics

    hook = None
    if make_hook is not None:
        schedule = Schedule(prefill_iterations(config, num_envs) * num_envs, num_envs * config.rollout_length,
                            num_updates)
        data = ReplayAccess(latest=replay.latest, sample=lambda buf, k: replay.sample(buffer, buf, k))
        agent_hook = make_hook(config, spec, schedule, data)

        def hook(carry: Carry, iteration: jax.Array) -> Carry:
            # a key of its own, so the training stream is the same with or without the hook
            k_hook = jax.random.fold_in(carry.key, 0x600D)
            return carry.replace(agent=agent_hook(carry.agent, carry.buffer, k_hook, iteration))

    return loop.Learner(init=init_carry, step=step, env_steps_per_iteration=num_envs * config.rollout_length,
                        prefill_env_steps=prefill_iterations(config, num_envs) * num_envs, hook=hook)


def make_train(config, env: Environment, **agent_functions) -> Callable:
    """`train(key, hparams=None) -> (carry, metrics [iterations, ...])`; jit and vmap it.

    `agent_functions`: `make_learner`'s `init`, `act`, `update` (and `make_hook`).
    """
    return loop.make_train(make_learner(config, env, **agent_functions), num_iterations(config, env.spec.num_envs))
