"""Configs, the run launcher, the host training loop and benchmarks.

A note on XLA:CPU hangs (jax 0.10.2, 2-core machines). Our off-policy initialisations
used to hang for good at 0% CPU (SAC 8 of 10 runs, DDPG 4 of 4, ADS and CIP in most).
The cause, from a native backtrace (gdb) of a hung launcher run on 2026-11-26: both
threads of XLA:CPU's intra-op pool sat in `lapack_sgeqrf_ffi` -> `ParallelBatchMap` ->
`BlockingCounter::Wait`. A batched LAPACK kernel splits its batch over that same pool
and waits for the pieces; two of them running at once (the QR decompositions of a
vmapped orthogonal initialisation, one per layer) each hold one of the two threads and
wait for work that no thread is left to run. `algos.common.networks.orthogonal` now builds the
orthogonal matrices without LAPACK; with it, the vmapped initialisations of the SAC,
DDPG and ADS PendulumSwingup configs ran 4 of 4 times each under XLA's default
scheduler, and the same programs with `jax.nn.initializers.orthogonal` hung in 2 of 2,
1 of 1 and 1 of 1 (`--xla_cpu_enable_concurrency_optimized_scheduler=false`, which
this package used to set, only made the hang rarer).

The same mechanism bites wherever two batched LAPACK calls are independent in one
program. It did again in CIP's causal discovery (WalkerWalk, 3 members, at the 30k-step
discovery, 3 watchdog restarts in a row): one pool thread in `lapack_sgesdd_ffi`
(`lstsq`), the other in `lapack_ssyevd_ffi` (`eigvalsh`), both in `ParallelBatchMap`;
`algos.cip.discovery` now does its small linear algebra without LAPACK. What is left
is MJX's Cholesky factorisation in the physics step; keep environment loops that do not
depend on each other in sequence (as `algos.ads` does). Tests check that the lowered
vmapped initialisation and discovery hold no LAPACK call.
`experiments.launch.watchdog` stays as the safety net: it restarts a launcher child whose CPU
time stops growing, and the launcher resumes from its checkpoint bit for bit.
"""
