"""Every notebook runs end to end, so none rots: the analysis notebook (its own tiny sweep) and each
paper's notebook (reading the paper's committed results)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO

PAPER_NOTEBOOKS = sorted((REPO / "experiments").glob("*/*.ipynb"))


def execute(path: Path, cwd: Path, monkeypatch) -> list[dict]:
    # the "python3" kernel spec runs `python` from PATH: make that this interpreter
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors[0].get("evalue")
    return outputs


def test_analysis_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.delenv("MJXRL_SWEEP_DIR", raising=False)
    outputs = execute(REPO / "notebooks" / "analysis.ipynb", tmp_path, monkeypatch)
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the curves
    tables = [o["data"]["text/plain"] for o in outputs if "text/plain" in o.get("data", {})]
    assert any("episode_return_mean" in t and "ci_lo" in t for t in tables)
    statuses = [o.get("text", "") for o in outputs if o.output_type == "stream"]
    assert any("['done']" in s for s in statuses)


def test_every_paper_package_has_a_notebook():
    packages = {p.parent.name for p in (REPO / "experiments").glob("*/REPORT.md")} - {"benchmarks"}
    assert packages <= {p.parent.name for p in PAPER_NOTEBOOKS}, packages


@pytest.mark.parametrize("path", PAPER_NOTEBOOKS, ids=[p.parent.name for p in PAPER_NOTEBOOKS])
def test_paper_notebook_draws_its_report_from_the_committed_results(path, monkeypatch):
    outputs = execute(path, path.parent, monkeypatch)
    assert any("image/png" in o.get("data", {}) for o in outputs), "the report's figure"
    assert any("text/html" in o.get("data", {}) or "text/markdown" in o.get("data", {}) for o in outputs), \
        "the report's table"
