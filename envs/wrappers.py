"""Wrappers: action repeat, episode limit, automatic reset, episode statistics,
vmapping and observation normalisation.

`envs.make` stacks them in this order, innermost first:

    backend -> ActionRepeat -> EpisodeLimit -> [PixelObservation] -> [VmapWrapper]
            -> AutoReset -> EpisodeStatistics -> [NormalizeObservation]

Each wrapper is a pure function of its inputs; the objects hold static settings only.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from envs import normalization
from envs.core import MEMBER_AXIS, Environment, EnvSpec, State, check_action

RESET_MODES = ("full", "cached", "none")


def _where(cond: jax.Array, x, y):
    """`jnp.where` over two pytrees of the same structure, broadcasting `cond` (a scalar)."""
    return jax.tree.map(lambda a, b: jnp.where(cond, a, b), x, y)


def _select(cond: jax.Array, x, y):
    """`_where` for a `cond` of shape (N,) over leaves of shape (N, ...) (or all scalar)."""
    return jax.tree.map(lambda a, b: jnp.where(cond.reshape(cond.shape + (1,) * (jnp.ndim(a) - cond.ndim)), a, b), x, y)


class Wrapper(Environment):
    """Base wrapper. `OWN_INFO` names the `info` keys this wrapper adds; they are
    removed before a state is passed inwards, so every environment sees exactly the
    `info` it produced (and a vmapped inner env never sees unbatched outer keys)."""

    OWN_INFO: tuple[str, ...] = ()

    def __init__(self, env: Environment):
        self.env = env

    def reset(self, key: jax.Array) -> State:
        return self.env.reset(key)

    def step(self, state: State, action: jax.Array) -> State:
        return self.env.step(self._inward(state), action)

    def _inward(self, state: State) -> State:
        return state.replace(info={k: v for k, v in state.info.items() if k not in self.OWN_INFO})

    @property
    def spec(self) -> EnvSpec:
        return self.env.spec

    @property
    def unwrapped(self) -> Environment:
        return self.env.unwrapped


class ActionRepeat(Wrapper):
    """Repeat each action `repeat` times and sum the rewards.

    Once the episode ends inside the repeat, later sub-steps neither change the state
    nor add reward, so a terminal transition is never stepped past.
    """

    def __init__(self, env: Environment, repeat: int):
        super().__init__(env)
        if repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {repeat}")
        self.repeat = int(repeat)

    @property
    def spec(self) -> EnvSpec:
        inner = self.env.spec
        return dataclasses.replace(
            inner, action_repeat=inner.action_repeat * self.repeat, control_dt=inner.control_dt * self.repeat
        )

    def step(self, state: State, action: jax.Array) -> State:
        if self.repeat == 1:
            return self.env.step(state, action)

        def sub_step(carry, _):
            s, total, ended = carry
            nxt = self.env.step(s, action)
            nxt = _where(ended, s, nxt)
            total = total + jnp.where(ended, 0.0, nxt.reward)
            return (nxt, total, jnp.maximum(ended, nxt.done)), None

        first = self.env.step(state, action)
        (last, total, _), _ = jax.lax.scan(
            sub_step, (first, first.reward, first.done), None, length=self.repeat - 1
        )
        return last.replace(reward=total)


class EpisodeLimit(Wrapper):
    """End an episode after `episode_length` base steps, as a truncation.

    `info["steps"]` counts base steps (agent steps x action repeat), as DeepMind Control
    and Brax count them. A step that both terminates and hits the limit is a
    termination, not a truncation.
    """

    OWN_INFO = ("steps",)

    def __init__(self, env: Environment, episode_length: int):
        super().__init__(env)
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        self.episode_length = int(episode_length)

    @property
    def spec(self) -> EnvSpec:
        return dataclasses.replace(self.env.spec, episode_length=self.episode_length)

    def reset(self, key: jax.Array) -> State:
        state = self.env.reset(key)
        return state.replace(info={**state.info, "steps": jnp.zeros((), jnp.int32)})

    def step(self, state: State, action: jax.Array) -> State:
        nxt = self.env.step(self._inward(state), action)
        steps = state.info["steps"] + self.env.spec.action_repeat
        time_up = (steps >= self.episode_length).astype(jnp.float32)
        terminated = nxt.done * (1.0 - nxt.truncated)
        truncated = jnp.maximum(nxt.truncated, time_up) * (1.0 - terminated)
        return nxt.replace(
            done=jnp.maximum(nxt.done, time_up),
            truncated=truncated,
            info={**nxt.info, "steps": steps},
        )


def _any_over_members(flag: jax.Array) -> jax.Array:
    """`flag` of any member of an enclosing `MEMBER_AXIS` vmap (then unbatched); `flag` itself outside one."""
    try:
        return jax.lax.psum(flag.astype(jnp.int32), MEMBER_AXIS) > 0
    except NameError:  # not inside a vmap with that axis name
        return flag


class AutoReset(Wrapper):
    """Start a new episode on the step after which `done` is set.

    The returned state carries the new episode's first observation, but the ended
    step's `reward`, `done` and `truncated`, and `info["final_obs"]` keeps the last
    observation of the ended episode for bootstrapping on truncation.

    Modes:
      - "full": a fresh `reset` with a new key (`info["reset_key"]`), so every episode
        starts from a new random initial state.
      - "cached": return to the first state this environment was reset to (Brax and
        Playground's default). Cheaper, but every episode of an environment starts
        from the same state.
      - "none": no reset; callers handle `done` themselves (evaluation).

    Wrapped around a `VmapWrapper`, a "full" reset is computed only on steps where
    some environment finished (`lax.cond` on the batch), rather than on every step
    as a per-environment select would. Under a further outer `vmap` (seeds) a batched
    predicate would turn the cond into a select that computes a full reset on every
    step: Playground's CheetahRun settles its model for 200 physics steps in `reset`,
    and 2 vmapped seeds of it stepped 60x slower on a CPU that way (12.1 s against 0.19 s
    for 100 steps of 8 environments). So when that vmap is named `MEMBER_AXIS`
    (`jax.vmap(train, axis_name=envs.core.MEMBER_AXIS)`, as the launcher does), the
    predicate is shared by the members (any member's environment ended) and the cond
    stays a branch. Results are the same either way: a member whose environments did not
    end keeps its state, and the reset keys advance every step regardless.
    """

    OWN_INFO = ("final_obs", "reset_key", "first_state")

    def __init__(self, env: Environment, mode: str = "full"):
        super().__init__(env)
        if mode not in RESET_MODES:
            raise ValueError(f"reset_mode must be one of {RESET_MODES}, got {mode!r}")
        self.mode = mode
        self._batched = isinstance(env, VmapWrapper)

    def _reset_each(self, keys: jax.Array) -> State:
        """Reset every environment with its own key ([N, 2] batched, [2] otherwise)."""
        return jax.vmap(self.env.env.reset)(keys) if self._batched else self.env.reset(keys)

    def _split_each(self, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
        split = jax.vmap(jax.random.split) if self._batched else jax.random.split
        both = split(keys)
        return (both[:, 0], both[:, 1]) if self._batched else (both[0], both[1])

    def reset(self, key: jax.Array) -> State:
        key, reset_key = jax.random.split(key)
        state = self.env.reset(key)
        info = {**state.info, "final_obs": state.obs}
        if self.mode == "full":
            info["reset_key"] = jax.random.split(reset_key, self.env.num_envs) if self._batched else reset_key
        state = state.replace(info=info)
        if self.mode == "cached":
            state = state.replace(info={**state.info, "first_state": state})
        return state

    def step(self, state: State, action: jax.Array) -> State:
        if self.mode == "cached":
            first = state.info["first_state"]
        nxt = self.env.step(self._inward(state), action)
        nxt = nxt.replace(info={**nxt.info, "final_obs": nxt.obs})
        if self.mode == "none":
            return nxt
        if self.mode == "full":
            # The key advances every step, whether or not any environment resets.
            keys, subs = self._split_each(state.info["reset_key"])
            nxt = nxt.replace(info={**nxt.info, "reset_key": keys})

        def restart(nxt: State) -> State:
            if self.mode == "full":
                fresh = self._reset_each(subs)
                fresh_info = {**fresh.info, "reset_key": keys}
            else:
                fresh, fresh_info = first, first.info
            # Only the physics and the observation restart; the ended step's outcome stays.
            info = {**nxt.info, **fresh_info, "final_obs": nxt.obs}
            restarted = nxt.replace(inner=fresh.inner, obs=fresh.obs, info=info)
            return _select(nxt.done > 0, restarted, nxt)

        if self.mode == "full" and self._batched:
            return jax.lax.cond(_any_over_members(jnp.any(nxt.done > 0)), restart, lambda n: n, nxt)
        out = restart(nxt)
        if self.mode == "cached":
            out = out.replace(info={**out.info, "first_state": first})
        return out


class EpisodeStatistics(Wrapper):
    """Track the return and length of the running episode and of the last finished one.

    `metrics["episode_return"]` and `metrics["episode_length"]` hold the last finished
    episode's values (0 until one finishes); `metrics["episode_done"]` marks the step
    that finished it, so a learner can average over finished episodes only.
    """

    def reset(self, key: jax.Array) -> State:
        state = self.env.reset(key)
        zero = jnp.zeros_like(state.reward)  # (num_envs,) when batched
        info = {**state.info, "running_return": zero, "running_length": zero}
        metrics = {**state.metrics, "episode_return": zero, "episode_length": zero, "episode_done": zero}
        return state.replace(info=info, metrics=metrics)

    OWN_INFO = ("running_return", "running_length")

    def step(self, state: State, action: jax.Array) -> State:
        nxt = self.env.step(self._inward(state), action)
        ret = state.info["running_return"] + nxt.reward
        length = state.info["running_length"] + 1.0
        done = nxt.done
        metrics = {
            **nxt.metrics,
            "episode_return": jnp.where(done > 0, ret, state.metrics["episode_return"]),
            "episode_length": jnp.where(done > 0, length, state.metrics["episode_length"]),
            "episode_done": done,
        }
        info = {**nxt.info, "running_return": ret * (1.0 - done), "running_length": length * (1.0 - done)}
        return nxt.replace(metrics=metrics, info=info)


class PixelObservation(Wrapper):
    """Replace the observation by rendered frames: uint8 [size, size, 3 x frame_stack], oldest first.

    One frame per agent step (outside the action repeat). A reset fills the stack with its
    first frame, as DrQ-v2 does. The state vector stays in `info["state_obs"]` (and the newest
    frame's depth in `info["depth"]`, float32 [size, size, 1] metres, with a depth renderer).
    `renderer` is an `envs.render.Renderer` of the task's model; it batches under the
    `VmapWrapper` outside (and any vmap over members outside that) into one render call.
    """

    OWN_INFO = ("state_obs", "depth")

    def __init__(self, env: Environment, renderer, frame_stack: int = 1):
        super().__init__(env)
        if isinstance(frame_stack, bool) or not isinstance(frame_stack, int) or frame_stack < 1:
            raise ValueError(f"frame_stack must be an integer >= 1, got {frame_stack!r}")
        self.renderer = renderer
        self.frame_stack = frame_stack

    @property
    def spec(self) -> EnvSpec:
        size = self.renderer.size
        return dataclasses.replace(self.env.spec, obs_shape=(size, size, 3 * self.frame_stack), obs_dtype="uint8")

    def _render(self, state: State):
        from envs.backends import physics_data

        data = physics_data(state.inner)
        out = self.renderer(data.qpos, data.mocap_pos, data.mocap_quat)
        return out if self.renderer.depth else (out, None)

    def _observe(self, state: State, stack: jax.Array | None) -> State:
        frame, depth = self._render(state)
        obs = jnp.tile(frame, (1, 1, self.frame_stack)) if stack is None else jnp.concatenate(
            [stack[..., 3:], frame], axis=-1)
        info = {**state.info, "state_obs": state.obs}
        if depth is not None:
            info["depth"] = depth
        return state.replace(obs=obs, info=info)

    def reset(self, key: jax.Array) -> State:
        return self._observe(self.env.reset(key), None)

    def step(self, state: State, action: jax.Array) -> State:
        inner = self._inward(state).replace(obs=state.info["state_obs"])
        return self._observe(self.env.step(inner, action), state.obs)


class VmapWrapper(Wrapper):
    """Run `num_envs` copies in parallel; `reset` takes one key and splits it."""

    def __init__(self, env: Environment, num_envs: int):
        super().__init__(env)
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)

    @property
    def spec(self) -> EnvSpec:
        return dataclasses.replace(self.env.spec, num_envs=self.num_envs)

    def reset(self, key: jax.Array) -> State:
        return jax.vmap(self.env.reset)(jax.random.split(key, self.num_envs))

    def step(self, state: State, action: jax.Array) -> State:
        action = check_action(self.spec, action)
        return jax.vmap(self.env.step)(state, action)


class NormalizeObservation(Wrapper):
    """Normalise observations by running mean and variance kept in `info["obs_stats"]`.

    The statistics pool every leading (batch) axis, so placed outside `VmapWrapper`
    they are shared by all environments. `info["raw_obs"]` keeps the unnormalised
    observation (`info["raw_final_obs"]` the unnormalised `final_obs`), and
    `info["final_obs"]`, when present, is normalised alike.
    With `update=False` the statistics are frozen (evaluation).
    """

    OWN_INFO = ("obs_stats", "raw_obs", "raw_final_obs")

    def __init__(self, env: Environment, update: bool = True, clip: float = 10.0):
        super().__init__(env)
        self.update = update
        self.clip = clip

    def _apply(self, state: State, stats: normalization.RunningStats) -> State:
        norm = lambda x: normalization.normalize(stats, x, clip=self.clip)  # noqa: E731
        info = {**state.info, "obs_stats": stats, "raw_obs": state.obs}
        if "final_obs" in state.info:
            info["raw_final_obs"] = state.info["final_obs"]
            info["final_obs"] = norm(state.info["final_obs"])
        return state.replace(obs=norm(state.obs), info=info)

    def reset(self, key: jax.Array) -> State:
        state = self.env.reset(key)
        stats = normalization.init(self.spec.obs_shape)
        if self.update:
            stats = normalization.update(stats, state.obs)
        return self._apply(state, stats)

    def step(self, state: State, action: jax.Array) -> State:
        stats = state.info["obs_stats"]
        inner = self._inward(state)
        if "raw_final_obs" in state.info:
            inner = inner.replace(info={**inner.info, "final_obs": state.info["raw_final_obs"]})
        nxt = self.env.step(inner.replace(obs=state.info["raw_obs"]), action)
        if self.update:
            stats = normalization.update(stats, nxt.obs)
        return self._apply(nxt, stats)
