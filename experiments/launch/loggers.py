"""Optional TensorBoard and Weights & Biases logging, off by default (`config.log`).

Each logger takes a chunk's metric rows and writes, per iteration, the mean over
the run's members against environment steps. W&B runs offline unless
`config.log.wandb_mode` says otherwise; `wandb sync` uploads later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import ml_collections
import pandas as pd


class Logger(Protocol):
    def write(self, iteration: int, rows: pd.DataFrame) -> None: ...
    def close(self) -> None: ...


def _means(rows: pd.DataFrame) -> pd.DataFrame:
    skip = {"member", "seed", "iteration"}
    numeric = [c for c in rows.columns if c not in skip and not c.startswith("agent.")]
    return rows[numeric].groupby("env_steps").mean()


class TensorBoard:
    def __init__(self, workdir: Path):
        from tensorboardX import SummaryWriter

        self._writer = SummaryWriter(str(workdir / "tensorboard"))

    def write(self, iteration: int, rows: pd.DataFrame) -> None:
        for step, values in _means(rows).iterrows():
            for name, value in values.dropna().items():
                self._writer.add_scalar(name, float(value), int(step))
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class WandB:
    def __init__(self, workdir: Path, config: ml_collections.ConfigDict):
        import wandb

        self._run = wandb.init(project=config.log.wandb_project, mode=config.log.wandb_mode, dir=str(workdir),
                               config=config.to_dict(), name=workdir.name, resume="allow", id=workdir.name)

    def write(self, iteration: int, rows: pd.DataFrame) -> None:
        for step, values in _means(rows).iterrows():
            self._run.log({k: float(v) for k, v in values.dropna().items()}, step=int(step))

    def close(self) -> None:
        self._run.finish()


def make_loggers(config: ml_collections.ConfigDict, workdir: Path) -> list[Logger]:
    loggers: list[Logger] = []
    if config.log.tensorboard:
        loggers.append(TensorBoard(workdir))
    if config.log.wandb:
        loggers.append(WandB(workdir, config))
    return loggers
