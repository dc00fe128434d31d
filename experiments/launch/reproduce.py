"""What every paper package's `reproduce` command shares: build what is missing, run, publish.

    python -m experiments.<paper>.main reproduce [--tasks=A,B] [--override=agent.total_env_steps=20000 ...]

A report's results come from one command per paper. It trains an expert where one is
missing (`ensure_expert`), records its demonstrations and embodiment data where they are
missing (`ensure_recorded`), runs (or resumes, or reads) every method of the report's
table through the package's own driver, and copies the tables and plots it wrote into
the package's `results/` (`publish`). Everything it builds lives under `experts/`,
`datasets/` and `runs/`, so a second call finds it and does only what is left.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import ml_collections
from absl import flags

from experiments.launch import cli, record, sweep
from experiments.launch import expert as expert_lib


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None,
                extra: Sequence[str] = ()) -> ml_collections.ConfigDict:
    """The config file's `get_config()` with `overrides` ({dotted key: value}) and `extra` ("key=value") applied.

    With `extra`, a run directory given in `overrides` moves under `runs/overridden/`: a run of
    another setting never takes the place of (or is refused by) the report's own run.
    """
    config = cli.load(str(path))
    for key, value in {**dict(overrides or {}), **parse_overrides(extra)}.items():
        sweep.set_value(config, key, value)
    if extra and "workdir" in (overrides or {}) and "workdir" in config:
        config.workdir = str(Path("runs") / "overridden" / Path(config.workdir).relative_to("runs"))
    return config


def parse_overrides(specs: Sequence[str]) -> dict[str, Any]:
    """["agent.total_env_steps=20000", "num_seeds=1"] -> {dotted key: Python value}."""
    import ast

    out = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep:
            raise ValueError(f"--override {spec!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip()] = value  # a plain string
    return out


def ensure_expert(config_path: str | Path, overrides: Mapping[str, Any], out: str | Path) -> Path:
    """An expert directory at `out`: reused if it holds a finished expert, else trained with the config."""
    out = Path(out)
    if (out / "summary.json").exists() and (out / "agent").exists():
        print(f"expert: reusing {out}")
        return out
    print(f"expert: training {out} from {config_path} {dict(overrides)}")
    return expert_lib.train_expert(load_config(config_path, overrides), out)


def ensure_recorded(expert: str, out_dir: str | Path, demos: int = 0, embodiment: str = "none",
                    embodiment_episodes: int = 0, max_noise: float = 1.0) -> dict[str, Path]:
    """`out_dir/demos.npz` and `out_dir/embodiment_<mode>.npz`, recorded from `expert` where missing."""
    out_dir = Path(out_dir)
    want_demos = demos and not (out_dir / "demos.npz").exists()
    want_embodiment = embodiment != "none" and not (out_dir / f"embodiment_{embodiment}.npz").exists()
    if want_demos or want_embodiment:
        record.record_all(expert, str(out_dir), demos if want_demos else 0,
                          embodiment if want_embodiment else "none", embodiment_episodes, max_noise)
    return {"demos": out_dir / "demos.npz", "embodiment": out_dir / f"embodiment_{embodiment}.npz"}


def results_dir(package_results: str | Path, extra: Sequence[str]) -> Path:
    """Where a reproduction publishes: the package's `results/`, or, when `--override` changed the runs
    (a smaller budget, say), `runs/overridden/<package>/`, so the report's own figures are never replaced
    by those of another setting."""
    package_results = Path(package_results)
    return package_results if not extra else Path("runs") / "overridden" / package_results.parent.name


def publish(files: Mapping[str | Path, str | Path]) -> None:
    """Copy {written file: its place under a package's results/}, skipping files a run did not write."""
    for source, target in files.items():
        source, target = Path(source), Path(target)
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            print(f"published {target}")


def define_flags(default_tasks: Sequence[str]) -> tuple[flags.FlagHolder, flags.FlagHolder]:
    """`--tasks` (which rows of the report) and `--override` (KEY=VALUE for every run, e.g. a smaller budget)."""
    tasks = flags.DEFINE_list("tasks", list(default_tasks), "The report's tasks to reproduce.")
    overrides = flags.DEFINE_multi_string("override", [], "KEY=VALUE applied to every run's config (repeatable).")
    return tasks, overrides


def check_tasks(tasks: Sequence[str], known: Mapping[str, Any]) -> list[str]:
    unknown = [t for t in tasks if t not in known]
    if unknown:
        raise ValueError(f"unknown tasks {unknown} for this report; choose from {list(known)}")
    return list(tasks)


def is_reproduce(argv: Sequence[str]) -> bool:
    """Whether the command line asks for `reproduce` (absl leaves positional arguments in argv)."""
    extra = list(argv[1:])
    if extra and extra != ["reproduce"]:
        raise ValueError(f"unexpected arguments {extra}; the only command is 'reproduce'")
    return extra == ["reproduce"]




def command(default_config: str, run: Callable[[ml_collections.ConfigDict], Any],
            reproduce: Callable[[list[str], list[str]], Any] | None = None, tasks: Sequence[str] = (),
            errors: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError)) -> None:
    """A paper package's command line: `--config=FILE [--config.k=v]` runs `run(config)`; `reproduce
    [--tasks=...] [--override=KEY=VALUE]` runs `reproduce(tasks, overrides)` (for a driver with no
    `reproduce`, only the former). `errors` end as `error: ...` lines, not tracebacks (ConfigError and
    DatasetError are ValueErrors)."""
    from absl import app, logging

    config = cli.define_config(default_config)
    flags = define_flags(tasks) if reproduce is not None else None

    def _main(argv: list[str]) -> None:
        logging.set_verbosity(logging.WARNING)
        try:
            if flags is not None and is_reproduce(argv):
                reproduce(flags[0].value, flags[1].value)
            else:
                run(config.value)
        except errors as e:
            raise SystemExit(f"error: {e}") from None

    app.run(_main)
