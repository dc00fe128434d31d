"""Record datasets from a saved expert: observation-only demonstrations and embodiment data.

    python -m experiments.launch.record --expert=experts/CartpoleBalance --demos=10 \\
        --embodiment=random --embodiment_episodes=50 --out=datasets/CartpoleBalance

`--expert=scripted:<task>` uses a task's scripted expert instead of a trained one
(`SCRIPTED`: PointPush's and PointPushAround's reach-then-push controllers).

writes `demos.npz` (kind "demonstrations": observations, with the expert's
actions and rewards kept apart as oracle data) and `embodiment_<mode>.npz` (kind
"embodiment": observations and actions). Embodiment modes:

- `random`: uniformly random actions;
- `mixed`: exploratory play, the expert's action plus Gaussian noise whose
  standard deviation is drawn per episode uniformly from [0, `--max_noise`], so
  the data spans near-expert to near-random behaviour.

With `--pixels=64` both are recorded from pixels: uint8 frames of the papers' camera (or
`--camera`), one frame per step (no stack; a learner stacks them), while the expert acts
on the state behind them.

The format and the loader are in `envs.datasets`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
from absl import app, flags

import envs
from envs import datasets, push
from envs.rollout import PolicyFn, observation, random_policy, state_observation
from experiments.launch import expert as expert_lib

SCRIPTED = push.SCRIPTED_EXPERTS


class _Scripted(NamedTuple):
    task: str
    algo: str = "scripted"

    def make_env(self, **overrides):
        return envs.make(self.task, **{"reset_mode": "none", **overrides})

    def policy(self, deterministic: bool = True) -> PolicyFn:
        del deterministic
        return SCRIPTED[self.task]()


def _expert(source: str):
    """A saved expert directory, or `scripted:<task>`."""
    if source.startswith("scripted:"):
        task = source.split(":", 1)[1]
        if task not in SCRIPTED:
            raise ValueError(f"no scripted expert for {task!r}; there are: {sorted(SCRIPTED)}")
        return _Scripted(task)
    return expert_lib.load(source)


def record_all(expert_dir: str, out: str | None, demos: int, embodiment: str, embodiment_episodes: int,
               max_noise: float = 1.0, seed: int = 0, pixels: int = 0,
               camera: str | int | None = None) -> dict[str, Path]:
    """Record and save the datasets; `pixels` > 0 records frames of that size instead of states."""
    expert = _expert(expert_dir)
    env, spec = expert.make_env(**({"obs": "pixels", "size": pixels, "camera": camera} if pixels else {}))
    policy_input = state_observation if pixels else observation
    out_dir = Path(out or f"datasets/{expert.task}")
    k_demo, k_emb = jax.random.split(jax.random.PRNGKey(seed))
    written = {}
    source = {"expert": expert_dir if isinstance(expert, _Scripted) else str(Path(expert_dir).absolute()),
              "seed": seed}
    if demos:
        data = datasets.record(env, expert.policy(deterministic=True), k_demo, demos, "demonstrations",
                               policy_name=f"{expert.algo} expert (deterministic)", extra_metadata=source,
                               policy_input=policy_input)
        written["demos"] = datasets.save(data, out_dir / "demos.npz")
    if embodiment == "random":
        data = datasets.record(env, random_policy(spec), k_emb, embodiment_episodes, "embodiment",
                               policy_name="uniform random", extra_metadata=source)
        written["embodiment"] = datasets.save(data, out_dir / "embodiment_random.npz")
    elif embodiment == "mixed":
        expert_policy = expert.policy(deterministic=True)
        noise_scale = jax.random.uniform(jax.random.fold_in(k_emb, 1), (embodiment_episodes,), maxval=max_noise)

        def noisy(obs, key):  # obs [E, obs_dim] under record's vmap over episodes
            a = expert_policy(obs, key)
            noise = jax.random.normal(key, a.shape) * noise_scale.reshape(-1, *[1] * (a.ndim - 1))
            return jnp.clip(a + noise, spec.action_low, spec.action_high)

        data = datasets.record(env, noisy, k_emb, embodiment_episodes, "embodiment",
                               policy_name=f"expert + N(0, U[0, {max_noise}]) noise",
                               extra_metadata={**source, "noise_std": noise_scale.tolist()},
                               policy_input=policy_input)
        written["embodiment"] = datasets.save(data, out_dir / "embodiment_mixed.npz")
    for kind, path in written.items():
        meta = datasets.load(path).metadata
        returns = jnp.asarray(meta["returns"])
        print(f"{kind}: {path} ({meta['num_episodes']} episodes x {meta['episode_steps']} steps, "
              f"return {float(returns.mean()):.1f} +- {float(returns.std()):.1f})")
    return written


def main() -> None:
    expert_dir = flags.DEFINE_string("expert", None, "Expert directory written by experiments.launch.expert, or scripted:<task>.", required=True)
    out = flags.DEFINE_string("out", None, "Output directory (default datasets/<task>).")
    demos = flags.DEFINE_integer("demos", 10, "Number of demonstrations (0 for none).")
    embodiment = flags.DEFINE_enum("embodiment", "random", ["random", "mixed", "none"], "Embodiment data to record.")
    embodiment_episodes = flags.DEFINE_integer("embodiment_episodes", 50, "Number of embodiment episodes.")
    max_noise = flags.DEFINE_float("max_noise", 1.0, "Largest exploration noise std of the mixed mode.")
    seed = flags.DEFINE_integer("seed", 0, "Seed of the recording.")
    pixels = flags.DEFINE_integer("pixels", 0, "Record frames of this size (0: states).")
    camera = flags.DEFINE_string("camera", None, "Camera name or index for --pixels (default: the papers').")

    def _main(argv: list[str]) -> None:
        del argv
        try:
            record_all(expert_dir.value, out.value, demos.value, embodiment.value, embodiment_episodes.value,
                       max_noise.value, seed.value, pixels.value,
                       int(camera.value) if camera.value and camera.value.isdigit() else camera.value)
        except (ValueError, FileNotFoundError) as e:  # DatasetError, an unknown expert, a bad setting
            raise SystemExit(f"error: {e}") from None

    app.run(_main)


if __name__ == "__main__":
    main()
