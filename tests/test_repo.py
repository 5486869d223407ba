"""Repository gates that run with the tests: ruff clean, benchmark script alive, README commands in CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the 'test' extra)")
    result = subprocess.run(
        [ruff, "check", "spikepool", "tests", "benchmarks", "datasets", "docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("bench_counts.py", ["window counts: baseline and spikepool counts agree", "bins: baseline and spikepool"]),
        ("bench_checks.py", ["Fano factors agree with the baseline: True"]),
    ],
)
def test_benchmark_scripts_run_and_agree_with_their_baselines(script, expected):
    result = subprocess.run(
        [sys.executable, f"benchmarks/{script}", "--quick", "--repeats", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert all(text in result.stdout for text in expected) and "MISMATCH" not in result.stdout


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in readme and "test-command" in ci
