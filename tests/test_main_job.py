"""The README's main job, end to end in a subprocess, at a budget where learning shows: 400 PPO
iterations of 32 envs x 32 steps on 200-step CartpoleBalance episodes (about 10 s of training on
a 2-core CPU, after compiling). A uniformly random policy averages 123 there and its best of 16
episodes reached 172; the trained policy must exceed 190 (it reached 199.7 when measured)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd

from conftest import REPO


def test_main_job_writes_run_directory(tmp_path):
    workdir = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "experiments.launch.run",
        "--config.agent.total_env_steps=409600",  # 400 iterations of 32 envs x 32 steps
        "--config.chunk_iterations=10",
        "--config.eval_episodes=2",
        "--config.env.episode_length=200",
        f"--config.workdir={workdir}",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "step/s" in proc.stderr  # the progress bar
    config = json.loads((workdir / "config.json").read_text())
    assert config["agent"]["total_env_steps"] == 409600 and config["task"] == "CartpoleBalance"
    metrics = pd.read_parquet(workdir / "metrics.parquet")
    assert len(metrics) == 400
    assert metrics["env_steps"].iloc[-1] == 400 * 32 * 32
    assert {"policy_loss", "value_loss", "episode_return"} <= set(metrics.columns)
    # 12,800 steps per environment: the 200-step episodes of all 32 envs end together, 64 times
    assert metrics["episode_return"].notna().sum() == 64
    assert metrics["episode_return"].dropna().between(0, 200).all()
    assert (workdir / "learning_curve.png").stat().st_size > 10_000
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["eval_return_mean"] > 190.0, summary["eval_return_per_member"]  # random: 123, best 172
    assert summary["env_steps"] == 409600
