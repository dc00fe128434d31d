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
