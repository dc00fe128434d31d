"""ADS and its ILfO baselines on the DrQ-v2-style DDPG backbone (`algos.ddpg`), on states.

One training iteration plays one whole episode in each of the `num_envs` vmapped
environments (reset, then `T` = `spec.max_episode_steps` steps of the noisy actor),
replaces the environment's reward by the imitation reward of each finished episode,
appends the episodes to the replay buffer and makes `replay_ratio * T * num_envs`
DDPG updates. The imitation reward needs the whole episode, so, as in the ADS code,
updates only ever see finished episodes; the ADS code also updates while an episode
runs (every second step), which here happens between episodes instead.

`config.reward` picks the imitation reward:
  - "ot": the optimal-transport proxy reward against the closest demonstration
    (`algos.ads.ot_reward`), with the ADS code's automatic scale set once from the
    first (random) episodes;
  - "gaifo": the logit of a discriminator on (s, s') pairs (`algos.ads.gaifo`), trained
    once per agent update on demonstration and replay transitions;
  - "env": the task's own reward, no imitation: an oracle that tells whether the same
    learner solves the task at all within the budget.

`config.discount_schedule` picks the discount:
  - "ads": gamma = alpha^(1/p) from the progress p of the progress recogniser
    (`algos.ads.progress`), which only rises. p is updated after every evaluation
    round from deterministic episodes, as in the ADS code;
  - "fixed": `config.gamma` throughout (the paper's main baseline with "ot").

The discount lives in the agent's hyperparameters (`agent.hp["gamma"]`), a traced
leaf, so a changing discount never recompiles. Every `eval_every_steps` agent steps (the
ADS code: `eval_every_frames` 10,000 at action repeat 2, including step 0) a
deterministic episode per environment is evaluated (true return and, where the task
reports it, success at the last step); ADS's progress update reads the same episodes.

Demonstrations are observation-only episodes of the task's full length, as
`envs.datasets` stores them: obs [num_demos, T + 1, D]. A reward for the step t -> t+1
is computed from the observation after it, as in the ADS code.

    learner = agent.make_learner(agent.default_config(), env, demos)
    carry, metrics = jax.jit(agent.make_train(config, env, demos))(key)
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
from flax import struct

from algos import ddpg
from algos.common import hparams as hp_lib
from algos.common import loop, offpolicy, replay
from algos.ads import gaifo, ot_reward, progress
from envs import datasets
from envs.core import Environment, EnvSpec
from envs.rollout import Transition, random_policy, rollout_from

REWARDS = ("ot", "gaifo", "env")
SCHEDULES = ("ads", "fixed")


def default_config() -> ml_collections.ConfigDict:
    """The ADS code's settings (`cfgs/config.yaml`, `cfgs/agent/ot.yaml`, `cfgs/suite/metaworld.yaml`)."""
    c = ddpg.default_config()
    c.std_init = 0.1  # stddev_schedule: 0.1, the target and actor smoothing std
    c.std_final = 0.1
    c.exploration = "constant"  # the code's `expl_noise`, separate from the smoothing std
    c.explore_std = 0.4  # `expl_noise: 0.4` (cfgs/agent/ot.yaml); 0.1 is what we ran before 2026-12-03
    c.batch_size = 512
    c.replay_capacity = 150_000
    c.learning_starts = 2_000  # num_expl_steps: uniformly random actions first
    c.total_env_steps = 1_000_000  # 2M frames at action repeat 2
    c.demos = ""  # a demonstrations dataset file (envs.datasets), read by make_learner
    c.num_demos = 10  # the first this many of its episodes
    c.reward = "ot"
    c.discount_schedule = "ads"
    c.ot_cost = "cosine"  # the code's `sinkhorn_cosine`, in both of its modes; "euclidean": what we ran before 2026-12-03
    c.ot_features = ()  # observation dimensions the OT cost (and the progress recogniser) compare; () = all
    c.ot_scale = ot_reward.SCALE
    c.auto_scale = True
    c.auto_scale_factor = 10.0
    c.sinkhorn_epsilon = ot_reward.EPSILON
    c.sinkhorn_iterations = ot_reward.ITERATIONS
    c.alpha = progress.ALPHA
    c.threshold = progress.THRESHOLD
    c.progress_start = progress.PROGRESS_START
    c.max_progress_delta = progress.MAX_DELTA
    c.eval_every_steps = 5_000  # agent steps between evaluations (and progress updates); the code's cadence
    # an evaluation episode succeeds when the task's success flag is up at its last step (0), or on at least
    # this many of its steps: the code's Meta-World rule is 4 (`IL/train.py`: `np.sum(path) > 3`)
    c.success_steps = 0
    c.disc_input = "transition"  # GAIfO: (s, s'); "observation" is the ADS code's variant
    c.disc_hidden_sizes = (1024, 1024)
    c.disc_lr = 1e-4
    c.disc_batch_size = 256  # the code's expert batch
    return c


@struct.dataclass
class Carry:
    agent: ddpg.DDPGState
    buffer: replay.BufferState
    ot_scale: jax.Array  # [] the OT reward's scale (set once with auto_scale)
    discriminator: gaifo.Discriminator | None
    progress: jax.Array  # [] int32, demonstration steps mastered (ADS)
    evaluation: dict  # the last evaluation: {"return", "success", "imitation_return"}
    key: jax.Array


def check_inputs(config, env: Environment, demos: jax.Array) -> int:
    """Refuse what cannot work; returns the episode length T."""
    spec = env.spec
    if spec.num_envs is None:
        raise ValueError("ADS steps a batched environment: envs.make(task, num_envs=N).")
    if config.reward not in REWARDS:
        raise ValueError(f"config.reward must be one of {REWARDS}, got {config.reward!r}")
    if config.discount_schedule not in SCHEDULES:
        raise ValueError(f"config.discount_schedule must be one of {SCHEDULES}, got {config.discount_schedule!r}")
    if config.ot_cost not in ot_reward.COSTS:
        raise ValueError(f"config.ot_cost must be one of {tuple(ot_reward.COSTS)}, got {config.ot_cost!r}")
    bad = [i for i in config.ot_features if not 0 <= int(i) < spec.obs_size]
    if bad:
        raise ValueError(f"config.ot_features {bad} are not observation dimensions of {spec.name} (0..{spec.obs_size - 1})")
    horizon = spec.max_episode_steps
    if demos.ndim != 3 or demos.shape[1] != horizon + 1 or demos.shape[2] != spec.obs_size:
        raise ValueError(
            f"demonstrations must be observations [num_demos, T + 1 = {horizon + 1}, {spec.obs_size}] of full "
            f"{spec.name} episodes (as envs.datasets stores them); got shape {tuple(demos.shape)}")
    if demos.shape[0] < 2 and config.discount_schedule == "ads":
        raise ValueError("ADS's reference scores compare pairs of demonstrations: give at least 2.")
    return horizon


def prefill_rounds(config, num_envs: int, horizon: int) -> int:
    return math.ceil(config.learning_starts / (num_envs * horizon))


def num_iterations(config, num_envs: int) -> int:
    """Training iterations (the launcher's interface: the horizon is the demonstrations')."""
    return rounds(config, num_envs, load_demos(config).shape[1] - 1)


def rounds(config, num_envs: int, horizon: int) -> int:
    """Rounds of `num_envs` episodes after the random prefill within `config.total_env_steps`."""
    per_round = num_envs * horizon
    return max(1, (config.total_env_steps - prefill_rounds(config, num_envs, horizon) * per_round) // per_round)


def updates_per_iteration(config, num_envs: int, horizon: int) -> int:
    """Updates after each round of `num_envs` episodes of `horizon` steps."""
    return offpolicy.updates_per_iteration(config, num_envs, horizon)


def episode_costs(episodes: jax.Array, demos: jax.Array, cost: str) -> jax.Array:
    """Cost matrices of every (episode, demonstration) pair: [N, T, D] x [M, T, D] -> [N * M, T, T]."""
    fn = ot_reward.COSTS[cost]
    costs = jax.vmap(lambda e: jax.vmap(lambda d: fn(e, d))(demos))(episodes)
    return costs.reshape(-1, *costs.shape[2:])


def demo_pair_costs(demos: jax.Array, cost: str) -> jax.Array:
    """[M, T, D] -> [M (M - 1), T, T]: the cost matrices of ordered pairs of distinct demonstrations."""
    m = demos.shape[0]
    pairs = [(i, j) for i in range(m) for j in range(m) if i != j]
    fn = ot_reward.COSTS[cost]
    return jnp.stack([fn(demos[i], demos[j]) for i, j in pairs])


def make_ot_view(config) -> Callable[[jax.Array], jax.Array]:
    """[..., D] -> [..., D']: the observation dimensions that the OT cost and the progress recogniser compare."""
    dims = tuple(int(i) for i in config.ot_features)
    return lambda x: x[..., jnp.asarray(dims)] if dims else x  # all features: no gather


def reference_scores(demo_next: jax.Array) -> jax.Array:
    """The progress recogniser's ref [T] from the demonstrations' compared steps [M, T, D']."""
    return jax.jit(progress.reference_scores)(demo_pair_costs(demo_next, "euclidean"))


HPARAMS = ddpg.HPARAMS
RANGES = {
    **ddpg.RANGES, "num_demos": hp_lib.AT_LEAST_ONE, "ot_features": hp_lib.NON_NEGATIVE, "ot_scale": hp_lib.POSITIVE,
    "auto_scale_factor": hp_lib.POSITIVE, "sinkhorn_epsilon": hp_lib.POSITIVE, "sinkhorn_iterations": hp_lib.AT_LEAST_ONE,
    "alpha": hp_lib.Range(0.0, 1.0, low_open=True, high_open=True), "threshold": hp_lib.UNIT,
    "progress_start": hp_lib.UNIT, "max_progress_delta": hp_lib.AT_LEAST_ONE, "eval_every_steps": hp_lib.AT_LEAST_ONE,
    "success_steps": hp_lib.NON_NEGATIVE,
    "disc_hidden_sizes": hp_lib.AT_LEAST_ONE, "disc_lr": hp_lib.POSITIVE, "disc_batch_size": hp_lib.AT_LEAST_ONE,
}


def load_demos(config, spec: EnvSpec | None = None) -> jax.Array:
    """The first `config.num_demos` demonstrations of the dataset file `config.demos`: obs [M, T + 1, D].

    With `spec`, the dataset must be of the same task, observation shape and action repeat as the
    environment the agent trains on: another task's demonstrations would train and evaluate without
    an error, against the wrong expert.
    """
    if not config.demos:
        raise ValueError("config.demos must name a demonstrations file (python -m experiments.launch.record ...)")
    data = datasets.load(config.demos, kind="demonstrations")
    if spec is not None:
        meta = data.metadata
        found = {"task": meta["task"], "obs_shape": tuple(meta["obs_shape"]), "action_repeat": meta["action_repeat"]}
        wanted = {"task": spec.name, "obs_shape": tuple(spec.obs_shape), "action_repeat": spec.action_repeat}
        differ = {k: (found[k], wanted[k]) for k in found if found[k] != wanted[k]}
        if differ:
            raise datasets.DatasetError(
                f"{config.demos}: the demonstrations do not belong to this run: "
                + ", ".join(f"{k} {f!r} in the dataset, {w!r} in the run" for k, (f, w) in differ.items()))
    if data.num_episodes < config.num_demos:
        raise ValueError(f"{config.demos} holds {data.num_episodes} demonstrations; config.num_demos is {config.num_demos}")
    if not bool(jnp.all(data.lengths == data.episode_steps)):
        raise ValueError(f"{config.demos}: some demonstrations terminated early; OT needs full-length episodes")
    return data.obs[: config.num_demos]


class Setup(NamedTuple):
    """What every function of one ADS learner reads: its config, environment, demonstrations and sizes.

    Built once by `make_setup`; the training functions below take it as their first argument.
    """

    config: ml_collections.ConfigDict
    env: Environment
    horizon: int                 # T, the demonstrations' (and the episodes') length
    buffer: replay.Buffer
    demo_next: jax.Array         # [M, T, D']: what each step's OT reward compares
    demo_pairs: jax.Array        # [M T, F]: GAIfO's expert inputs
    ref_scores: jax.Array        # [T]: the progress recogniser's reference (zeros without ADS)
    num_updates: int             # per iteration
    prefill: int                 # rounds of random episodes before training
    has_success: bool

    @property
    def num_envs(self) -> int:
        return self.env.spec.num_envs

    def ot_view(self, x: jax.Array) -> jax.Array:
        return make_ot_view(self.config)(x)


def make_setup(config, env: Environment, demos: jax.Array) -> Setup:
    """Check the inputs and compute what depends on the demonstrations only (outside the training program)."""
    horizon = check_inputs(config, env, demos)
    num_envs = env.spec.num_envs
    demos = jnp.asarray(demos, jnp.float32)
    demo_next = make_ot_view(config)(demos[:, 1:])
    demo_pairs = gaifo.features(demos[:, :-1], demos[:, 1:], config.disc_input)
    capacity = min(int(config.replay_capacity), int(config.total_env_steps))
    ref = (jax.block_until_ready(reference_scores(demo_next)) if config.discount_schedule == "ads"
           else jnp.zeros((horizon,)))
    return Setup(
        config=config, env=env, horizon=horizon, buffer=replay.make(capacity, num_envs, config.batch_size, config.nstep),
        demo_next=demo_next, demo_pairs=demo_pairs.reshape(-1, demo_pairs.shape[-1]), ref_scores=ref,
        num_updates=updates_per_iteration(config, num_envs, horizon), prefill=prefill_rounds(config, num_envs, horizon),
        has_success="success" in jax.eval_shape(env.reset, jax.random.PRNGKey(0)).metrics,
    )


def scheduled_discount(s: Setup, carry_progress: jax.Array, agent: ddpg.DDPGState) -> jax.Array:
    """gamma = alpha^(1/p) under ADS; the fixed `gamma` otherwise."""
    if s.config.discount_schedule == "ads":
        return progress.discount(carry_progress.astype(jnp.float32), s.config.alpha)
    return agent.hp["gamma"]


def imitation_rewards(s: Setup, carry: Carry, traj: Transition) -> tuple[jax.Array, jax.Array]:
    """Per-step imitation rewards [T, N] of whole episodes, and their unscaled OT totals [N]."""
    c = s.config
    episodes = s.ot_view(traj.next_obs.swapaxes(0, 1))  # [N, T, D']
    if c.reward == "ot":
        out = jax.vmap(lambda e: ot_reward.ot_reward(e, s.demo_next, carry.ot_scale, cost=c.ot_cost,
                                                     epsilon=c.sinkhorn_epsilon,
                                                     iterations=c.sinkhorn_iterations))(episodes)
        return out.rewards.T, out.score
    if c.reward == "env":
        return traj.reward, jnp.zeros((s.num_envs,))
    x = gaifo.features(traj.obs, traj.next_obs, c.disc_input)
    return gaifo.logit(carry.discriminator.params, x, tuple(c.disc_hidden_sizes)), jnp.zeros((s.num_envs,))


def play(s: Setup, reset_key: jax.Array, policy, key: jax.Array) -> Transition:
    """One whole episode in each environment, from a fresh reset: [T, N] leaves."""
    _, traj = rollout_from(s.env, policy, s.env.reset(reset_key), key, s.horizon)
    return traj


def _empty_evaluation(s: Setup) -> dict:
    evaluation = {"return": jnp.zeros(()), "imitation_return": jnp.zeros(())}
    if s.has_success:
        evaluation["success"] = jnp.zeros(())
    return evaluation


def init(s: Setup, key: jax.Array, hparams: Mapping[str, jax.Array] | None = None) -> Carry:
    """A fresh agent, and a replay buffer filled with `prefill` rounds of random episodes (imitation-rewarded)."""
    c, spec = s.config, s.env.spec
    k_agent, k_disc, k_fill, k_run = jax.random.split(key, 4)
    agent = ddpg.init(k_agent, spec, c, hparams)
    disc = gaifo.init(k_disc, s.demo_pairs.shape[-1], tuple(c.disc_hidden_sizes)) if c.reward == "gaifo" else None
    unbatched = jnp.zeros(spec.obs_shape, jnp.float32)
    example = Transition(obs=unbatched, action=jnp.zeros(spec.action_shape), reward=jnp.zeros(()),
                         next_obs=unbatched, done=jnp.zeros(()), truncated=jnp.zeros(()))
    carry = Carry(agent=agent, buffer=replay.init(s.buffer, example), ot_scale=jnp.asarray(c.ot_scale, jnp.float32),
                  discriminator=disc, progress=progress.initial_progress(s.horizon, c.progress_start),
                  evaluation=_empty_evaluation(s), key=k_run)
    explore = random_policy(spec)

    def prefill_round(r, carry):
        # one loop, each round after the last: independent loops of batched LAPACK calls (MJX's
        # Cholesky) can deadlock XLA:CPU's thread pool (docs/notes/xla_cpu_hang.md)
        k_reset, k_roll = jax.random.split(jax.random.fold_in(k_fill, r))
        traj = play(s, k_reset, explore, k_roll)
        if c.reward == "ot" and c.auto_scale:  # the scale is set once, from the first episodes
            _, totals = imitation_rewards(s, carry.replace(ot_scale=jnp.ones(())), traj)
            first = ot_reward.auto_scale(jnp.mean(totals), c.auto_scale_factor)
            carry = carry.replace(ot_scale=jnp.where(r == 0, first, carry.ot_scale))
        rewards, _ = imitation_rewards(s, carry, traj)
        return carry.replace(buffer=replay.add_trajectory(s.buffer, carry.buffer, traj.replace(reward=rewards)))

    carry = jax.lax.fori_loop(0, s.prefill, prefill_round, carry)
    agent = agent.replace(env_steps=agent.env_steps + s.prefill * s.num_envs * s.horizon)
    return carry.replace(agent=agent)


def update(s: Setup, carry: Carry, key: jax.Array) -> tuple[Carry, dict]:
    """One DDPG update on a replay batch (and, with GAIfO, one discriminator update)."""
    c = s.config
    k_sample, k_learn, k_expert, k_disc = jax.random.split(key, 4)
    seq = replay.sample(s.buffer, carry.buffer, k_sample)
    agent, info = ddpg.update(carry.agent, seq, k_learn)
    carry = carry.replace(agent=agent)
    if c.reward == "gaifo":
        n = c.disc_batch_size
        expert = s.demo_pairs[jax.random.randint(k_expert, (n,), 0, s.demo_pairs.shape[0])]
        agent_x = gaifo.features(seq.obs[:n, 0], seq.next_obs[:n, 0], c.disc_input)
        disc, disc_info = gaifo.update(carry.discriminator, expert, agent_x, k_disc, tuple(c.disc_hidden_sizes),
                                       c.disc_lr)
        carry, info = carry.replace(discriminator=disc), {**info, **disc_info}
    return carry, info


def step(s: Setup, carry: Carry) -> tuple[Carry, dict]:
    """One iteration: an episode per environment with the noisy actor, imitation rewards, `num_updates` updates."""
    key, k_reset, k_roll, k_update = jax.random.split(carry.key, 4)
    gamma = scheduled_discount(s, carry.progress, carry.agent)
    agent = carry.agent.replace(hp={**carry.agent.hp, "gamma": gamma})
    traj = play(s, k_reset, lambda obs, k: ddpg.act(agent, obs, k), k_roll)
    rewards, _ = imitation_rewards(s, carry, traj)
    buf = replay.add_trajectory(s.buffer, carry.buffer, traj.replace(reward=rewards))
    agent = agent.replace(env_steps=agent.env_steps + s.num_envs * s.horizon)
    carry = carry.replace(agent=agent, buffer=buf)
    carry, info = jax.lax.scan(lambda cy, k: update(s, cy, k), carry, jax.random.split(k_update, s.num_updates))
    metrics = {
        **jax.tree.map(jnp.mean, info),
        "episode_return": traj.reward.sum(0).mean(),  # the true return of the episodes just played
        "imitation_return": rewards.sum(0).mean(),
        "discount": gamma,
        "progress": carry.progress.astype(jnp.float32),
        **{f"eval_{k}": v for k, v in carry.evaluation.items()},
    }
    return carry.replace(key=key), metrics


def evaluate(s: Setup, carry: Carry, key: jax.Array) -> Carry:
    """Deterministic episodes: the evaluation record and, with ADS, the progress update."""
    c = s.config
    k_reset, k_roll = jax.random.split(key)
    traj = play(s, k_reset, lambda obs, k: ddpg.act(carry.agent, obs, k, deterministic=True), k_roll)
    rewards, _ = imitation_rewards(s, carry, traj)
    evaluation = {"return": traj.reward.sum(0).mean(), "imitation_return": rewards.sum(0).mean()}
    if s.has_success:
        flags = traj.metrics["success"]  # [T, N]
        episode_success = flags[-1] if c.success_steps == 0 else (flags.sum(0) >= c.success_steps)
        evaluation["success"] = episode_success.astype(jnp.float32).mean()
    new_progress = carry.progress
    if c.discount_schedule == "ads":
        costs = episode_costs(s.ot_view(traj.next_obs.swapaxes(0, 1)), s.demo_next, "euclidean")
        new_progress = progress.update_progress(carry.progress, costs, s.ref_scores, c.max_progress_delta,
                                                c.threshold)
    return carry.replace(evaluation=evaluation, progress=new_progress)


def evaluation_due(s: Setup, iteration: jax.Array) -> jax.Array:
    """Whether a multiple of `eval_every_steps` agent steps is reached before this iteration (the first always):
    at most one evaluation per multiple, however the iterations cut the steps."""
    per_iteration, every = s.num_envs * s.horizon, s.config.eval_every_steps
    done = (s.prefill + iteration) * per_iteration  # agent steps before this iteration, the random ones included
    return (iteration == 0) | (jnp.floor_divide(done, every) > jnp.floor_divide(done - per_iteration, every))


def hook(s: Setup, carry: Carry, iteration: jax.Array) -> Carry:
    """Before an iteration that reaches a multiple of `eval_every_steps`: evaluate (and update the progress)."""
    k_eval = jax.random.fold_in(carry.key, 0xE7A1)  # its own stream: evaluation does not shift training's
    return jax.lax.cond(evaluation_due(s, iteration), lambda cy, k: evaluate(s, cy, k), lambda cy, k: cy,
                        carry, k_eval)


def make_learner(config, env: Environment, demos: jax.Array | None = None) -> loop.Learner:
    """The ADS `Learner` (see the module docstring); `demos` [num_demos, T + 1, D], by default
    read from `config.demos`."""
    s = make_setup(config, env, load_demos(config, env.spec) if demos is None else demos)
    per_iteration = s.num_envs * s.horizon
    return loop.Learner(init=functools.partial(init, s), step=functools.partial(step, s),
                        env_steps_per_iteration=per_iteration, prefill_env_steps=s.prefill * per_iteration,
                        hook=functools.partial(hook, s))


def make_train(config, env: Environment, demos: jax.Array | None = None):
    """`train(key, hparams=None) -> (carry, metrics [iterations, ...])`; jit and vmap it over seeds."""
    demos = load_demos(config, env.spec) if demos is None else demos
    horizon = check_inputs(config, env, demos)
    return loop.make_train(make_learner(config, env, demos), rounds(config, env.spec.num_envs, horizon))


def act(agent_state: ddpg.DDPGState, obs: jax.Array, key: jax.Array, deterministic: bool = False) -> jax.Array:
    """The actor of `carry.agent` (a DDPG state), with exploration noise unless `deterministic`."""
    return ddpg.act(agent_state, obs, key, deterministic=deterministic)
