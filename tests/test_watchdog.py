"""The watchdog restarts a child whose CPU time stops growing, and passes exit codes through."""

from __future__ import annotations

import sys

import pytest

from experiments.launch import watchdog

# first attempt: park without using CPU (as a wedged XLA:CPU runtime does); later ones: exit 3
CHILD = """
import pathlib, sys, time
marker = pathlib.Path(sys.argv[1])
attempt = int(marker.read_text()) + 1 if marker.exists() else 1
marker.write_text(str(attempt))
if attempt == 1:
    time.sleep(600)
sys.exit(3)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_stalled_child_is_killed_and_restarted(tmp_path):
    marker = tmp_path / "attempts"
    code = watchdog.run_watched(["-c", CHILD, str(marker)], stall_s=2.0, poll_s=0.5)
    assert code == 3 and marker.read_text() == "2"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_seconds_of_this_process_grow():
    import os
    before = watchdog.cpu_seconds(os.getpid())
    assert before is not None
    sum(i * i for i in range(3_000_000))
    assert watchdog.cpu_seconds(os.getpid()) > before
