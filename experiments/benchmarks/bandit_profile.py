"""Where a DynLin-UCB run-round's time goes: each part of `algos.bandits.core.advance`'s round
timed alone, as the same vmapped scan over R runs, against the whole round.

    python -m experiments.benchmarks.bandit_profile [--runs 100 10000] [--rounds 2000]

Parts: the agent's key split, the environment's noise (fold_in + n + 1 normals), the
environment step without its noise, the UCB scores and argmax, the regression update,
and the bookkeeping (regrets, arm counts). Each row prints ns per run-round and its share
of the whole round; the parts overlap a little (XLA fuses across them in the whole round),
so the shares need not add up to 100%.
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from algos.bandits import core, linear
from envs import dlb
from experiments.benchmarks import best_time
from experiments.benchmarks.bandit_throughput import SYNTHETIC


def parts(instance, params, arms, rounds: int) -> dict:
    """name -> f(carry) -> scalar: one run's scan of `rounds` rounds doing only that part."""
    ref = jnp.asarray(arms, float)
    best = dlb.optimum(instance, ref)
    values = ref @ dlb.markov_parameter(instance)
    agent = linear.AGENT

    def scan(body, init):
        return jax.lax.scan(lambda c, _: (body(c), None), init, None, length=rounds)[0]

    def whole(c):
        return core.advance(agent, params, instance, ref, c, 1, rounds)[1].regret.sum()

    def key_split(c):
        return scan(lambda k: jax.random.split(k)[0], c.key)

    def noise(c):
        def body(s):
            t, acc = s
            eps, eta = dlb.round_noise(instance, c.env_state.inner.noise_key, t)
            return t + 1, acc + eps + eta.sum()
        return scan(body, (jnp.zeros((), jnp.int32), jnp.zeros(())))[1]

    def env_step_without_noise(c):  # the step's arithmetic by hand (a zero std would still draw the noise)
        def body(h):
            x, mean_x = h
            u = ref[0]
            return instance.A @ x + instance.B @ u, instance.A @ mean_x + instance.B @ u
        x0 = c.env_state.inner.x
        return scan(body, (x0, x0))[0].sum()

    def scores(c):
        def body(s):
            t, acc = s
            state = c.agent_state.replace(W_inv=c.agent_state.W_inv * (1.0 + 1e-9 * t))  # not loop-invariant
            return t + 1, acc + jnp.argmax(linear.ucb_scores(params, state, t)).astype(jnp.int32)
        return scan(body, (jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32)))[1]

    def update(c):
        def body(s):
            t, st = s
            return t + 1, linear.update(params, st, t, t % ref.shape[0], jnp.asarray(0.1) * t)
        return scan(body, (jnp.zeros((), jnp.int32), c.agent_state))[1].h.sum()

    def bookkeeping(c):
        def body(s):
            t, counts, acc = s
            arm = t % ref.shape[0]
            return t + 1, counts.at[arm].add(1), acc + (best.value - 0.1 * t) + (best.value - values[arm])
        _, counts, acc = scan(body, (jnp.zeros((), jnp.int32), c.arm_counts, jnp.zeros(())))
        return acc + counts.sum()

    return {"whole round": whole, "agent key split": key_split, "noise (fold_in + normals)": noise,
            "env step without noise": env_step_without_noise, "UCB scores + argmax (every round)": scores,
            "regression update": update, "regrets + arm counts": bookkeeping}


def measure(runs: int, rounds: int) -> list[dict]:
    instance = dlb.from_state_space(**SYNTHETIC, noise_std=0.01)
    arms = dlb.budget_arms()
    with jax.enable_x64(True):
        params = linear.params(instance, arms, 1_000_000, lam=1.0)
        keys = jax.random.split(jax.random.PRNGKey(0), runs)
        carry = jax.jit(jax.vmap(lambda k: core.start(linear.AGENT, params, instance, jnp.asarray(arms, float), k, k)))(keys)
        out, whole = [], None
        for name, fn in parts(instance, params, arms, rounds).items():
            seconds = best_time(jax.jit(jax.vmap(fn)), carry)
            ns = 1e9 * seconds / (runs * rounds)
            whole = ns if whole is None else whole
            out.append({"runs": runs, "part": name, "ns_per_run_round": round(ns, 2),
                        "share_of_round": round(ns / whole, 3)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    print(f"backend: {jax.default_backend()}, devices: {jax.devices()}")
    for runs in args.runs:
        for row in measure(runs, args.rounds):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
