"""Configs, the run launcher, the host training loop and benchmarks.

Importing this package sets `--xla_cpu_enable_concurrency_optimized_scheduler=false`
in XLA_FLAGS (unless XLA_FLAGS already names that flag). With XLA:CPU's default
scheduler, some of our vmapped programs deadlock: every thread parks and
`block_until_ready` waits forever at 0% CPU (a native backtrace on 2026-11-26 shows
every XLA/Eigen worker waiting for work and the caller waiting on the result: a
lost wake-up). Seen here with jax 0.10.2: the
initialisation of SAC with its random prefill, 3 vmapped seeds on PendulumSwingup,
hung in 8 runs of 10; with this flag it finished in 7 of 7. Turning off
multithreaded Eigen (the fix PyAutoFit issue 1528 reports for a similar wedge) did
not help here. The flag costs about 5% of SAC's update rate on a 2-core CPU and
concerns only the CPU backend. It is not a complete cure: the initialisation of the
DDPG config (`experiments/configs/ddpg.py`: 3 seeds, CartpoleBalance, 4,000 prefill
steps) still hung in every try on 2026-11-24, also with async dispatch off in 1 of 3,
with single-threaded Eigen, and once with a single seed while other jobs loaded the
CPU; an unbatched single seed on an idle machine finished (2 of 2). On 2026-11-26 the
initialisation of CIP on CheetahRun (8 envs, 2,000-10,000 prefill steps) deadlocked
with 2, 3 and 6 vmapped members in every launcher run and in standalone runs with 3
and 6 (it finished once with 2), with this flag, with the default scheduler, and
with single-threaded Eigen, and with async dispatch off (6 members) alike. On
2026-11-26 the unbatched initialisation wedged too (ADS on PointPush: 1 of 2 launcher
runs, one member at a time); `py-spy` then shows the caller parked in a dispatch, and a
second thread that dispatches a tiny computation parks as well, so the whole runtime
is wedged, not one lost task. `--xla_cpu_use_xnnpack=false` did not help, and
`--xla_cpu_use_thunk_runtime=false` is no longer supported. Open. What works: the
launcher checkpoints and resumes bit for bit, so `experiments.watchdog` runs a command
in a child process and restarts it when its CPU time stops growing. The launcher also
initialises members one at a time on a CPU (`experiments.loop.init_members`). Library
users who call the agents from their own code on a CPU may want the same setting.
"""

import os

_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
if "xla_cpu_enable_concurrency_optimized_scheduler" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _FLAG).strip()

