"""The tutorials: each runs end to end on the real data, makes figures, and converts to a notebook."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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


def _run(path: Path, cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Run the tutorial in its own process group; on timeout kill the whole group (its chain processes too)."""
    cmd = [sys.executable, "-c", RUNNER, str(path)]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"{path.name} ran past {timeout} s:\n{stdout[-2000:]}\n{stderr[-2000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def test_there_are_eleven_tutorials():
    assert [p.name[:2] for p in TUTORIALS] == ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"]


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
    out = _run(path, tmp_path, env, timeout=900)
    assert out.returncode == 0, f"{path.name} failed:\n{out.stdout[-4000:]}\n{out.stderr[-6000:]}"
    figures, artists = (int(x) for x in out.stdout.rsplit("TUTORIAL-FIGURES", 1)[1].split())
    assert figures >= 2 and artists > 20, out.stdout[-2000:]
    assert "Traceback" not in out.stderr


def test_a_tutorial_past_its_time_is_killed_with_its_child_processes(tmp_path):
    # a timed-out tutorial must not leave its sampler's chain processes running
    script = tmp_path / "slow.py"
    pid_file = tmp_path / "child.pid"
    script.write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    with pytest.raises(pytest.fail.Exception, match="slow.py ran past 3 s"):
        _run(script, tmp_path, dict(os.environ), timeout=3)
    child = int(pid_file.read_text())
    for _ in range(50):  # the kill is asynchronous; give it up to 5 s
        if not _running(child):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the tutorial's child process {child} survived the timeout")


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a killed one not yet reaped, a zombie, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")
