"""Where the test suite's time goes, per unit of work that parallel test workers take whole.

Question
--------
CI runs the suite from a fresh clone with empty PyTensor and Numba compile caches on 2 cores, under a hard
limit. Which units of work (a test file, or one tutorial / command-line test: ``tests/conftest.py``'s
``work_unit``) cost the most, how does the serial sum compare with the parallel wall time, and does the
order the workers take them in (``COLD_SECONDS`` in ``tests/conftest.py``) still match what they cost?

Method
------
Reads a JUnit XML report of a run (``pytest --junitxml=FILE``; with ``--run`` this script makes one: the
suite with ``-n WORKERS`` and empty compile caches in temporary folders) and sums each unit's setup, call
and teardown time. Printed: the units by cost (seconds and share), the serial sum against the wall time,
and the ``COLD_SECONDS`` table those figures give (paste it into ``tests/conftest.py`` when the order has
drifted; it only orders the work).

Run from the repository root::

    SPIKEPOOL_DATA=../shared/data python benchmarks/suite_time.py --run            # cold, -n 2
    python benchmarks/suite_time.py report.xml                                      # an existing report
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import work_unit  # noqa: E402  (the unit of work of the parallel scheduler)


def unit_seconds(report: Path) -> dict[str, float]:
    """Seconds per unit of work in a JUnit XML report (setup + call + teardown of its tests)."""
    totals: dict[str, float] = collections.Counter()
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "")
        path = "/".join(module.split(".")) + ".py"
        totals[work_unit(f"{path}::{case.get('name')}")] += float(case.get("time", 0.0))
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def run_cold(workers: int, report: Path) -> float:
    """Run the suite with empty compile caches and ``-n workers``; return its wall time in seconds."""
    with tempfile.TemporaryDirectory() as pytensor_dir, tempfile.TemporaryDirectory() as numba_dir:
        env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={pytensor_dir}", "NUMBA_CACHE_DIR": numba_dir}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"]
        cmd += ["-n", str(workers)] if workers > 1 else []
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=False)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", nargs="?", type=Path, help="a JUnit XML report (omit with --run)")
    parser.add_argument("--run", action="store_true", help="run the suite cold first")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    wall = None
    report = args.report
    if args.run:
        report = report or Path(tempfile.mkdtemp()) / "suite.xml"
        wall = run_cold(args.workers, report)
    if report is None:
        parser.error("give a JUnit XML report, or --run")
    seconds = unit_seconds(report)
    total = sum(seconds.values())
    print(f"{'seconds':>8} {'share':>6}  unit of work")
    for unit, s in list(seconds.items())[: args.top]:
        print(f"{s:8.1f} {s / total:6.1%}  {unit}")
    print(f"\n{len(seconds)} units, {total:.0f} s in all (serial sum)", end="")
    print(f"; wall {wall:.0f} s with -n {args.workers}: {total / wall:.2f}x" if wall else "")
    print("\nCOLD_SECONDS = {")
    for unit, s in seconds.items():
        if s >= 20:
            print(f'    "{unit}": {round(s)},')
    print("}")


if __name__ == "__main__":
    main()
