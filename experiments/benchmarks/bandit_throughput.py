"""DynLin-UCB throughput: runs x rounds per second, JAX (vmapped runs, scanned rounds) against NumPy.

The NumPy peer (`dynlin_numpy.py`) is vectorised over runs and loops over rounds in
Python, the straightforward way to write it; both run the same algorithm on the
paper's synthetic instance. For each number of parallel runs R, one invocation prints
the rates (compilation excluded, best of 3) of JAX round by round (`simulate="rounds"`,
the same random numbers as the paper's protocol), JAX hold by hold (`simulate="holds"`:
each of DynLin-UCB's blocks in one step, the same distribution) and NumPy, and the ratios.
The horizon is the same for all three; the holds' gain grows with it, as the
blocks lengthen like log(m) / log(1 / rho).

    python -m experiments.benchmarks.bandit_throughput [--runs 1 100 10000]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from algos.bandits import core, linear
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
    with jax.enable_x64(True):
        ref = jnp.asarray(arms, float)
        fn = jax.jit(jax.vmap(lambda ke, ka: core.run(linear.AGENT, params, instance, ref, ke, ka, rounds, 10)))
        jax.block_until_ready(fn(keys, keys))  # compile
        jax_s = _best(lambda: jax.block_until_ready(fn(keys, keys)), repeats)
    holds = lambda: core.run_many(linear.AGENT, params, instance, arms, keys, keys, rounds, 10,  # noqa: E731
                                  simulate="holds")
    holds()  # compile (run_many returns host arrays, so each call waits for its result)
    holds_s = _best(holds, repeats)
    np_params = linear.params(instance, arms, numpy_rounds, lam=1.0)

    def numpy_run():  # its noise is drawn in the timing too, as the JAX run draws its own
        rng = np.random.default_rng(0)
        eps = 0.01 * rng.normal(size=(runs, numpy_rounds))
        eta = 0.01 * rng.normal(size=(runs, numpy_rounds, 3))
        return dynlin_numpy.dynlin_ucb(instance, np_params, eps, eta, rng.integers(0, len(arms), size=runs))

    numpy_s = _best(numpy_run, 1)
    jax_rate, holds_rate, numpy_rate = runs * rounds / jax_s, runs * rounds / holds_s, runs * numpy_rounds / numpy_s
    return {"runs": runs, "jax_rounds": rounds, "numpy_rounds": numpy_rounds, "jax_run_rounds_per_s": jax_rate,
            "jax_holds_run_rounds_per_s": holds_rate, "numpy_run_rounds_per_s": numpy_rate,
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
