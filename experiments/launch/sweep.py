"""Sweeps: a grid over config values x seeds, as few compiled programs as the grid allows.

    python -m experiments.launch.sweep --config=experiments/backbones/configs/ppo.py --seeds=3 \\
        --grid='agent.learning_rate=[3e-4,1e-3]' --grid='agent.hidden_sizes=[(64,64),(128,128)]' \\
        --sweep_dir=runs/sweeps/ppo_lr_width [--launcher=inline|local|slurm]

A grid key that is one of the algorithm's numeric hyperparameters (`HPARAMS`:
learning rates, discount, ...) is vmapped: every value x every seed trains inside
one program (one run directory). Any other key (widths, sizes, the task) is
structural: each combination is a separate program, in `<sweep_dir>/<name>/`.

Launchers: `inline` runs the programs one after another in this process; `local`
and `slurm` submit one job per program through submitit (`local` runs them as
local subprocesses, for testing; `slurm` needs a cluster). Every program writes
into the same sweep directory; a failed program is recorded in `sweep.json` with
its error and does not stop or lose the others. Rerunning the command resumes
unfinished programs from their checkpoints and restores finished ones.
Analyse with `experiments.launch.results.load(sweep_dir)`.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import traceback
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import ml_collections
from absl import app, flags, logging

from experiments.launch import cli, validation
from experiments.launch import run as run_lib
from experiments.launch.algorithms import ALGOS


def parse_grid(specs: Sequence[str]) -> dict[str, list]:
    """`["agent.learning_rate=[3e-4,1e-3]", ...]` -> `{"agent.learning_rate": [3e-4, 1e-3]}`."""
    grid: dict[str, list] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        if not sep:
            raise validation.ConfigError(f"--grid {spec!r}: expected KEY=[v1,v2,...]")
        try:
            parsed = ast.literal_eval(values.strip())
        except (ValueError, SyntaxError) as e:
            raise validation.ConfigError(f"--grid {spec!r}: {values!r} is not a Python list literal") from e
        if not isinstance(parsed, list) or not parsed:
            raise validation.ConfigError(f"--grid {spec!r}: the values must be a non-empty list, e.g. [1e-3,3e-4]")
        grid[key.strip()] = parsed
    return grid


def set_value(config: ml_collections.ConfigDict, dotted: str, value: Any) -> None:
    """`config.<dotted> = value`, refusing a key the config lacks; a list becomes a tuple where a tuple is."""
    *path, leaf = dotted.split(".")
    node = config
    for part in path:
        if part not in node:
            raise validation.ConfigError(f"config key {dotted!r}: the config has no section {part!r}")
        node = node[part]
    if leaf not in node:
        raise validation.ConfigError(f"config key {dotted!r} is not in the config; valid keys here: {sorted(node.keys())}")
    if isinstance(node[leaf], tuple) and isinstance(value, list):
        value = tuple(value)
    node[leaf] = value


def _name(assignment: Mapping[str, Any]) -> str:
    """A directory name for a structural combination, e.g. `hidden_sizes-64x64_task-CheetahRun`."""
    show = lambda v: "x".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)  # noqa: E731
    text = "_".join(f"{k.split('.')[-1]}-{show(v)}" for k, v in assignment.items()) or "all"
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).strip("-")


class Program(NamedTuple):
    config: ml_collections.ConfigDict
    built: validation.Built  # what validating it built; an inline launch trains with it


def plan(config: ml_collections.ConfigDict, grid: Mapping[str, list], seeds: int,
         sweep_dir: str | Path) -> list[Program]:
    """One validated program per structural combination, its numeric grid vmapped inside.

    Raises `ConfigError` (before anything compiles) if any program's config is bad.
    """
    algo = ALGOS.get(config.algo)
    if algo is None:
        validation.check_keys(config)  # raises with the list of algorithms
    numeric = {k: v for k, v in grid.items() if k.startswith("agent.") and k.split(".", 1)[1] in algo.hparams}
    structural = {k: v for k, v in grid.items() if k not in numeric}
    programs = []
    for i, combo in enumerate(itertools.product(*structural.values())):
        assignment = dict(zip(structural, combo))
        program = ml_collections.ConfigDict(config.to_dict())
        for key, value in assignment.items():
            set_value(program, key, value)
        for key, values in numeric.items():
            program.grid[key.split(".", 1)[1]] = [float(v) for v in values]
        program.num_seeds = seeds
        program.workdir = str(Path(sweep_dir) / f"{i:03d}_{_name(assignment)}")
        programs.append(Program(program, validation.check(program)))
    return programs


def run_program(config: dict, built: validation.Built | None = None) -> dict:
    """One program of a sweep (what a submitit job runs): train it, return its summary."""
    return run_lib.run(ml_collections.ConfigDict(config), progress=False, built=built).summary


def launch(programs: Sequence[Program], sweep_dir: str | Path, launcher: str = "inline",
           executor_params: Mapping[str, Any] | None = None) -> list[dict]:
    """Run every program; returns (and writes to sweep.json) one status record per program."""
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    records = [{"workdir": p.config.workdir, "status": "pending"} for p in programs]
    if launcher == "inline":
        for record, program in zip(records, programs):
            try:
                record["summary"] = run_program(program.config.to_dict(), program.built)
                record["status"] = "done"
            except Exception as e:  # noqa: BLE001 -- one failed program must not stop the sweep
                record.update(status="failed", error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
            _write(sweep_dir, records)
    elif launcher in ("local", "slurm"):
        import submitit

        executor = submitit.AutoExecutor(folder=str(sweep_dir / "submitit"), cluster=launcher)
        executor.update_parameters(**{"timeout_min": 60, **dict(executor_params or {})})
        with executor.batch():
            jobs = [executor.submit(run_program, p.config.to_dict()) for p in programs]
        for record, job in zip(records, jobs):
            record["job_id"] = job.job_id
        _write(sweep_dir, records)
        for record, job in zip(records, jobs):
            try:
                record["summary"] = job.result()
                record["status"] = "done"
            except Exception as e:  # noqa: BLE001
                record.update(status="failed", error=f"{type(e).__name__}: {str(e)[-2000:]}")
            _write(sweep_dir, records)
    else:
        raise validation.ConfigError(f"unknown launcher {launcher!r}; choose inline, local or slurm")
    return records


def _write(sweep_dir: Path, records: list[dict]) -> None:
    tmp = sweep_dir / "sweep.json.tmp"
    tmp.write_text(json.dumps(records, indent=2, default=str))
    tmp.replace(sweep_dir / "sweep.json")


def sweep(config: ml_collections.ConfigDict, grid: Mapping[str, list], seeds: int, sweep_dir: str | Path,
          launcher: str = "inline", executor_params: Mapping[str, Any] | None = None) -> list[dict]:
    """Plan (validating every program first) and launch a sweep."""
    return launch(plan(config, grid, seeds, sweep_dir), sweep_dir, launcher, executor_params)


def main() -> None:
    config = cli.define_config()
    seeds = flags.DEFINE_integer("seeds", 3, "Seeds per grid point (vmapped).")
    grid = flags.DEFINE_multi_string("grid", [], "KEY=[v1,v2,...]; repeat for more keys.")
    sweep_dir = flags.DEFINE_string("sweep_dir", "", "Directory of the sweep (default runs/sweeps/<algo>_<task>).")
    launcher = flags.DEFINE_enum("launcher", "inline", ["inline", "local", "slurm"], "Where programs run.")
    partition = flags.DEFINE_string("slurm_partition", "", "SLURM partition (launcher=slurm).")
    timeout_min = flags.DEFINE_integer("timeout_min", 60, "Per-job time limit (submitit launchers).")
    gpus = flags.DEFINE_integer("gpus_per_node", 0, "GPUs per job (launcher=slurm).")

    def _main(argv: list[str]) -> None:
        del argv
        logging.set_verbosity(logging.WARNING)
        cfg = config.value
        directory = sweep_dir.value or f"runs/sweeps/{cfg.algo}_{cfg.task}"
        params: dict[str, Any] = {"timeout_min": timeout_min.value}
        if launcher.value == "slurm":
            params.update(slurm_partition=partition.value or None, gpus_per_node=gpus.value)
        try:
            records = sweep(cfg, parse_grid(grid.value), seeds.value, directory, launcher.value, params)
        except validation.ConfigError as e:
            raise SystemExit(f"error: {e}") from None
        failed = [r for r in records if r["status"] != "done"]
        for r in records:
            print(f"{r['status']:>7}  {r['workdir']}" + (f"  {r.get('error', '')}" if r["status"] != "done" else ""))
        print(f"sweep directory: {directory}  ({len(records) - len(failed)} of {len(records)} programs done)")
        if failed:
            raise SystemExit(1)

    app.run(_main)


if __name__ == "__main__":
    main()
