"""The README stays short, its links resolve, and its python blocks run as pasted."""

from __future__ import annotations

import re

from conftest import REPO

README = (REPO / "README.md").read_text()


def test_readme_is_short_and_its_links_resolve():
    assert len(README.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert links, "the README links every report"
    missing = [link for link in links if not link.startswith("http") and not (REPO / link).exists()]
    assert not missing, missing
    for paper in ("aime", "aime_v2", "ads", "cip", "dlb", "backbones", "benchmarks"):
        assert f"experiments/{paper}/REPORT.md" in links


def test_readme_python_blocks_run_as_pasted(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)  # the blocks write runs/ relative to where they run
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 -- the point of the test
    out = capsys.readouterr().out
    assert "last training return:" in out and "returns by lr:" in out
    assert "episode_return_mean" in out  # the results table of the launcher run
    assert (tmp_path / "runs" / "quickstart" / "summary.json").exists()
