"""The side-by-side report shared by the paper drivers (experiments.launch.compare)."""

import numpy as np
import pandas as pd
import pytest

from experiments.backbones import stability
from experiments.cip import main as cip
from experiments.launch import compare


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
    from experiments.cip.configs import cip as cip_config

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
    from experiments.launch import run
    from experiments.cip.configs import cip as cip_config

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


def test_cip_summary_merges_result_files_and_divides_by_sac_mean(tmp_path):
    import json

    from experiments.cip import summary as cip_summary

    def write(name, methods, task="hopper"):
        body = {"task": task, "num_seeds": 2, "env_steps": 1000,
                "methods": {m: {"final_eval": f, "training_mean": t, "episode_return": {}} for m, (f, t) in methods.items()}}
        (tmp_path / f"{name}_results.json").write_text(json.dumps(body))

    write("a", {"sac": ([100.0, 300.0], [10.0, 30.0]), "cip_reward_last": ([50.0, 150.0], [40.0, 20.0])})
    write("b", {"cip_reward_last": ([50.0, 150.0], [40.0, 20.0]), "reward_last_no_augmentation": ([400.0, 0.0], [-20.0, 0.0])})
    tasks = cip_summary.load(tmp_path)
    hopper = tasks["hopper"]
    assert set(hopper["methods"]) == {"sac", "cip_reward_last", "reward_last_no_augmentation"}
    assert cip_summary.ratios(hopper, "cip_reward_last", "final_eval") == pytest.approx([0.25, 0.75])
    assert cip_summary.ratios(hopper, "reward_last_no_augmentation", "training_mean") == pytest.approx([-1.0, 0.0])
    assert cip_summary.rows(tasks) == [("hopper", "SAC", "sac"), ("hopper", "CIP (all parts)", "cip_reward_last"),
                                       ("hopper", "CIP without swaps", "reward_last_no_augmentation")]
    lines = cip_summary.table(tasks)
    assert lines[3] == "| hopper | 1k | CIP (all parts) | `cip_reward_last` | 100.0 ± 50.0 | 0.50 | 30.0 ± 10.0 | 1.50 |"
    cip_summary.plot(tasks, tmp_path / "summary.png")
    assert (tmp_path / "summary.png").stat().st_size > 0

    # the same method with other numbers in a second file is two different runs: refuse to pick one
    write("c", {"sac": ([100.0, 301.0], [10.0, 30.0])})
    with pytest.raises(ValueError, match="hopper/sac"):
        cip_summary.load(tmp_path)


def test_largest_fall_is_measured_from_the_running_best_after_the_level_is_first_reached():
    nan = float("nan")
    # reaches 950 at index 2; best after it 1000, then a fall to 600: 40%; the dip to 100 before is ignored
    at, fall = stability.largest_fall([100, nan, 960, 1000, nan, 600, 990], level=950)
    assert at == 2 and fall == pytest.approx(0.4)
    assert stability.largest_fall([100, 200, nan], level=950) == (None, pytest.approx(nan, nan_ok=True))
    assert stability.largest_fall([950, 960, 970], level=950) == (0, 0.0)
    table = pd.DataFrame({"seed": [0, 1, 2], "reached_at": [1000, None, 2000], "largest_fall": [0.1, nan, 0.3],
                          "final_train_return": [990, 500, 900], "eval_return": [995, 510, 990]})
    assert stability.holds(table).tolist() == [True, False, False]  # fine; evaluates below 900; fell 30%
    assert stability.holds(table.assign(eval_return=[995, 990, 990])).tolist() == [True, True, False]
    assert "1 of 3 seeds hold" in stability.markdown(table, 950, 900, 0.2)
