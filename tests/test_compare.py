"""The side-by-side report shared by the paper drivers (experiments.compare)."""

import numpy as np
import pandas as pd
import pytest

from experiments import compare, cip


def _frame(values: np.ndarray) -> pd.DataFrame:
    """values [iterations, members]; NaN where a member finished no episode at that iteration."""
    its, members = values.shape
    return pd.DataFrame({"member": np.tile(np.arange(members), its), "iteration": np.repeat(np.arange(1, its + 1), members),
                         "env_steps": np.repeat(np.arange(1, its + 1) * 10, members), "episode_return": values.ravel()})


def test_summarise_takes_the_last_finite_row_and_the_last_quarter_mean():
    values = np.array([[0.0, 1.0], [2.0, 3.0], [np.nan, np.nan], [4.0, 5.0], [6.0, 9.0],
                       [np.nan, np.nan], [8.0, 7.0], [10.0, 11.0]])
    results, lines = compare.summarise({"a": _frame(values)}, ["episode_return"])
    assert results["a"]["episode_return"]["last"] == [10.0, 11.0]
    # iterations 7 and 8 are past 0.75 * 8 = 6
    assert results["a"]["episode_return"]["last_quarter"] == pytest.approx([9.0, 9.0])
    assert lines[2] == "| a | 10.50 ± 0.50 | 9.00 ± 0.00 |"


def test_cip_report_writes_a_table_with_the_final_evaluations(tmp_path):
    from experiments.configs import cip as cip_config

    c = cip_config.get_config()
    rng = np.random.default_rng(0)
    frames = {}
    for name, evals in {"cip": [30.0, 50.0, 40.0], "sac": [10.0, 20.0, 30.0]}.items():
        frame = _frame(rng.normal(size=(8, 3)))
        frames[name] = frame.assign(causal_state_dims=17.0, max_action_weight=1.0)
        (tmp_path / name).mkdir()
        pd.DataFrame({"member": [2, 0, 1], "eval_return": [evals[2], evals[0], evals[1]]}).to_parquet(
            tmp_path / name / "eval.parquet")
    results = cip.report(c, tmp_path, frames)
    assert results["methods"]["cip"]["final_eval"] == [30.0, 50.0, 40.0]
    table = (tmp_path / "table.md").read_text().splitlines()
    assert table[2].startswith("| method | final eval (per seed) | training episodes, mean (area under the curve) |")
    assert table[5].startswith("| sac | 20.0 ± 8.2 (10, 20, 30) | ")
    assert (tmp_path / "curves.png").stat().st_size > 0 and (tmp_path / "structure.png").stat().st_size > 0


def test_a_finished_run_with_the_same_config_is_read_not_rerun(tmp_path):
    from experiments import run
    from experiments.configs import cip as cip_config

    c = cip_config.get_config()
    done = cip_config.get_config()
    done.agent.parts_on, done.agent.reset_interval, done.workdir = 0.0, 0, str(tmp_path / "sac")
    (tmp_path / "sac").mkdir()
    (tmp_path / "sac" / "config.json").write_text(done.to_json_best_effort())
    _frame(np.ones((4, 3))).to_parquet(tmp_path / "sac" / "metrics.parquet")
    assert not run.is_finished(done, tmp_path / "sac")  # no summary yet: resumable, not finished
    (tmp_path / "sac" / "summary.json").write_text("{}")
    assert run.is_finished(done, tmp_path / "sac")
    other = cip_config.get_config()
    other.workdir = str(tmp_path / "sac")
    assert run.config_differences(other, tmp_path / "sac") == ["agent.parts_on", "agent.reset_interval"]
    # the child would fail on this made-up directory; reading the finished run starts none
    frame = compare.run_method("sac", tmp_path, ["--config=unused"], cip.METHODS["sac"], c)
    assert len(frame) == 12 and set(frame.method) == {"sac"}
