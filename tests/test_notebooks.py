"""The analysis notebook runs end to end (its own tiny sweep), so it never rots."""

from __future__ import annotations

import os
import sys

import nbformat
from nbclient import NotebookClient

from conftest import REPO


def test_analysis_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.delenv("MJXRL_SWEEP_DIR", raising=False)
    # the "python3" kernel spec runs `python` from PATH: make that this interpreter
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    nb = nbformat.read(os.path.join(REPO, "notebooks", "analysis.ipynb"), as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the curves
    tables = [o["data"]["text/plain"] for o in outputs if "text/plain" in o.get("data", {})]
    assert any("episode_return_mean" in t and "ci_lo" in t for t in tables)
    statuses = [o.get("text", "") for o in outputs if o.output_type == "stream"]
    assert any("['done']" in s for s in statuses)
