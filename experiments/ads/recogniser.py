"""Where ADS's progress recogniser stops, and why: the agent's match score against the one it needs, at every p.

    python -m experiments.ads.recogniser runs/ads_PointPush/ads

Restores the run's newest checkpoint (`experiments.launch.run.load_run`), plays one round of
deterministic episodes per seed from fresh resets, as the progress update does, and
plots, for every progress p, the 90th percentile over (episode, demonstration) pairs
of the LIS match score (`algos.ads.progress`) beside int(threshold x ref[p - 1]), the
score it must reach; p rises while the first is at or above the second. Writes
`<run>/recogniser.png` and prints, per seed, its progress, success and the first p the
agent fails.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app
from matplotlib.figure import Figure

from algos.ads import agent as ads_agent
from algos.ads import progress
from envs.rollout import rollout_from
from experiments.launch.run import load_run


def recogniser_curves(workdir: str | Path, key: jax.Array) -> dict[str, np.ndarray]:
    """Per seed, the agent's 90th-percentile match score at every p ([members, T]), the score needed ([T]),
    each seed's progress ([members]) and success rate ([members], NaN where the task has none)."""
    run = load_run(workdir)
    c, env = run.config, run.env
    horizon = int(env.spec.episode_length)
    view = ads_agent.make_ot_view(c.agent)
    demo_next = view(jnp.asarray(ads_agent.load_demos(c.agent), jnp.float32)[:, 1:])
    ref = ads_agent.reference_scores(demo_next)

    def one_member(agent, k):
        k_reset, k_roll = jax.random.split(k)
        policy = lambda obs, kk: ads_agent.act(agent, obs, kk, deterministic=True)  # noqa: E731
        _, traj = rollout_from(env, policy, env.reset(k_reset), k_roll, horizon)
        costs = ads_agent.episode_costs(view(traj.next_obs.swapaxes(0, 1)), demo_next, "euclidean")
        scores = progress.scores_by_progress(costs).astype(jnp.float32)  # [episodes x demos, T]
        success = traj.metrics["success"][-1].mean() if "success" in traj.metrics else jnp.nan
        return jnp.percentile(scores, progress.AGENT_PERCENTILE, axis=0), success

    members = run.carry.progress.shape[0]
    agent_scores, success = jax.jit(jax.vmap(one_member))(run.carry.agent, jax.random.split(key, members))
    return {"agent": np.asarray(agent_scores), "needed": np.floor(c.agent.threshold * np.asarray(ref)),
            "reference": np.asarray(ref), "progress": np.asarray(run.carry.progress), "success": np.asarray(success)}


def plot(curves: dict[str, np.ndarray], path: Path, title: str) -> None:
    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    p = np.arange(1, curves["needed"].shape[0] + 1)
    ax.plot(p, curves["reference"], color="0.6", label="ref[p-1]: median over demonstration pairs")
    ax.plot(p, curves["needed"], color="k", label="needed: int(0.9 ref[p-1])")
    for m, scores in enumerate(curves["agent"]):
        ax.plot(p, scores, color=f"C{m}", label=f"seed {m}: agent (90th pct), success {curves['success'][m]:.1f}")
        ax.axvline(curves["progress"][m], color=f"C{m}", ls=":", lw=1)
    ax.set_xlabel("progress p (demonstration steps)")
    ax.set_ylabel("LIS match score")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def first_failure(agent: np.ndarray, needed: np.ndarray) -> int | None:
    """The smallest p (1-based) at which the agent's score is below the needed one (None: passes every p)."""
    below = np.nonzero(agent < needed)[0]
    return int(below[0]) + 1 if below.size else None


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise app.UsageError("usage: python -m experiments.ads.recogniser <ADS run directory>")
    workdir = Path(argv[1])
    curves = recogniser_curves(workdir, jax.random.PRNGKey(1))
    plot(curves, workdir / "recogniser.png", f"ADS's progress recogniser at the end of {workdir}")
    for m, scores in enumerate(curves["agent"]):
        print(f"seed {m}: progress {int(curves['progress'][m])}, success {curves['success'][m]:.2f}, "
              f"first p below the needed score: {first_failure(scores, curves['needed'])}")
    print(f"wrote {workdir / 'recogniser.png'}")


if __name__ == "__main__":
    app.run(main)
