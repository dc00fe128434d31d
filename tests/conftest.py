"""Shared fixtures. Compiled environments and functions are session-scoped so that
each is built and compiled once for the whole suite (JIT dominates CPU test time)."""

from __future__ import annotations

import os
from pathlib import Path


import jax
import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".jax_cache"
# The persistent cache lets subprocesses (the main-job test) reuse compilations.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(CACHE))
jax.config.update("jax_compilation_cache_dir", str(CACHE))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)

import envs  # noqa: E402


@pytest.fixture(scope="session")
def cartpole():
    """CartpoleBalance with a short time limit, unbatched."""
    return envs.make("CartpoleBalance", episode_length=12)


@pytest.fixture(scope="session")
def cartpole_step(cartpole):
    env, _ = cartpole
    return jax.jit(env.reset), jax.jit(env.step)


def kill_mid_run_then_finish(command: list[str], workdir: Path, min_checkpoints: int = 2) -> dict:
    """Start `command --config.workdir=workdir`, SIGKILL it once `min_checkpoints` checkpoints exist, rerun
    the same command to the end; returns the finished run's summary."""
    import json
    import signal
    import subprocess
    import time

    victim = subprocess.Popen([*command, f"--config.workdir={workdir}"], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None:
        saved = [p for p in (workdir / "checkpoints").glob("*") if p.name.isdigit()] if workdir.exists() else []
        if len(saved) >= min_checkpoints:
            break
        time.sleep(0.01)
    assert victim.poll() is None, "the run ended before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (workdir / "summary.json").exists()
    proc = subprocess.run([*command, f"--config.workdir={workdir}"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((workdir / "summary.json").read_text())
