"""The tutorials: each runs end to end on the real data, makes figures, and converts to a notebook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parents[1] / "tutorials").glob("[0-9][0-9]_*.py"))

# Run a tutorial as a script under the Agg backend (plt.show is then a no-op), then report its figures.
RUNNER = """
import runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
shown = []
plt.show = lambda *a, **k: shown.extend(plt.get_fignums())
runpy.run_path(sys.argv[1], run_name="__main__")
figures = set(shown) | set(plt.get_fignums())
artists = sum(len(ax.get_children()) for n in figures for ax in plt.figure(n).axes)
print(f"TUTORIAL-FIGURES {len(figures)} {artists}")
"""


def test_there_are_seven_tutorials():
    assert [p.name[:2] for p in TUTORIALS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_is_a_notebook_with_learning_objectives(path):
    import jupytext
    import nbformat

    notebook = jupytext.read(path, fmt="py:percent")
    nbformat.validate(notebook)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and "## Learning objectives" in first.source
    kinds = [c.cell_type for c in notebook.cells]
    assert kinds.count("code") >= 4 and kinds.count("markdown") >= 4


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_end_to_end(path, data_dir, tmp_path):
    env = {**os.environ, "SPIKEPOOL_DATA": str(data_dir.resolve()), "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, f"{path.name} failed:\n{out.stdout[-4000:]}\n{out.stderr[-6000:]}"
    figures, artists = (int(x) for x in out.stdout.rsplit("TUTORIAL-FIGURES", 1)[1].split())
    assert figures >= 2 and artists > 20, out.stdout[-2000:]
    assert "Traceback" not in out.stderr
