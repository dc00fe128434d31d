"""DynLin-UCB throughput: runs x rounds per second, JAX (vmapped runs, scanned rounds) against NumPy.

The NumPy peer (`dynlin_numpy.py`) is vectorised over runs and loops over rounds in
Python, the straightforward way to write it; both run the same algorithm on the
paper's synthetic instance. For each number of parallel runs R, one invocation prints
the rates (compilation excluded, best of 3) of JAX round by round (`simulate="rounds"`,
the same random numbers as the paper's protocol), JAX hold by hold (`simulate="holds"`:
each of DynLin-UCB's blocks in one step, the same distribution) and NumPy, and the ratios; and,
as the limit of the per-round simulation, the same environment and bookkeeping with a fixed arm.
The horizon is the same for all three; the holds' gain grows with it, as the
blocks lengthen like log(m) / log(1 / rho).

    python -m experiments.benchmarks.bandit_throughput [--runs 1 100 10000]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from algos.bandits import classic, core, linear
from envs import dlb
from experiments.benchmarks import dynlin_numpy

SYNTHETIC = dict(A=np.diag([0.2, 0, 0.1]), B=np.diag([0.45, 0, 0.1]), C=np.diag([1, 0, 0.1]), D=np.diag([0, 0.5, 0.1]))


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(runs: int, rounds: int, numpy_rounds: int, repeats: int = 3) -> dict:
    instance = dlb.from_state_space(**SYNTHETIC, noise_std=0.01)
    arms = dlb.budget_arms()
    params = linear.params(instance, arms, rounds, lam=1.0)
    keys = jax.random.split(jax.random.PRNGKey(0), runs)

    def simulate(agent, agent_params, how: str = "rounds"):  # run_many returns host arrays: each call waits
        return lambda: core.run_many(agent, agent_params, instance, arms, keys, keys, rounds, 10, simulate=how)

    # The limit: the environment stepped round by round with the regret bookkeeping, the agent a fixed arm.
    fixed_fn = simulate(classic.FIXED, classic.oracle_params(instance, arms))
    rounds_fn, holds_fn = simulate(linear.AGENT, params), simulate(linear.AGENT, params, "holds")
    fixed_fn(), rounds_fn(), holds_fn()  # compile: later calls of the same shapes reuse the compiled programs
    fixed_s, jax_s, holds_s = _best(fixed_fn, repeats), _best(rounds_fn, repeats), _best(holds_fn, repeats)
    np_params = linear.params(instance, arms, numpy_rounds, lam=1.0)

    def numpy_run():  # its noise is drawn in the timing too, as the JAX run draws its own
        rng = np.random.default_rng(0)
        eps = 0.01 * rng.normal(size=(runs, numpy_rounds))
        eta = 0.01 * rng.normal(size=(runs, numpy_rounds, 3))
        return dynlin_numpy.dynlin_ucb(instance, np_params, eps, eta, rng.integers(0, len(arms), size=runs))

    numpy_s = _best(numpy_run, 1)
    jax_rate, holds_rate, numpy_rate = runs * rounds / jax_s, runs * rounds / holds_s, runs * numpy_rounds / numpy_s
    fixed_rate = runs * rounds / fixed_s
    return {"runs": runs, "jax_rounds": rounds, "numpy_rounds": numpy_rounds, "jax_run_rounds_per_s": jax_rate,
            "jax_holds_run_rounds_per_s": holds_rate, "numpy_run_rounds_per_s": numpy_rate,
            "fixed_arm_run_rounds_per_s": fixed_rate, "jax_over_fixed_arm": jax_rate / fixed_rate,
            "jax_over_numpy": jax_rate / numpy_rate, "jax_holds_over_numpy": holds_rate / numpy_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 100, 10_000])
    parser.add_argument("--run-rounds", type=int, default=20_000_000, help="JAX run-rounds per timing")
    args = parser.parse_args()
    print(f"backend: {jax.default_backend()}, devices: {jax.devices()}")
    for runs in args.runs:
        rounds = min(1_000_000, max(10_000, args.run_rounds // runs // 10 * 10))
        numpy_rounds = rounds  # the same horizon: both do less work per round as the blocks lengthen
        print(json.dumps(measure(runs, rounds, numpy_rounds)), flush=True)


if __name__ == "__main__":
    main()
