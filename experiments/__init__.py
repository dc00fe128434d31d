"""Configs, the run launcher, the host training loop and benchmarks.

A note on XLA:CPU hangs (jax 0.10.2, 2-core machines). Our off-policy initialisations
used to hang for good at 0% CPU (SAC 8 of 10 runs, DDPG 4 of 4, ADS and CIP in most).
The cause, from a native backtrace (gdb) of a hung launcher run on 2026-11-26: both
threads of XLA:CPU's intra-op pool sat in `lapack_sgeqrf_ffi` -> `ParallelBatchMap` ->
`BlockingCounter::Wait`. A batched LAPACK kernel splits its batch over that same pool
and waits for the pieces; two of them running at once (the QR decompositions of a
vmapped orthogonal initialisation, one per layer) each hold one of the two threads and
wait for work that no thread is left to run. `algos.networks.orthogonal` now builds the
orthogonal matrices without LAPACK; with it, the vmapped initialisations of the SAC,
DDPG and ADS PendulumSwingup configs ran 4 of 4 times each under XLA's default
scheduler, and the same programs with `jax.nn.initializers.orthogonal` hung in 2 of 2,
1 of 1 and 1 of 1 (`--xla_cpu_enable_concurrency_optimized_scheduler=false`, which
this package used to set, only made the hang rarer).

The same mechanism can in principle still bite wherever two batched LAPACK calls are
independent in one program, e.g. MJX's Cholesky factorisation in two environment loops
that do not depend on each other; keep such loops in sequence (as `algos.ads` does).
`experiments.watchdog` stays as the safety net: it restarts a launcher child whose CPU
time stops growing, and the launcher resumes from its checkpoint bit for bit.
"""
