"""Configs, the run launcher, the host training loop and benchmarks.

Importing this package sets `--xla_cpu_enable_concurrency_optimized_scheduler=false`
in XLA_FLAGS (unless XLA_FLAGS already names that flag). With XLA:CPU's default
scheduler, some of our vmapped programs deadlock: every thread parks and
`block_until_ready` waits forever at 0% CPU. Seen here with jax 0.10.2: the
initialisation of SAC with its random prefill, 3 vmapped seeds on PendulumSwingup,
hung in 8 runs of 10; with this flag it finished in 7 of 7. Turning off
multithreaded Eigen (the fix PyAutoFit issue 1528 reports for a similar wedge) did
not help here. The flag costs about 5% of SAC's update rate on a 2-core CPU and
concerns only the CPU backend. Library users who call the agents from their own
code on a CPU may want the same setting.
"""

import os

_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
if "xla_cpu_enable_concurrency_optimized_scheduler" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _FLAG).strip()
