"""Run a launcher command in a child process, and restart it if it wedges.

On XLA:CPU (jax 0.10.2) some of our programs hang for good at 0% CPU (see
`experiments/__init__.py`): every thread of the process parks, and no signal but
SIGKILL ends it (a second computation dispatched from another thread parks too).
The launcher checkpoints and resumes bit for bit, so the cure that works is to notice
and restart: `run_watched` starts the command, samples the child's CPU time from
`/proc`, and when it has not grown for `stall_s` seconds (compiling and training keep
it growing) kills the child and starts it again, which resumes from its newest
checkpoint. Linux only; elsewhere the child just runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (and its finished children), or None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_watched(args: Sequence[str], stall_s: float = 90.0, max_restarts: int = 10, poll_s: float = 5.0) -> int:
    """Run `python <args>` until it exits; restart it after a stall of `stall_s` seconds. Returns its exit code."""
    for attempt in range(max_restarts + 1):
        child = subprocess.Popen([sys.executable, *args])
        last_cpu, last_change = -1.0, time.monotonic()
        while child.poll() is None:
            time.sleep(poll_s)
            cpu = cpu_seconds(child.pid)
            if cpu is None or cpu > last_cpu + 0.05:
                last_cpu, last_change = (cpu if cpu is not None else last_cpu), time.monotonic()
            elif time.monotonic() - last_change > stall_s:
                print(f"watchdog: no CPU progress for {stall_s:.0f} s; killing and resuming "
                      f"(restart {attempt + 1} of {max_restarts})", file=sys.stderr, flush=True)
                child.send_signal(signal.SIGKILL)
                child.wait()
                break
        else:
            return child.returncode
    raise RuntimeError(f"{' '.join(args)} stalled {max_restarts + 1} times; giving up")
